"""Issuing and reading alerts through a real hub process."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest
from lxml import etree

from tocsin.cap import to_xml
from tocsin.cap.model import Reference
from tocsin.client import HubError, issue_request, sign_cap
from tocsin.compose import compose_cancel

from .conftest import KYIV, KYIV_OBLAST, LVIV_OBLAST, HubProcess, make_alert

BUCHA_HROMADA_PREFIX = "UA3208"  # Бучанський район


def test_issue_then_read_back_exact_bytes(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    cap = to_xml(make_alert(instruction="Негайно прямуйте до укриття"))
    statement = sign_cap(cap, signer)
    with hub.client() as client:
        body = client.issue_bytes(cap, statement)
        alert_id = body["id"]
        assert body["issuer"] == "demo-air-force"
        assert body["active"] is True
        assert body["targets"][KYIV] == "full"
        got = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}",
                        headers={"Accept": "application/cap+xml"})
        assert got.status_code == 200
        assert got.headers["content-type"].startswith("application/cap+xml")
        assert got.content == cap  # byte for byte what was signed
        raw = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}/cap")
        assert raw.content == cap
        # An issuer's bytes may carry XHTML script inside an XML signature: a browser that
        # renders them as XML runs nothing, with an opaque origin.
        for answer in (got, raw):
            assert answer.headers["content-security-policy"] == "default-src 'none'; sandbox"
        as_json = client.get(f"/api/v1/alerts/{alert_id}")
        assert as_json["statement"] == statement.decode()
        assert as_json["cap"]["info"][0]["instruction"] == "Негайно прямуйте до укриття"
        assert httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}/statement").content == statement


def test_retry_is_idempotent_and_reuse_of_identifier_conflicts(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    alert = make_alert()
    cap = to_xml(alert)
    statement = sign_cap(cap, signer)
    first = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
    again = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["event_id"] == again.json()["event_id"]
    assert again.headers.get("tocsin-replay") == "true"
    # Same sender + identifier, different bytes: refused, nothing changes.
    changed = to_xml(make_alert(identifier=alert.identifier, sender=alert.sender,
                                instruction="different"))
    response = httpx.post(f"{hub.url}/api/v1/alerts",
                          json=issue_request(changed, sign_cap(changed, signer)))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    listed = httpx.get(f"{hub.url}/api/v1/alerts").json()["alerts"]
    assert [a["id"] for a in listed] == [first.json()["id"]]


def test_raw_cap_body_with_statement_header(hub: HubProcess) -> None:
    cap = to_xml(make_alert())
    statement = sign_cap(cap, hub.signer("demo-air-force"))
    response = httpx.post(f"{hub.url}/api/v1/alerts", content=cap, headers={
        "Content-Type": "application/cap+xml",
        "Tocsin-Statement": base64.b64encode(statement).decode(),
    })
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/alerts/{response.json()['id']}"


@pytest.mark.parametrize(
    ("mutate", "status", "code"),
    [
        ("no_statement", 400, "bad_statement"),
        ("garbage_statement", 400, "bad_statement"),
        ("wrong_issuer_key", 401, "forged"),
        ("altered_bytes", 422, "altered"),
        ("outside_jurisdiction", 403, "unauthorised"),
        ("wrong_kind", 403, "unauthorised"),
        ("malformed_xml", 422, "altered"),
        ("not_base64", 400, "bad_request"),
        ("backdated", 422, "stale_alert"),
        ("unknown_region", 403, "unauthorised"),
    ],
)
def test_bad_alerts_are_refused_and_change_nothing(hub: HubProcess, mutate: str, status: int,
                                                   code: str) -> None:
    air_force = hub.signer("demo-air-force")
    cap = to_xml(make_alert())
    statement = sign_cap(cap, air_force)
    body: dict[str, str] = issue_request(cap, statement)
    if mutate == "no_statement":
        del body["statement"]
    elif mutate == "garbage_statement":
        body["statement"] = "not a signed note"
    elif mutate == "wrong_issuer_key":
        # Signed by the embassy key, but claiming to be the Air Force.
        embassy = hub.signer("demo-embassy")
        forged = statement.decode().split("\n\n")[0] + "\n"
        from tocsin.trust.note import sign_note
        body["statement"] = sign_note(forged, [embassy]).decode()
    elif mutate == "altered_bytes":
        body["cap"] = base64.b64encode(cap.replace(b"Extreme", b"Minor")).decode()
    elif mutate == "outside_jurisdiction":
        kyiv_city = hub.signer("demo-kyiv-city")
        lviv = to_xml(make_alert("demo-kyiv-city", (LVIV_OBLAST,)))
        body = issue_request(lviv, sign_cap(lviv, kyiv_city))
    elif mutate == "wrong_kind":
        embassy = hub.signer("demo-embassy")
        raid = to_xml(make_alert("demo-embassy", (KYIV,)))
        body = issue_request(raid, sign_cap(raid, embassy))
    elif mutate == "malformed_xml":
        body["cap"] = base64.b64encode(cap[:-20]).decode()
    elif mutate == "not_base64":
        body["cap"] = "%%%not base64%%%"
    elif mutate == "backdated":
        old = to_xml(make_alert(sent=datetime.now(UTC) - timedelta(hours=3)))
        body = issue_request(old, sign_cap(old, air_force))
    elif mutate == "unknown_region":
        bogus = to_xml(make_alert(areas=("UA99000000000000000",)))
        body = issue_request(bogus, sign_cap(bogus, air_force))
    response = httpx.post(f"{hub.url}/api/v1/alerts", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["detail"]
    assert httpx.get(f"{hub.url}/api/v1/alerts").json()["alerts"] == []
    assert httpx.get(f"{hub.url}/healthz").json()["last_event_id"] == 0


def test_oversized_body_is_refused_before_reading(hub: HubProcess) -> None:
    big = b"x" * (2 << 20)
    response = httpx.post(f"{hub.url}/api/v1/alerts", content=big,
                          headers={"Content-Type": "application/cap+xml"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"

    def chunks():  # no Content-Length: the limit applies while streaming
        for _ in range(40):
            yield b"y" * 65536

    response = httpx.post(f"{hub.url}/api/v1/alerts", content=chunks(),
                          headers={"Content-Type": "application/cap+xml"})
    assert response.status_code == 413


def test_unsupported_media_type_and_unknown_paths(hub: HubProcess) -> None:
    response = httpx.post(f"{hub.url}/api/v1/alerts", content=b"hi",
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert httpx.get(f"{hub.url}/nope").json()["error"]["code"] == "not_found"
    assert httpx.get(f"{hub.url}/api/v1/alerts/" + "0" * 32).status_code == 404
    assert httpx.get(f"{hub.url}/api/v1/alerts/../../etc").status_code == 404
    assert httpx.get(f"{hub.url}/api/v1/regions/UA00/status").json()["error"]["code"] == \
        "unknown_region"
    assert httpx.get(f"{hub.url}/api/v1/alerts?active=maybe").status_code == 400


def test_update_cancel_and_all_clear_change_region_status(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    with hub.client() as client:
        oblast = client.issue(make_alert(areas=(KYIV_OBLAST,)), signer)
        status = client.get(f"/api/v1/regions/{KYIV_OBLAST}/status")
        assert status["coverage"] == "full"
        # A hromada inside the oblast is fully under alert too.
        hromada = next(c["code"] for c in client.get(f"/api/v1/regions/{KYIV_OBLAST}")["children"])
        assert client.get(f"/api/v1/regions/{hromada}/status")["coverage"] == "full"
        # All-clear for the oblast ends it.
        client.issue(make_alert(areas=(KYIV_OBLAST,), kind="all-clear", expires_in=None), signer)
        assert client.get(f"/api/v1/regions/{KYIV_OBLAST}/status")["coverage"] == "none"
        assert client.get(f"/api/v1/alerts/{oblast['id']}")["active"] is False

        # An alert for Kyiv city marks nothing else; cancel withdraws it.
        city = client.issue(make_alert(areas=(KYIV,)), signer)
        assert client.get(f"/api/v1/regions/{KYIV}/status")["coverage"] == "full"
        assert client.get(f"/api/v1/regions/{LVIV_OBLAST}/status")["coverage"] == "none"
        original = client.get(f"/api/v1/alerts/{city['id']}")
        cancel = compose_cancel(issuer_id="demo-air-force", sender=original["sender"],
                                original=Reference(sender=original["sender"],
                                                   identifier=original["identifier"],
                                                   sent=original["sent"]))
        result = client.issue(cancel, signer)
        assert result["ended_alerts"] == [city["id"]]
        assert client.get(f"/api/v1/regions/{KYIV}/status")["coverage"] == "none"
        active = client.get("/api/v1/alerts", active="true")["alerts"]
        assert active == []
        everything = client.get("/api/v1/alerts")["alerts"]
        assert len(everything) == 4


def test_cancel_of_unknown_or_foreign_alert_is_refused(hub: HubProcess) -> None:
    with hub.client() as client:
        kyiv_city = hub.signer("demo-kyiv-city")
        theirs = client.issue(make_alert("demo-kyiv-city", (KYIV,)), kyiv_city)
        original = client.get(f"/api/v1/alerts/{theirs['id']}")
        ref = Reference(sender=original["sender"], identifier=original["identifier"],
                        sent=original["sent"])
        air_force = hub.signer("demo-air-force")
        with pytest.raises(HubError) as other_sender:
            client.issue(compose_cancel(issuer_id="demo-air-force", sender="demo-air-force@tocsin",
                                        original=ref), air_force)
        assert other_sender.value.code == "unauthorised"  # the verifier: not its own sender
        with pytest.raises(HubError) as foreign:  # borrowing the sender string does not help
            client.issue(compose_cancel(issuer_id="demo-air-force", sender=original["sender"],
                                        original=ref), air_force)
        assert foreign.value.code == "sender_not_allowed"  # the registry binds senders
        # Nor may an issuer publish a new alert under another's sender.
        with pytest.raises(HubError) as impersonation:
            client.issue(make_alert(areas=(KYIV,), sender=original["sender"]), air_force)
        assert impersonation.value.code == "sender_not_allowed"
        ghost = Reference(sender="demo-kyiv-city@tocsin", identifier="never-issued",
                          sent=original["sent"])
        with pytest.raises(HubError) as unknown:
            client.issue(compose_cancel(issuer_id="demo-kyiv-city", sender="demo-kyiv-city@tocsin",
                                        original=ghost), kyiv_city)
        assert unknown.value.code == "unknown_reference"
        assert client.get(f"/api/v1/alerts/{theirs['id']}")["active"] is True


def test_partial_coverage_of_a_hromada_alert(hub: HubProcess) -> None:
    with hub.client() as client:
        children = client.get(f"/api/v1/regions/{KYIV_OBLAST}")["children"]
        raion = next(c["code"] for c in children if c["code"].startswith(BUCHA_HROMADA_PREFIX))
        hromada = client.get(f"/api/v1/regions/{raion}")["children"][0]["code"]
        client.issue(make_alert(areas=(hromada,)), hub.signer("demo-air-force"))
        assert client.get(f"/api/v1/regions/{hromada}/status")["coverage"] == "full"
        assert client.get(f"/api/v1/regions/{raion}/status")["coverage"] == "partial"
        assert client.get(f"/api/v1/regions/{KYIV_OBLAST}/status")["coverage"] == "partial"
        assert client.get(f"/api/v1/regions/{LVIV_OBLAST}/status")["coverage"] == "none"
        by_region = client.get("/api/v1/alerts", region=raion, active="true")["alerts"]
        assert len(by_region) == 1


def test_feeds_registry_openapi_metrics(hub: HubProcess) -> None:
    with hub.client() as client:
        issued = client.issue(make_alert(areas=(KYIV,)), hub.signer("demo-air-force"))
    atom = etree.fromstring(httpx.get(f"{hub.url}/feeds/alerts.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    links = atom.xpath("//a:entry/a:link[@type='application/cap+xml']/@href", namespaces=ns)
    assert links == [f"{hub.url}/api/v1/alerts/{issued['id']}/cap"]
    regional = etree.fromstring(httpx.get(f"{hub.url}/feeds/regions/UA-30.atom").content)
    assert len(regional.xpath("//a:entry", namespaces=ns)) == 1
    lviv = etree.fromstring(httpx.get(f"{hub.url}/feeds/regions/{LVIV_OBLAST}.atom").content)
    assert lviv.xpath("//a:entry", namespaces=ns) == []
    registry = httpx.get(f"{hub.url}/api/v1/registry").json()
    ids = {i["id"] for i in registry["registry"]["issuers"]}
    assert {"demo-air-force", "demo-kyiv-city", "demo-defence-intelligence", "demo-embassy"} <= ids
    spec = httpx.get(f"{hub.url}/api/v1/openapi.json").json()
    assert "/api/v1/stream" in spec["paths"]
    metrics = httpx.get(f"{hub.url}/metrics").text
    assert "tocsin_alerts_issued_total 1.0" in metrics
    assert "tocsin_subscribers_connected" in metrics


def test_expired_alert_is_stored_but_not_active(hub: HubProcess) -> None:
    sent = datetime.now(UTC) - timedelta(seconds=120)
    with hub.client() as client:
        body = client.issue(make_alert(areas=(KYIV,), sent=sent, expires_in=timedelta(seconds=60)),
                            hub.signer("demo-air-force"))
        assert body["active"] is False  # expires ended it by itself
        assert client.get(f"/api/v1/regions/{KYIV}/status")["coverage"] == "none"
        assert client.get("/api/v1/alerts", active="true")["alerts"] == []
        assert [a["id"] for a in client.get("/api/v1/alerts")["alerts"]] == [body["id"]]


def test_feed_for_a_point(hub: HubProcess) -> None:
    with hub.client() as client:
        kyiv = client.issue(make_alert(areas=(KYIV,)), hub.signer("demo-air-force"))
        client.issue(make_alert(areas=(LVIV_OBLAST,)), hub.signer("demo-air-force"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    feed = etree.fromstring(httpx.get(f"{hub.url}/feeds/alerts.atom",
                                      params={"lat": 50.4501, "lon": 30.5234}).content)
    ids = [e.rsplit("/", 1)[1] for e in feed.xpath("//a:entry/a:id/text()", namespaces=ns)]
    assert ids == [kyiv["id"]]
    swapped = httpx.get(f"{hub.url}/feeds/alerts.atom", params={"lat": 30.5234, "lon": 50.4501})
    assert swapped.status_code == 404
    assert "swapped" in swapped.json()["error"]["detail"]


def test_a_test_all_clear_or_cancel_never_ends_a_real_alert(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    with hub.client() as client:
        real = client.issue(make_alert(areas=(KYIV,)), signer)
        client.issue(make_alert(areas=(KYIV,), kind="all-clear", expires_in=None, status="Test"),
                     signer)
        assert client.get(f"/api/v1/alerts/{real['id']}")["active"] is True
        original = client.get(f"/api/v1/alerts/{real['id']}")
        test_cancel = msgspec.structs.replace(compose_cancel(
            issuer_id="demo-air-force", sender=original["sender"],
            original=Reference(sender=original["sender"], identifier=original["identifier"],
                               sent=original["sent"])), status="Test")
        with pytest.raises(HubError) as refused:
            client.issue(test_cancel, signer)
        assert refused.value.code == "status_mismatch"
        assert client.get(f"/api/v1/regions/{KYIV}/status")["coverage"] == "full"


def test_unicode_digits_are_refused_cleanly(hub: HubProcess) -> None:
    for path in ("/api/v1/alerts?limit=%C2%B2", "/api/v1/regions/%C2%B2/status",
                 "/api/v1/regions/alerts.in.ua:%D9%A3%D9%A1/status"):
        response = httpx.get(hub.url + path)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.json()["error"]["code"] in ("bad_parameter", "unknown_region")
    stream = httpx.get(hub.url + "/api/v1/stream", params={"since": "²"})
    assert stream.status_code == 400
    assert stream.json()["error"]["code"] == "bad_last_event_id"
