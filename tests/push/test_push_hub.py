"""Web Push end to end: a real hub, a test push service that verifies VAPID and decrypts.

Done when (issue 15): a person adds Київ and Львів, allows notifications, closes the
browser, and is woken by an Air Force alert for Lviv; the all-clear replaces it.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from tocsin.client import ServerEvent, follow
from tocsin.testing import HubProcess

from .conftest import KYIV, LVIV, LVIV_OBLAST, PUSH_ENV, hub_key, issue, metric, subscribe
from .push_service import push_service

pytestmark = pytest.mark.timeout(120)


def test_kyiv_and_lviv_woken_by_a_lviv_alert_and_the_all_clear_replaces_it(hub: HubProcess) -> None:
    with push_service(hub_key(hub)) as service:
        phone = service.device()
        created = subscribe(hub, phone.subscription(), [KYIV, LVIV])
        assert created.status_code == 201, created.text
        assert set(created.json()) == {"id", "secret"}

        # Neither a notice for Kyiv nor a denial wakes anyone; the threat after them does.
        issue(hub, "demo-embassy", (KYIV,), kind="facility-closed")
        issue(hub, "demo-defence-intelligence", (), kind="denial")
        alert = issue(hub, "demo-air-force", (LVIV_OBLAST,), kind="air-raid",
                      instruction="Негайно прямуйте до укриття")
        [woken] = service.wait_delivered(phone, 1)
        assert woken.payload["id"] == alert["id"]
        assert woken.payload["class"] == "threat"
        assert woken.payload["title"].endswith("Повітряна тривога — Львівська територіальна громада")
        assert "Негайно прямуйте до укриття" in woken.payload["body"]
        assert woken.payload["places"] == ["Львівська територіальна громада"]
        assert woken.payload["url"] == f"/alerts/{alert['id']}"
        assert woken.payload["links"]["statement"] == f"/api/v1/alerts/{alert['id']}/statement"
        assert woken.payload["requireInteraction"] is True and woken.payload["vibrate"]
        assert woken.urgency == "high"
        assert 0 < woken.ttl <= 900
        assert woken.topic == LVIV
        assert woken.payload["tag"] == f"tocsin-{LVIV}"

        clear = issue(hub, "demo-air-force", (LVIV_OBLAST,), kind="all-clear")
        [_, cleared] = service.wait_delivered(phone, 2)
        assert cleared.payload["id"] == clear["id"]
        assert cleared.payload["class"] == "all-clear"
        assert cleared.payload["title"].endswith("Відбій тривоги — Львівська територіальна громада")
        assert cleared.topic == woken.topic  # replaces the pending alert at the push service
        assert cleared.payload["tag"] == woken.payload["tag"]  # and the alert on screen
        assert cleared.payload["requireInteraction"] is False
        assert service.errors == []
        assert metric(hub, "tocsin_push_sent_total") == 2


def test_english_and_point_subscriptions_match_like_live_streams(hub: HubProcess) -> None:
    with push_service(hub_key(hub)) as service:
        by_point = service.device()
        assert subscribe(hub, by_point.subscription(), [], language="en",
                         points=[{"lat": 49.8397, "lon": 24.0297}]).status_code == 201  # Lviv
        elsewhere = service.device()
        assert subscribe(hub, elsewhere.subscription(), [KYIV]).status_code == 201
        issue(hub, "demo-air-force", (LVIV_OBLAST,), kind="missile")
        [got] = service.wait_delivered(by_point, 1)
        assert got.payload["title"].startswith("[DEMO] Missile threat")
        assert got.payload["places"] == ["Lvivska Hromada"]  # a point is named by its hromada
        assert got.topic is not None and "49" not in got.topic  # never the coordinates
        kyiv = issue(hub, "demo-air-force", (KYIV,), kind="drone")
        [only] = service.wait_delivered(elsewhere, 1)
        assert only.payload["id"] == kyiv["id"]  # the Lviv alert never reached Kyiv
        assert len(service.delivered(by_point)) == 1


def test_a_410_deletes_the_subscription_and_leaves_nothing(hub: HubProcess) -> None:
    with push_service(hub_key(hub)) as service:
        gone = service.device(answers=[(410, {})])
        made = subscribe(hub, gone.subscription(), [KYIV]).json()
        issue(hub, "demo-air-force", (KYIV,))
        service.wait_for(lambda: any(r.token == gone.token for r in service.received))
        deleted = 0.0
        for _ in range(200):  # the deletion follows the 410 answer; poll the hub's own counter
            deleted = metric(hub, "tocsin_push_deleted_total")
            if deleted:
                break
        assert deleted == 1
        answer = httpx.delete(f"{hub.url}/api/v1/push/subscriptions/{made['id']}",
                              headers={"Authorization": f"Bearer {made['secret']}"})
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "push_subscription_not_found"
        assert metric(hub, "tocsin_push_subscriptions") == 0
        witness = service.device()  # subscribed after: proves the next alert was pushed
        assert subscribe(hub, witness.subscription(), [KYIV]).status_code == 201
        issue(hub, "demo-air-force", (KYIV,), kind="missile")
        service.wait_delivered(witness, 1)
        assert len([r for r in service.received if r.token == gone.token]) == 1


def test_retry_after_429_then_delivered_once(hub: HubProcess) -> None:
    with push_service(hub_key(hub)) as service:
        busy = service.device(answers=[(429, {"Retry-After": "0"}), (503, {"Retry-After": "0"})])
        assert subscribe(hub, busy.subscription(), [KYIV]).status_code == 201
        issue(hub, "demo-air-force", (KYIV,))
        [got] = service.wait_delivered(busy, 1)
        assert [r.status for r in service.received] == [429, 503, 201]
        assert got.payload["class"] == "threat"
        assert metric(hub, "tocsin_push_retried_total") == 2


async def test_a_hanging_push_service_delays_neither_live_streams_nor_other_services(
        hub: HubProcess) -> None:
    with push_service(hub_key(hub)) as slow, push_service(hub_key(hub)) as fast:
        stuck = slow.device()
        quick = fast.device()
        assert subscribe(hub, stuck.subscription(), [LVIV]).status_code == 201
        assert subscribe(hub, quick.subscription(), [LVIV]).status_code == 201
        slow.hold()

        async def first_event() -> ServerEvent:
            async for event in follow(hub.url, regions=[LVIV]):
                if event.event == "alert":
                    return event
            raise AssertionError("stream ended")

        live = asyncio.create_task(first_event())
        async with httpx.AsyncClient() as http:
            for _ in range(400):  # until the SSE subscriber is registered
                if (await http.get(f"{hub.url}/healthz")).json()["subscribers"] >= 1:
                    break
        alert = await asyncio.to_thread(issue, hub, "demo-air-force", (LVIV_OBLAST,))
        event = await asyncio.wait_for(live, 10)
        assert event.json()["id"] == alert["id"]
        await asyncio.to_thread(fast.wait_delivered, quick, 1)
        await asyncio.to_thread(slow.wait_for, lambda: slow.arrived >= 1)
        assert slow.received == []  # still hanging while the others were served
        slow.release()
        await asyncio.to_thread(slow.wait_delivered, stuck, 1)


def test_restart_resumes_from_the_saved_position_without_gap_or_duplicate(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env=dict(PUSH_ENV))
    hub.start()
    try:
        with push_service(hub_key(hub)) as service:
            phone = service.device()
            assert subscribe(hub, phone.subscription(), [KYIV]).status_code == 201
            first = issue(hub, "demo-air-force", (KYIV,))
            service.wait_delivered(phone, 1)
            # The service is down for ten minutes (within the threat's 15-minute TTL).
            phone.answers = [(503, {"Retry-After": "600"})]
            second = issue(hub, "demo-air-force", (KYIV,), kind="missile")
            service.wait_for(lambda: any(r.status == 503 for r in service.received))
            hub.stop()
            hub.start()  # the service is back; the hub resumes from its saved position
            got = service.wait_delivered(phone, 2)
            assert [r.payload["id"] for r in got] == [first["id"], second["id"]]
            third = issue(hub, "demo-air-force", (KYIV,), kind="drone")
            got = service.wait_delivered(phone, 3)
            assert [r.payload["id"] for r in got] == [first["id"], second["id"], third["id"]]
            assert service.errors == []
    finally:
        hub.stop()


def test_subscription_api_refuses_and_updates(hub: HubProcess) -> None:
    url = f"{hub.url}/api/v1/push/subscriptions"
    with push_service(hub_key(hub)) as service:
        dev = service.device()
        sub = dev.subscription()

        def refused(body: object, code: str, status: int) -> None:
            response = httpx.post(url, json=body)
            assert response.status_code == status, response.text
            assert response.json()["error"]["code"] == code

        base = {"subscription": sub, "regions": [KYIV]}
        for endpoint in ("http://example.org/push/x", "https://10.1.2.3/push", "https://[::1]/push",
                         "https://169.254.169.254/latest", "https://localhost/push",
                         "https://user:pw@127.0.0.2/push", "ftp://127.0.0.1/x"):
            refused({**base, "subscription": {**sub, "endpoint": endpoint}}, "push_endpoint_refused", 422)
        refused({**base, "subscription": {**sub, "keys": {"p256dh": "AAAA", "auth": sub["keys"]["auth"]}}},
                "bad_push_subscription", 400)
        refused({**base, "regions": ["UA99"]}, "unknown_region", 404)
        refused({**base, "regions": []}, "bad_push_subscription", 400)
        refused({**base, "language": "ru"}, "bad_push_subscription", 400)
        refused({**base, "points": [{"lat": 24.03, "lon": 49.84}]}, "unknown_region", 404)  # swapped
        assert httpx.post(url, content=b"{not json").json()["error"]["code"] == "bad_push_subscription"

        for endpoint in ("https://faß.evil.test/push", "https://[64:ff9b::7f00:1]/push",
                         "https://[2002:7f00:1::]/push", "https://[::7f00:1]/push",
                         "https://192.0.0.8/push", "https://8.8.8.8:0/push",
                         "https://push.example/a\r\nb"):  # found by an independent review
            refused({**base, "subscription": {**sub, "endpoint": endpoint}}, "push_endpoint_refused", 422)
        deep = ('{"subscription": ' + json.dumps(sub) + ', "regions": ' + "[" * 5000 + "]" * 5000
                + "}").encode()
        answer = httpx.post(url, content=deep, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_push_subscription"
        refused({**base, "points": [{"lat": 10 ** 400, "lon": 30}]}, "bad_push_subscription", 400)

        first = httpx.post(url, json=base)
        assert first.status_code == 201
        # knowing the endpoint is not enough to take the subscription over
        taken = httpx.post(url, json={**base, "regions": [LVIV]})
        assert taken.status_code == 401 and taken.json()["error"]["code"] == "bad_push_secret"
        again = httpx.post(url, json={**base, "regions": [LVIV]},  # re-posting with its secret updates it
                           headers={"Authorization": f"Bearer {first.json()['secret']}"})
        assert again.status_code == 200  # updated, not created: as the OpenAPI and docs/push.md say
        documented = httpx.get(f"{hub.url}/api/v1/openapi.json").json()
        post = documented["paths"]["/api/v1/push/subscriptions"]["post"]
        assert "201" in post["responses"] and "200" in post["responses"]
        assert "updates it: 200" in post["summary"] and "updated" in post["responses"]["200"]["description"]
        docs = (Path(__file__).resolve().parents[2] / "docs/push.md").read_text()
        assert "`201 {\"id\", \"secret\"}`" in docs and "updates it: `200 {\"id\", \"secret\"}`" in docs
        assert again.json()["id"] == first.json()["id"]
        assert again.json()["secret"] != first.json()["secret"]
        one = f"{url}/{first.json()['id']}"
        assert httpx.delete(one).json()["error"]["code"] == "bad_push_secret"
        old = httpx.delete(one, headers={"Authorization": f"Bearer {first.json()['secret']}"})
        assert old.status_code == 401 and old.json()["error"]["code"] == "bad_push_secret"
        issue(hub, "demo-air-force", (LVIV_OBLAST,))  # the updated places are in force
        [got] = service.wait_delivered(dev, 1)
        assert got.topic == LVIV
        ok = httpx.delete(one, headers={"Authorization": f"Bearer {again.json()['secret']}"})
        assert ok.status_code == 204
        assert httpx.delete(one, headers={"Authorization": "Bearer x"}).status_code == 404
        files = [p for p in hub.data_dir.iterdir() if p.name.startswith("push.sqlite3")]
        token = dev.token.encode()  # the endpoint's unique part: in no file any more
        assert files and [p.name for p in files if token in p.read_bytes()] == []


def test_vapid_key_is_kept_private_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env=dict(PUSH_ENV))
    hub.start()
    try:
        key_file = hub.data_dir / "vapid.key"
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        raw = private.public_key().public_bytes(serialization.Encoding.X962,  # type: ignore[union-attr]
                                                serialization.PublicFormat.UncompressedPoint)
        from .push_service import b64e
        assert hub_key(hub) == b64e(raw)
    finally:
        hub.stop()
    key_file.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    with pytest.raises(RuntimeError, match=r"vapid\.key"):
        hub.start()
    assert b"nonsense" in key_file.read_bytes()  # refused, and left as it was


def test_a_hub_refused_at_start_writes_no_push_files(tmp_path: Path) -> None:
    from tocsin.logserver import load_or_create_log_key

    data = tmp_path / "data"
    data.mkdir()
    load_or_create_log_key(data / "log.key", "elsewhere.example/log")  # another log's key
    hub = HubProcess(data, env=dict(PUSH_ENV))
    with pytest.raises(RuntimeError, match="origin"):
        hub.start()
    assert not (data / "vapid.key").exists()
    assert not (data / "push.sqlite3").exists()


# A point on Kyiv city's border, and a point 150 m outside it (a Kyiv-oblast hromada).
KYIV_BORDER = (50.43122, 30.259627)
JUST_OUTSIDE_KYIV = (50.429875, 30.259796)


def test_a_shape_grazing_the_border_pushes_nobody_across_it_as_live_streams(hub: HubProcess) -> None:
    """The same point matching as live streams (tests/attacks): a 250 m circle on Kyiv's
    border is accepted but reaches only Kyiv; a push subscriber 150 m outside, inside the
    circle as drawn, is not woken by it."""
    import msgspec

    from tocsin.cap import to_xml
    from tocsin.cap.model import Area, Circle
    from tocsin.client import issue_request, sign_cap

    from .conftest import make_alert

    with push_service(hub_key(hub)) as service:
        outside = service.device()
        lat, lon = JUST_OUTSIDE_KYIV
        assert subscribe(hub, outside.subscription(), [], points=[{"lat": lat, "lon": lon}]
                         ).status_code == 201
        base = make_alert("demo-kyiv-city", (KYIV,))
        ring = Circle(lat=KYIV_BORDER[0], lon=KYIV_BORDER[1], radius_km=0.25,
                      text=f"{KYIV_BORDER[0]},{KYIV_BORDER[1]} 0.25")
        info = msgspec.structs.replace(base.info[0], area=(Area(area_desc="на межі", circle=(ring,)),))
        grazing = to_xml(msgspec.structs.replace(base, info=(info,)))
        first = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(
            grazing, sign_cap(grazing, hub.signer("demo-kyiv-city"))))
        assert first.status_code == 201, first.text
        honest = issue(hub, "demo-air-force", ("UA32000000000030281",))  # Kyiv oblast
        [got] = service.wait_delivered(outside, 1)
        assert got.payload["id"] == honest["id"], f"the point across the border got {got.payload}"


def test_a_cancel_of_a_threat_replaces_it_quietly(hub: HubProcess) -> None:
    from tocsin.cap import to_xml
    from tocsin.cap.model import Reference
    from tocsin.client import issue_request, sign_cap
    from tocsin.compose import compose_cancel

    with push_service(hub_key(hub)) as service:
        phone = service.device()
        assert subscribe(hub, phone.subscription(), [KYIV], language="en").status_code == 201
        threat = issue(hub, "demo-air-force", (KYIV,))
        [woken] = service.wait_delivered(phone, 1)
        cancel = to_xml(compose_cancel(issuer_id="demo-air-force", sender=threat["sender"],
                                       original=Reference(sender=threat["sender"],
                                                          identifier=threat["identifier"],
                                                          sent=threat["sent"])))
        answer = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(
            cancel, sign_cap(cancel, hub.signer("demo-air-force"))))
        assert answer.status_code == 201, answer.text
        [_, withdrawn] = service.wait_delivered(phone, 2)
        assert withdrawn.payload["msgType"] == "Cancel"
        assert withdrawn.payload["title"].startswith("[DEMO] Cancelled")
        assert withdrawn.urgency == "normal" and withdrawn.payload["requireInteraction"] is False
        assert withdrawn.topic == woken.topic == KYIV
        assert withdrawn.payload["tag"] == woken.payload["tag"]


def test_an_alert_and_its_all_clear_for_two_of_my_places_are_one_message_per_place(
        hub: HubProcess) -> None:
    """Each place met gets its own message, Topic and tag, so the all-clear for both places
    replaces, at the push service, a pending alert for either and, on screen, both alerts
    (before, only the first place's Topic and tag were sent: the second place's alert stayed)."""
    with push_service(hub_key(hub)) as service:
        phone = service.device()
        assert subscribe(hub, phone.subscription(), [KYIV, LVIV]).status_code == 201
        alert = issue(hub, "demo-air-force", (KYIV, LVIV_OBLAST), kind="missile")
        clear = issue(hub, "demo-air-force", (KYIV, LVIV_OBLAST), kind="all-clear")
        got = service.wait_delivered(phone, 4)
        assert [(r.payload["id"], r.topic, r.payload["tag"]) for r in got] == [
            (alert["id"], KYIV, f"tocsin-{KYIV}"), (alert["id"], LVIV, f"tocsin-{LVIV}"),
            (clear["id"], KYIV, f"tocsin-{KYIV}"), (clear["id"], LVIV, f"tocsin-{LVIV}")]
        assert [r.payload["places"] for r in got[:2]] == [["м. Київ"], ["Львівська територіальна громада"]]
        assert all(r.urgency == "high" for r in got)
        assert service.errors == []
        assert metric(hub, "tocsin_push_sent_total") == 4
