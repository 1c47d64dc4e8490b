"""Webhooks end to end (issue 16): a real hub, a real receiver on 127.0.0.1 that verifies
every message with the ``standardwebhooks`` library."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tocsin.client import ServerEvent, follow
from tocsin.testing import HubProcess

from .conftest import ALLOW, KYIV, LVIV_OBLAST, issue, metric, new_secret, owner, register
from .receiver import Receiver

pytestmark = pytest.mark.timeout(120)


def test_a_verified_endpoint_gets_its_alerts_signed_and_nothing_else(
        hub: HubProcess, receiver: Receiver) -> None:
    secret = new_secret()
    receiver.endpoint("org", secret=secret)
    made = register(hub, receiver.hook_url("org"), [KYIV], secret)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["signing_secret"] == secret and body["secret"] and body["id"].startswith("wh_")
    assert body["regions"] == [KYIV] and body["kinds"] == []
    [check] = receiver.of("org", "verification")  # confirmed before it was stored
    assert check.data["type"] == "webhook.verification"

    # A hub-made signing secret, and a filter by kind.
    receiver.endpoint("missiles")
    made2 = register(hub, receiver.hook_url("missiles"), [KYIV], kinds=["missile"])
    assert made2.status_code == 201, made2.text
    assert made2.json()["signing_secret"].startswith("whsec_")
    receiver.endpoints["missiles"].secret = made2.json()["signing_secret"]

    # An endpoint that does not echo the challenge is never stored and never called again.
    receiver.endpoint("mute", secret=new_secret(), echo=False)
    mute = register(hub, receiver.hook_url("mute"), [KYIV], receiver.endpoints["mute"].secret)
    assert mute.status_code == 422 and mute.json()["error"]["code"] == "webhook_not_verified"

    issue(hub, "demo-air-force", (LVIV_OBLAST,))  # elsewhere: not for these endpoints
    alert = issue(hub, "demo-air-force", (KYIV,))
    missile = issue(hub, "demo-air-force", (KYIV,), kind="missile")
    got = receiver.wait_events("org", 2)
    assert [g.data["data"]["id"] for g in got] == [alert["id"], missile["id"]]
    first = got[0]
    assert first.data["type"] == "alert"
    assert first.data["data"]["class"] == "threat"
    assert first.data["data"]["links"]["cap"] == f"{hub.url}/api/v1/alerts/{alert['id']}/cap"
    assert first.headers["webhook-id"] == f"msg_{body['id']}_{first.data['data']['event_id']}"
    assert len({g.headers["webhook-id"] for g in got}) == 2
    # What the webhook says is what the hub serves.
    cap = httpx.get(first.data["data"]["links"]["cap"])
    assert cap.status_code == 200
    [only] = receiver.wait_events("missiles", 1)
    assert only.data["data"]["id"] == missile["id"]
    assert receiver.of("mute", "event", status_ok=False) == []
    assert receiver.errors == []
    assert metric(hub, "tocsin_callback_sent_total") == 3


def test_a_receiver_down_for_ten_minutes_loses_nothing_and_keeps_order(
        tmp_path: Path, receiver: Receiver) -> None:
    scale = 0.005  # one callback second lasts 5 ms: the ten minutes last three seconds
    hub = HubProcess(tmp_path / "data", env={**ALLOW, "TOCSIN_CALLBACK_TIME_SCALE": str(scale)})
    hub.start()
    try:
        receiver.endpoint("org", secret=new_secret())
        assert register(hub, receiver.hook_url("org"), [KYIV],
                        receiver.endpoints["org"].secret).status_code == 201
        ids = [issue(hub, "demo-air-force", (KYIV,))["id"]]
        receiver.wait_events("org", 1)
        receiver.stop()  # down: connections are refused
        down_at = time.monotonic()
        for kind in ("missile", "drone", "air-raid"):
            ids.append(issue(hub, "demo-air-force", (KYIV,), kind=kind)["id"])
        # Retries after 1, 2, 4 ... 256 s (511 s in all), then 300 s: the eleventh failure
        # comes more than ten minutes (of the hub's callback time) into the outage.
        while metric(hub, "tocsin_callback_retried_total") < 11:
            assert time.monotonic() - down_at < 60, "the hub stopped retrying"
        outage = time.monotonic() - down_at
        assert outage >= 600 * scale  # the schedule doubles: not eleven quick tries
        receiver.start()  # back
        got = receiver.wait_events("org", 4, timeout=30)
        first_seen: list[str] = []
        for g in got:
            if g.data["data"]["id"] not in first_seen:
                first_seen.append(g.data["data"]["id"])
        assert first_seen == ids  # nothing lost, in order
        assert metric(hub, "tocsin_callback_given_up_total") == 0
        assert metric(hub, "tocsin_callback_retried_total") <= 13  # no hammering

        # Down again, and the hub restarts meanwhile: the endpoint and its cursor are durable.
        receiver.stop()
        retried = metric(hub, "tocsin_callback_retried_total")
        ids.append(issue(hub, "demo-air-force", (KYIV,), kind="missile")["id"])
        while metric(hub, "tocsin_callback_retried_total") == retried:
            pass  # until the hub has tried and failed
        hub.stop()
        receiver.start()
        hub.start()
        got = receiver.wait_events("org", 5, timeout=30)
        assert got[-1].data["data"]["id"] == ids[-1]
        assert [g.data["data"]["id"] for g in got if g.data["data"]["id"] == ids[-1]] == [ids[-1]]
        assert len({g.headers["webhook-id"] for g in got}) == len(ids)  # one idempotency id per event
        assert receiver.errors == []
    finally:
        hub.stop()


async def test_slow_and_failing_receivers_delay_neither_others_nor_live_streams(
        hub: HubProcess, receiver: Receiver) -> None:
    for name, kw in (("slow", {"held": True}), ("failing", {"always": 500}), ("fast", {})):
        receiver.endpoint(name, secret=new_secret(), **kw)
        made = await asyncio.to_thread(register, hub, receiver.hook_url(name), [KYIV],
                                       receiver.endpoints[name].secret)
        assert made.status_code == 201, made.text

    async def first_event() -> ServerEvent:
        async for event in follow(hub.url, regions=[KYIV]):
            if event.event == "alert":
                return event
        raise AssertionError("stream ended")

    live = asyncio.create_task(first_event())
    async with httpx.AsyncClient() as http:
        for _ in range(400):  # until the SSE subscriber is registered
            if (await http.get(f"{hub.url}/healthz")).json()["subscribers"] >= 1:
                break
    alert = await asyncio.to_thread(issue, hub, "demo-air-force", (KYIV,))
    event = await asyncio.wait_for(live, 10)
    assert event.json()["id"] == alert["id"]
    [fast] = await asyncio.to_thread(receiver.wait_events, "fast", 1)
    assert fast.data["data"]["id"] == alert["id"]
    assert receiver.of("slow", "event", status_ok=False) == []  # still held
    await asyncio.to_thread(receiver.wait_for,
                            lambda: len(receiver.of("failing", "event", status_ok=False)) >= 1)
    second = await asyncio.to_thread(issue, hub, "demo-air-force", (KYIV,), kind="missile")
    got = await asyncio.to_thread(receiver.wait_events, "fast", 2)
    assert got[1].data["data"]["id"] == second["id"]  # while the others still wait or fail
    receiver.release()
    slow = await asyncio.to_thread(receiver.wait_events, "slow", 2)
    assert [g.data["data"]["id"] for g in slow] == [alert["id"], second["id"]]
    assert receiver.errors == []


def test_only_public_https_receivers_unless_allowed(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data")  # no callback_allowed_hosts
    hub.start()
    try:
        def refused(url: str) -> None:
            answer = register(hub, url, [KYIV])
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["error"]["code"] == "webhook_url_refused", url

        for url in ("http://example.org/hook", "https://10.1.2.3/hook", "https://[::1]/hook",
                    "https://169.254.169.254/latest", "https://localhost/hook",
                    "https://127.0.0.1/hook", "https://user:pw@127.0.0.2/hook", "ftp://127.0.0.1/x",
                    "https://[64:ff9b::7f00:1]/hook", "https://192.0.0.8/hook",
                    "https://faß.evil.test/hook"):
            refused(url)
        form = {"hub.mode": "subscribe", "hub.topic": f"{hub.url}/feeds/alerts.atom",
                "hub.callback": "https://10.0.0.1/sub"}
        answer = httpx.post(f"{hub.url}/websub", data=form)
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == "websub_callback_refused"
        assert metric(hub, "tocsin_callback_targets") == 0
    finally:
        hub.stop()


def test_bad_registrations_are_refused_with_catalogued_errors(hub: HubProcess) -> None:
    url = f"{hub.url}/api/v1/webhooks"

    def refused(body: object, code: str, status: int) -> None:
        answer = httpx.post(url, json=body)
        assert answer.status_code == status, answer.text
        assert answer.json()["error"]["code"] == code

    good = "http://127.0.0.1:9/hook"
    refused([], "bad_webhook", 400)
    refused({"url": good, "regions": "UA80"}, "bad_webhook", 400)
    refused({"url": good, "regions": []}, "bad_webhook", 400)
    refused({"url": good, "regions": ["UA99"]}, "unknown_region", 404)
    refused({"url": good, "regions": [KYIV], "kinds": ["no-such-kind"]}, "bad_webhook", 400)
    refused({"url": good, "regions": [KYIV], "signing_secret": "hunter2"}, "bad_webhook", 400)
    refused({"url": good, "regions": [KYIV]}, "webhook_not_verified", 422)  # nothing listens
    assert httpx.post(url, content=b"{").json()["error"]["code"] == "bad_webhook"
    missing = httpx.get(f"{url}/wh_nothing", headers=owner("x"))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "webhook_not_found"
    assert httpx.get(f"{url}/wh_nothing").json()["error"]["code"] == "bad_webhook_secret"
    # Refused registrations (each may have cost a check request) count as refused writes.
    codes = {httpx.post(url, json={"url": good, "regions": [KYIV]}).json()["error"]["code"]
             for _ in range(30)}
    assert codes == {"webhook_not_verified", "rate_limited"}


def test_dead_letters_survive_a_restart_and_replay_in_order(tmp_path: Path, receiver: Receiver) -> None:
    # One callback second lasts 10 ms; events are given up 100 callback seconds (1 s) after
    # the hub received them.
    env = {**ALLOW, "TOCSIN_CALLBACK_TIME_SCALE": "0.01", "TOCSIN_CALLBACK_RETRY_SECS": "100"}
    hub = HubProcess(tmp_path / "data", env=env)
    hub.start()
    try:
        receiver.endpoint("org", secret=new_secret(), always=500)
        made = register(hub, receiver.hook_url("org"), [KYIV], receiver.endpoints["org"].secret)
        assert made.status_code == 201
        hook_id, secret = made.json()["id"], made.json()["secret"]
        letters_url = f"{hub.url}/api/v1/webhooks/{hook_id}/dead-letters"
        ids = [issue(hub, "demo-air-force", (KYIV,))["id"],
               issue(hub, "demo-air-force", (KYIV,), kind="missile")["id"]]
        letters: list[dict[str, object]] = []
        while len(letters) < 2:  # poll the owner's view until both were given up
            letters = httpx.get(letters_url, headers=owner(secret)).json()["dead_letters"]
        assert [d["reason"] for d in letters] == ["http_500", "http_500"]
        failed_ids = {g.headers["webhook-id"] for g in receiver.of("org", "event", status_ok=False)}
        assert {d["webhook_id"] for d in letters} == failed_ids

        hub.stop()
        hub.start()  # the endpoint, its cursor and its dead letters are durable
        assert httpx.get(letters_url, headers=owner("not-the-secret")).status_code == 401
        shown = httpx.get(f"{hub.url}/api/v1/webhooks/{hook_id}", headers=owner(secret)).json()
        assert shown["dead_letters"] == 2 and shown["url"] == receiver.hook_url("org")
        assert httpx.get(letters_url, headers=owner(secret)).json()["dead_letters"] == letters

        receiver.endpoints["org"].always = None  # healthy again
        replay = httpx.post(f"{letters_url}/replay", headers=owner(secret))
        assert replay.status_code == 202 and replay.json() == {"replaying": 2}
        got = receiver.wait_events("org", 2)
        assert [g.data["data"]["id"] for g in got] == ids
        assert [g.headers["webhook-id"] for g in got] == [d["webhook_id"] for d in letters]
        while httpx.get(letters_url, headers=owner(secret)).json()["dead_letters"]:
            pass  # the list empties once each replayed letter was taken
        third = issue(hub, "demo-air-force", (KYIV,), kind="drone")["id"]
        got = receiver.wait_events("org", 3)
        assert got[2].data["data"]["id"] == third  # the cursor moved past the dead events

        deleted = httpx.delete(f"{hub.url}/api/v1/webhooks/{hook_id}", headers=owner(secret))
        assert deleted.status_code == 204
        assert httpx.get(letters_url, headers=owner(secret)).status_code == 404
        assert receiver.errors == []
    finally:
        hub.stop()
