"""A second hub follows the first and shows its alerts as verified; a plain CAP feed's are
relayed, unverified; XML-DSig signed CAP verifies against configured certificates; every
fault of a followed feed is refused, reported, and the follower keeps running (issue 16).

One module-wide set of real servers, to keep the suite frugal: hub A (a ``tocsin serve``
process that also accepts alerts sent long ago, so that a replay can be caught), a
tampering front of A, a server of CAP feeds made of real producers' documents and of
misbehaving feeds, and hub B following all of them every second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from click.testing import CliRunner
from tests.cap.conftest import SAMPLES

from tocsin.cap import parse_alert, to_xml
from tocsin.cap.model import Alert
from tocsin.cli import main
from tocsin.client import sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.issue import alert_id_for
from tocsin.testing import HubProcess, serve_asgi
from tocsin.trust.note import Signer

from .servers import BOMB, cap_feed_app, tampering_hub_app
from .signing import embedded_certificate, make_certificate, sign_cap_xml

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
WAIT_SECS = 60.0
SECRET = "s3cret-feed-key"
T = TypeVar("T")

PLAIN_DOCS = {
    "nws-update.xml": SAMPLES / "valid-1.2" / "us-nws_multiple-polygons-update.xml",
    "nws-blizzard-cap11.xml": SAMPLES / "cap-1.1" / "us-nws-cap11_blizzard-empty-polygon.xml",
    "oasis-a1-cap11.xml": SAMPLES / "cap-1.1" / "oasis-cap11-spec_a1-homeland-security.xml",
    "ipaws-cancel-signed.xml": SAMPLES / "valid-1.2" / "us-ipaws-nv-dps_cancel-no-info-signed.xml",
}
IPAWS_SIGNED = SAMPLES / "valid-1.2" / "us-ipaws-montgomery-md_local-emergency-polygon-signed.xml"
FAULTS = {"huge": "feed_too_large", "malformed": "feed_malformed", "bomb": "feed_malformed",
          "loop": "feed_redirect_loop", "private": "feed_address_refused"}


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,), **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))


def until(probe: Callable[[], T | None], what: str, timeout: float = WAIT_SECS) -> T:
    """Poll ``probe`` (an HTTP read of a running hub) until it gives something; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None and found is not False:
            return found
        time.sleep(0.1)  # the followers poll every second; this only paces the reads
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class World:
    a: HubProcess
    b: HubProcess
    tampered: dict[str, str] = field(default_factory=dict)  # expected code -> alert id
    signed_ids: dict[str, str] = field(default_factory=dict)  # name -> relayed id

    def follows(self) -> dict[str, dict[str, Any]]:
        feeds = httpx.get(f"{self.b.url}/api/v1/follows", timeout=10).json()["feeds"]
        return {f["name"]: f for f in feeds}

    def relayed(self, alert_id: str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.b.url}/api/v1/relayed/{alert_id}", timeout=10)
        return response.json() if response.status_code == 200 else None

    def refusal(self, feed: str, subject: str) -> dict[str, Any] | None:
        return next((r for r in self.follows()[feed]["refusals"] if r["subject"] == subject), None)


def _follow(b: HubProcess, url: str, name: str, *args: str) -> None:
    result = CliRunner().invoke(main, ["follow", url, "--name", name, "--interval", "1",
                                       "--data-dir", str(b.data_dir), *args])
    assert result.exit_code == 0, result.output


def _proof(a: HubProcess, alert_id: str) -> bytes:
    def probe() -> bytes | None:
        response = httpx.get(f"{a.url}/api/v1/alerts/{alert_id}/proof", timeout=10)
        return response.content if response.status_code == 200 else None

    return until(probe, "the proof of the legitimate alert")


def _crafted(a: HubProcess) -> tuple[dict[str, dict[str, bytes]], dict[str, str]]:
    """Alerts a hostile feed could serve in hub A's name, each with the code it must get."""
    with a.client() as client:
        legit = client.issue(make_alert(headline="legitimate"), a.signer("demo-air-force"))
    cap = httpx.get(f"{a.url}/api/v1/alerts/{legit['id']}/cap", timeout=10).content
    statement = httpx.get(f"{a.url}/api/v1/alerts/{legit['id']}/statement", timeout=10).content
    proof = _proof(a, legit["id"])
    docs: dict[str, tuple[bytes, bytes]] = {}
    forged = to_xml(make_alert(headline="forged"))
    docs["forged"] = (forged, sign_cap(forged, Signer.generate("demo-air-force")))
    event = parse_alert(cap).alert.info[0].event
    altered = cap.replace(f"<event>{event}</event>".encode(), b"<event>Nothing happens</event>", 1)
    assert altered != cap
    docs["altered"] = (altered, statement)
    far = to_xml(make_alert("demo-kyiv-city", (LVIV_OBLAST,), headline="outside Kyiv"))
    docs["unauthorised"] = (far, sign_cap(far, a.signer("demo-kyiv-city")))
    never_logged = to_xml(make_alert(headline="signed but never logged"))
    docs["not_logged"] = (never_logged, sign_cap(never_logged, a.signer("demo-air-force")))
    crafted = {alert_id_for(c): {"cap": c, "statement": s, "proof": proof} for c, s in docs.values()}
    return crafted, {code: alert_id_for(c) for code, (c, _) in docs.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("federation")
    with ExitStack() as stack:
        # A hub that (misbehaving) accepts alerts sent a day ago: the follower must catch replays.
        a = HubProcess(root / "a", env={"TOCSIN_MAX_SENT_AGE_SECS": "100000"})
        a.start()
        stack.callback(a.stop)
        crafted, expected = _crafted(a)
        proxy = stack.enter_context(serve_asgi(tampering_hub_app(a.url, crafted)))

        cert = make_certificate()
        signed = sign_cap_xml(PLAIN_DOCS["nws-update.xml"].read_bytes(), cert)
        headline = parse_alert(signed, strict=False).alert.info[0].headline or ""
        tampered = signed.replace(headline.encode(), b"No danger", 1)
        documents = {name: path.read_bytes() for name, path in PLAIN_DOCS.items()}
        documents |= {"ipaws-signed.xml": IPAWS_SIGNED.read_bytes(), "test-signed.xml": signed,
                      "test-tampered.xml": tampered, "bomb.xml": BOMB}
        feeds = {"plain": [*PLAIN_DOCS, "bomb.xml"], "ipaws": ["ipaws-signed.xml"], "keyed": [],
                 "signed": ["test-signed.xml", "test-tampered.xml"]}
        server = stack.enter_context(serve_asgi(cap_feed_app(documents, feeds)))
        (root / "test.pem").write_bytes(cert.cert_pem)
        (root / "ipaws.pem").write_bytes(embedded_certificate(IPAWS_SIGNED.read_bytes()))

        b = HubProcess(root / "b", env={"TOCSIN_FOLLOW_ALLOWED_HOSTS": "127.0.0.1"})
        b.data_dir.mkdir(parents=True)
        hub_keys = ("--registry-root", str(a.data_dir / "registry-root.pub"),
                    "--log-key", str(a.data_dir / "log.pub"),
                    "--policy", str(a.data_dir / "witness-policy.txt"))
        _follow(b, f"{a.url}/feeds/alerts.atom", "hub-a", *hub_keys)
        _follow(b, f"{proxy}/feeds/alerts.atom", "hub-a-tampered", *hub_keys)
        _follow(b, f"{server}/plain.atom", "plain")
        _follow(b, f"{server}/ipaws.atom", "ipaws", "--cert", str(root / "ipaws.pem"))
        _follow(b, f"{server}/signed.atom", "signed", "--cert", str(root / "test.pem"))
        _follow(b, f"{server}/keyed.atom?apikey={SECRET}", "keyed")
        for name in ("huge", "malformed", "bomb"):
            _follow(b, f"{server}/{name}.atom", name)
        _follow(b, f"{server}/loop-a.atom", "loop")
        port = server.rsplit(":", 1)[1]
        _follow(b, f"http://localhost:{port}/plain.atom", "private")  # not an allowed host
        b.start()
        stack.callback(b.stop)
        yield World(a, b, expected,
                    {"test-signed": alert_id_for(signed), "test-tampered": alert_id_for(tampered),
                     "ipaws": alert_id_for(IPAWS_SIGNED.read_bytes())})


def test_a_followed_hub_alert_shows_as_verified(world: World) -> None:
    with world.a.client() as client:
        issued = client.issue(make_alert(headline="from A"), world.a.signer("demo-air-force"))
    view = until(lambda: world.relayed(issued["id"]), "hub B to relay A's alert")
    assert view["trust"] == "verified" and view["verified"] is True
    assert view["words"] == "from hub hub-a, verified"
    assert "cosigned by 1 witness" in view["detail"] and "demo-air-force" in view["detail"]
    cap = httpx.get(f"{world.b.url}/api/v1/relayed/{issued['id']}/cap").content
    assert cap == httpx.get(f"{world.a.url}/api/v1/alerts/{issued['id']}/cap").content
    page = httpx.get(f"{world.b.url}/relayed/{issued['id']}")
    assert page.status_code == 200 and "from hub hub-a, verified" in page.text
    # Never as if B's issuers had issued it: not B's alert, not in B's log (the registry only).
    assert httpx.get(f"{world.b.url}/api/v1/alerts/{issued['id']}").status_code == 404
    assert httpx.get(f"{world.b.url}/api/v1/alerts").json()["alerts"] == []
    assert httpx.get(f"{world.b.url}/checkpoint").text.split("\n")[1] == "1"


def test_a_plain_cap_feed_is_relayed_unverified(world: World) -> None:
    ids = {name: alert_id_for(path.read_bytes()) for name, path in PLAIN_DOCS.items()}
    for name, alert_id in ids.items():
        view = until(lambda alert_id=alert_id: world.relayed(alert_id), f"{name} to be relayed")
        assert view["trust"] == "unverified" and view["verified"] is False, name
        assert view["words"] == "relayed, unverified"
        page = httpx.get(f"{world.b.url}/relayed/{alert_id}").text
        assert "Relayed, unverified" in page and "✔" not in page
    bomb = until(lambda: world.refusal("plain", _cap_url(world, "bomb.xml", "plain")),
                 "the entity bomb among the CAP documents to be refused")
    assert bomb["code"] == "invalid_cap" and "DOCTYPE" in bomb["reason"]
    assert world.follows()["plain"]["relayed"] == len(PLAIN_DOCS)
    signed_view = world.relayed(ids["ipaws-cancel-signed.xml"])
    assert signed_view is not None and "no certificate is configured" in signed_view["detail"]
    blizzard = world.relayed(ids["nws-blizzard-cap11.xml"])
    assert blizzard is not None and blizzard["event"] == "Blizzard Warning"
    # Nowhere on the map or in region status: the map state knows nothing of them.
    state = httpx.get(f"{world.b.url}/api/v1/map/state").text
    assert not any(alert_id in state for alert_id in ids.values())


def test_the_check_never_vouches_for_a_relayed_alert(world: World) -> None:
    with world.a.client() as client:
        issued = client.issue(make_alert(headline="checked on B"), world.a.signer("demo-air-force"))
    until(lambda: world.relayed(issued["id"]), "hub B to relay A's alert")
    plain_id = alert_id_for(PLAIN_DOCS["nws-update.xml"].read_bytes())
    until(lambda: world.relayed(plain_id), "the plain alert")
    for alert_id in (issued["id"], plain_id):
        cap = httpx.get(f"{world.b.url}/api/v1/relayed/{alert_id}/cap").content
        view = world.relayed(alert_id)
        assert view is not None
        for text in (alert_id, cap.decode(), view["headline"] or view["event"]):
            body = httpx.post(f"{world.b.url}/api/v1/check", json={"text": text}, timeout=30).json()
            assert body["verdict"] != "authentic", (text[:80], body["verdict"])


def test_xml_signed_cap_verifies_against_the_configured_certificate(world: World) -> None:
    ipaws = until(lambda: world.relayed(world.signed_ids["ipaws"]), "the IPAWS alert")
    assert ipaws["trust"] == "xml-signature" and ipaws["verified"] is False
    assert ipaws["words"].startswith("XML signature verified") and "O=FEMA IPAWS" in ipaws["words"]
    ours = until(lambda: world.relayed(world.signed_ids["test-signed"]), "the test-signed alert")
    assert "CN=Test CAP signer" in ours["words"]
    refusal = until(lambda: world.refusal("signed", _cap_url(world, "test-tampered.xml")),
                    "the tampered document to be refused")
    assert refusal["code"] == "bad_xml_signature"
    assert world.relayed(world.signed_ids["test-tampered"]) is None


def _cap_url(world: World, name: str, feed_name: str = "signed") -> str:
    feed = world.follows()[feed_name]["url"]
    return feed.rsplit("/", 1)[0] + f"/cap/{name}"


def test_forged_altered_replayed_and_out_of_jurisdiction_alerts_are_refused(world: World) -> None:
    for code, alert_id in world.tampered.items():
        refusal = until(lambda alert_id=alert_id: world.refusal("hub-a-tampered", alert_id),
                        f"the {code} alert to be refused")
        assert refusal["code"] == code, refusal
        assert world.relayed(alert_id) is None
    assert world.follows()["hub-a-tampered"]["relayed"] == 0
    metrics = httpx.get(f"{world.b.url}/metrics").text
    for code in world.tampered:
        assert f'tocsin_follow_refused_total{{code="{code}",feed="hub-a-tampered"}}' in metrics


def test_an_old_alert_a_hub_logged_late_is_refused_as_replayed(world: World) -> None:
    until(lambda: world.follows()["hub-a"]["last_ok_ts"], "a first complete poll of hub A")
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    with world.a.client() as client:  # A (misbehaving) logs an alert sent three hours ago
        issued = client.issue(make_alert(headline="replayed", sent=sent, expires_in=timedelta(hours=5)),
                              world.a.signer("demo-air-force"))
    refusal = until(lambda: world.refusal("hub-a", issued["id"]), "the replayed alert to be refused")
    assert refusal["code"] == "stale_alert" and "replayed" in refusal["reason"]
    assert world.relayed(issued["id"]) is None


def test_faulty_feeds_are_refused_and_the_followers_keep_running(world: World) -> None:
    def all_seen_twice() -> dict[str, dict[str, Any]] | None:
        follows = world.follows()
        done = all(follows[n]["polls"] >= 2 and follows[n]["last_error"] for n in FAULTS)
        return follows if done else None

    follows = until(all_seen_twice, "every faulty feed to be polled twice")
    for name, code in FAULTS.items():
        assert follows[name]["last_error"]["code"] == code, (name, follows[name]["last_error"])
        assert follows[name]["relayed"] == 0
    assert "DOCTYPE" in follows["bomb"]["last_error"]["message"]
    assert "redirect loop" in follows["loop"]["last_error"]["message"]
    assert httpx.get(f"{world.b.url}/healthz").status_code == 200


def test_relayed_bytes_are_served_sandboxed(world: World) -> None:
    """A stranger's CAP may carry live markup where the schema allows any element (inside an
    XML signature): ``<h:script xmlns:h="http://www.w3.org/1999/xhtml">`` runs on this hub's
    origin in a browser that renders the bytes as XML. Chromium downloads
    ``application/cap+xml``, but nothing relies on that: the bytes are served under a
    sandboxing CSP with nothing allowed."""
    plain_id = alert_id_for(PLAIN_DOCS["nws-update.xml"].read_bytes())
    until(lambda: world.relayed(plain_id), "the plain alert")
    with world.a.client() as client:
        issued = client.issue(make_alert(headline="bytes"), world.a.signer("demo-air-force"))
    until(lambda: world.relayed(issued["id"]), "hub B to relay A's alert")
    for path in (f"{plain_id}/cap", f"{issued['id']}/cap", f"{issued['id']}/statement",
                 f"{issued['id']}/proof"):
        response = httpx.get(f"{world.b.url}/api/v1/relayed/{path}", timeout=10)
        assert response.status_code == 200, path
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "sandbox" in policy, (path, policy)


def test_a_feeds_credentials_are_not_shown_to_the_public(world: World) -> None:
    """A feed may be followed with an API key in its URL's query (many commercial CAP feeds
    take one). ``/api/v1/follows`` is public: it names the feed, never the key."""
    follows = until(lambda: world.follows()["keyed"] if world.follows()["keyed"]["last_ok_ts"] else None,
                    "the keyed feed to be read")
    assert follows["url"].endswith("/keyed.atom?…"), follows["url"]
    assert SECRET not in httpx.get(f"{world.b.url}/api/v1/follows", timeout=10).text


def test_faults_are_logged(world: World) -> None:
    """Run last: stops hub B to read everything it logged."""
    for code in world.tampered:
        until(lambda code=code: world.refusal("hub-a-tampered", world.tampered[code]), code)
    until(lambda: all(world.follows()[n]["last_error"] for n in FAULTS), "the faults")
    world.b.stop()
    assert world.b.proc is not None and world.b.proc.stdout is not None
    output = world.b.proc.stdout.read().decode()
    for name, code in FAULTS.items():
        assert f"follow {name}: feed refused: {code}:" in output, output[-3000:]
    for code, alert_id in world.tampered.items():
        assert f"follow hub-a-tampered: refused alert {alert_id}: {code}:" in output
    assert output.count("follow huge: feed refused") == 1  # not again at every poll

