"""WebSub on the CAP Atom feeds (issue 16): a real hub and a subscriber on 127.0.0.1 that
checks ``X-Hub-Signature`` with plain ``hmac``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from lxml import etree

from tocsin.testing import HubProcess

from .conftest import ALLOW, KYIV, LVIV_OBLAST, issue, metric
from .receiver import Receiver

pytestmark = pytest.mark.timeout(120)
ATOM = "{http://www.w3.org/2005/Atom}"


def subscribe(hub: HubProcess, topic: str, callback: str, mode: str = "subscribe",
              **extra: str) -> httpx.Response:
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
    form.update({f"hub.{k}": v for k, v in extra.items()})
    return httpx.post(f"{hub.url}/websub", data=form)


def entry_ids(body: bytes) -> list[str]:
    root = etree.fromstring(body)
    return [str(e.findtext(f"{ATOM}id")).rsplit("/", 1)[1] for e in root.iter(f"{ATOM}entry")]


def test_a_subscriber_verifies_intent_and_gets_signed_entries_until_it_unsubscribes(
        hub: HubProcess, receiver: Receiver) -> None:
    topic = f"{hub.url}/feeds/regions/{KYIV}.atom"
    secret = "a shared secret the subscriber chose"
    receiver.endpoint("reader", secret=secret)
    receiver.endpoint("everything")  # the all-alerts feed, unsigned
    assert subscribe(hub, topic, receiver.sub_url("reader"), lease_seconds="3600",
                     secret=secret).status_code == 202
    assert subscribe(hub, f"{hub.url}/feeds/alerts.atom",
                     receiver.sub_url("everything")).status_code == 202
    receiver.wait_for(lambda: len(receiver.of("reader", "intent")) == 1)
    [intent] = receiver.of("reader", "intent")
    assert intent.data["hub.mode"] == "subscribe" and intent.data["hub.topic"] == topic
    assert intent.data["hub.lease_seconds"] == "3600" and intent.data["hub.challenge"]

    elsewhere = issue(hub, "demo-air-force", (LVIV_OBLAST,))
    alert = issue(hub, "demo-air-force", (KYIV,))
    [got] = receiver.wait_events("reader", 1)
    assert entry_ids(got.body) == [alert["id"]]  # signature checked by the receiver
    assert got.headers["x-hub-signature"].startswith("sha256=")
    assert got.headers["content-type"] == "application/atom+xml"
    assert got.headers["link"] == f'<{hub.url}/websub>; rel="hub", <{topic}>; rel="self"'
    root = etree.fromstring(got.body)
    [cap] = [el.get("href") for el in root.iter(f"{ATOM}link") if el.get("type") == "application/cap+xml"]
    assert cap == f"{hub.url}/api/v1/alerts/{alert['id']}/cap"
    every = receiver.wait_events("everything", 2)
    assert [entry_ids(g.body)[0] for g in every] == [elsewhere["id"], alert["id"]]
    assert "x-hub-signature" not in every[0].headers  # no hub.secret, no signature

    assert subscribe(hub, topic, receiver.sub_url("reader"), mode="unsubscribe").status_code == 202
    receiver.wait_for(lambda: len(receiver.of("reader", "intent")) == 2)
    assert receiver.of("reader", "intent")[1].data["hub.mode"] == "unsubscribe"
    while metric(hub, "tocsin_callback_targets") != 1:
        pass  # until the hub has acted on the verified unsubscription
    after = issue(hub, "demo-air-force", (KYIV,), kind="missile")
    assert entry_ids(receiver.wait_events("everything", 3)[2].body) == [after["id"]]
    assert len(receiver.wait_events("reader", 1)) == 1  # nothing after unsubscribing
    assert receiver.errors == []


def test_intent_not_verified_lease_over_or_gone_gets_nothing(tmp_path: Path, receiver: Receiver) -> None:
    # One callback second lasts 10 ms: the shortest lease (300 s) lasts 3 s.
    hub = HubProcess(tmp_path / "data", env={**ALLOW, "TOCSIN_CALLBACK_TIME_SCALE": "0.01"})
    hub.start()
    try:
        topic = f"{hub.url}/feeds/alerts.atom?region={KYIV}"
        receiver.endpoint("impostor", echo=False)  # someone else's callback: never says yes
        receiver.endpoint("brief")
        receiver.endpoint("witness")
        receiver.endpoint("gone", always=410)  # unsubscribed by answering 410 Gone
        assert subscribe(hub, topic, receiver.sub_url("impostor")).status_code == 202
        assert subscribe(hub, topic, receiver.sub_url("brief"), lease_seconds="1").status_code == 202
        assert subscribe(hub, topic, receiver.sub_url("gone")).status_code == 202
        receiver.wait_for(lambda: all(len(receiver.of(n, "intent")) == 1
                                      for n in ("impostor", "brief", "gone")))
        assert receiver.of("brief", "intent")[0].data["hub.lease_seconds"] == "300"  # the minimum
        while metric(hub, "tocsin_callback_targets") < 2:
            pass
        first = issue(hub, "demo-air-force", (KYIV,))
        assert entry_ids(receiver.wait_events("brief", 1)[0].body) == [first["id"]]
        while metric(hub, "tocsin_callback_targets") > 0:
            pass  # the lease runs out (3 s); the 410 ended the other at once
        assert len(receiver.of("gone", "content", status_ok=False)) == 1  # never retried
        assert subscribe(hub, topic, receiver.sub_url("witness")).status_code == 202
        while metric(hub, "tocsin_callback_targets") < 1:
            pass
        later = issue(hub, "demo-air-force", (KYIV,), kind="missile")
        assert entry_ids(receiver.wait_events("witness", 1)[0].body) == [later["id"]]
        assert len(receiver.wait_events("brief", 1)) == 1
        assert receiver.of("impostor", "content") == []
        assert receiver.errors == []
    finally:
        hub.stop()


def test_the_feeds_name_their_hub_and_bad_requests_are_refused(
        hub: HubProcess, receiver: Receiver) -> None:
    for path in ("/feeds/alerts.atom", f"/feeds/regions/{KYIV}.atom"):
        answer = httpx.get(hub.url + path)
        assert answer.status_code == 200
        topic = hub.url + path
        assert answer.headers["link"] == f'<{hub.url}/websub>; rel="hub", <{topic}>; rel="self"'
        root = etree.fromstring(answer.content)
        links = {el.get("rel"): el.get("href") for el in root.findall(f"{ATOM}link")}
        assert links == {"hub": f"{hub.url}/websub", "self": topic}

    receiver.endpoint("reader")
    callback = receiver.sub_url("reader")

    def refused(answer: httpx.Response, code: str, status: int) -> None:
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["code"] == code

    feed = f"{hub.url}/feeds/alerts.atom"
    refused(subscribe(hub, feed, callback, mode="publish"), "bad_websub_request", 400)
    refused(subscribe(hub, "https://elsewhere.example/feed", callback), "unknown_topic", 404)
    refused(subscribe(hub, f"{hub.url}/api/v1/alerts", callback), "unknown_topic", 404)
    refused(subscribe(hub, f"{feed}?evil=1", callback), "unknown_topic", 404)
    refused(subscribe(hub, f"{hub.url}/feeds/regions/UA99.atom", callback), "unknown_region", 404)
    refused(subscribe(hub, feed, callback, lease_seconds="soon"), "bad_websub_request", 400)
    refused(subscribe(hub, feed, callback, secret="x" * 200), "bad_websub_request", 400)
    refused(subscribe(hub, feed, "http://10.0.0.1/sub"), "websub_callback_refused", 422)
    refused(httpx.post(f"{hub.url}/websub", content=b"\xff\xfe"), "bad_websub_request", 400)
    assert receiver.of("reader", "intent") == []
