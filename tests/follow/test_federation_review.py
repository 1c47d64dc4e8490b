"""Review of the federation follower: a followed hub's genuine alert must not be lost, nor
shown as less than it is, because of a passing fault or a second feed carrying its bytes.

* A registry fetch that fails once (a hostile network can drop that one connection: every
  request is its own connection, in a fixed order) must not refuse the hub's alerts for
  ever — refusals are never retried — it is tried again at the next poll.
* A plain CAP feed that carries the same bytes as a followed hub's alert (an aggregator
  relaying it, or a hostile feed racing the hub) must not keep that alert "relayed,
  unverified" and away from the organisations' rule: the hub's follower verifies it and the
  verdict becomes "from hub X, verified".

Real servers: hub A (``tocsin serve``), a front of A whose registry can be made to fail, and a
plain CAP feed; the followers are the hub's own ``FeedFollower``, polled once at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.compose import AlertFacts, compose_alert
from tocsin.follow.config import FollowedFeed, feed_from_table
from tocsin.follow.fetch import new_client
from tocsin.follow.follower import FeedFollower, FollowMetrics
from tocsin.follow.store import RelayStore
from tocsin.issue import alert_id_for
from tocsin.regions import default_region_set
from tocsin.testing import HubProcess, serve_asgi

from .servers import atom, cap_feed_app

KYIV = "UA80000000000093317"
pytestmark = pytest.mark.timeout(180)


@dataclass
class Front:
    url: str
    registry_fails: list[bool]  # [True, ...]: registry requests answer 502 (one more item each)


def front_app(hub_url: str, shown: list[str], registry_fails: list[bool]) -> Starlette:
    """A's feed listing ``shown``; every part from A; the registry failing while told to."""

    async def forward(request: Request) -> Response:
        if request.url.path == "/api/v1/registry" and registry_fails[0]:
            registry_fails.append(True)  # one more failure served
            return Response(b"bad gateway", status_code=502)
        async with httpx.AsyncClient() as client:
            upstream = await client.get(hub_url + request.url.path)
        return Response(upstream.content, status_code=upstream.status_code,
                        media_type=upstream.headers.get("content-type"))

    async def feed(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return Response(atom([f"{base}/api/v1/alerts/{i}/cap" for i in shown]),
                        media_type="application/atom+xml")

    return Starlette(routes=[Route("/feeds/alerts.atom", feed),
                             Route("/api/v1/alerts/{alert_id}/{part}", forward),
                             Route("/checkpoint", forward), Route("/api/v1/registry", forward)])


@dataclass
class World:
    a: HubProcess
    front: str
    shown: list[str]
    registry_fails: list[bool]
    plain: str
    documents: dict[str, bytes]
    plain_names: list[str]
    feeds: dict[str, list[str]]

    def hub_feed(self, name: str = "hub-a") -> FollowedFeed:
        return feed_from_table({"name": name, "url": f"{self.front}/feeds/alerts.atom", "kind": "tocsin",
                                "registry_root": str(self.a.data_dir / "registry-root.pub"),
                                "log_key": str(self.a.data_dir / "log.pub"),
                                "witness_policy": str(self.a.data_dir / "witness-policy.txt")}, Path("/"), 0)

    def issue(self, headline: str, sent: datetime | None = None) -> tuple[str, bytes]:
        alert = compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,), kind="air-raid",
                                         headline=headline, expires_in=timedelta(hours=5), sent=sent))
        with self.a.client() as client:
            alert_id = str(client.issue(alert, self.a.signer("demo-air-force"))["id"])
        return alert_id, httpx.get(f"{self.a.url}/api/v1/alerts/{alert_id}/cap", timeout=10).content


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("federation-review")
    with ExitStack() as stack:
        # A hub that (misbehaving) accepts alerts sent long ago: the follower must catch replays.
        a = HubProcess(root / "a", env={"TOCSIN_MAX_SENT_AGE_SECS": "100000"})
        a.start()
        stack.callback(a.stop)
        shown: list[str] = []
        fails = [False]
        front = stack.enter_context(serve_asgi(front_app(a.url, shown, fails)))
        documents: dict[str, bytes] = {}
        names: list[str] = []
        feeds = {"plain": names}
        plain = stack.enter_context(serve_asgi(cap_feed_app(documents, feeds)))
        yield World(a, front, shown, fails, plain, documents, names, feeds)


def follower(feed: FollowedFeed, store: RelayStore) -> FeedFollower:
    return FeedFollower(feed, store=store, regions=default_region_set(),
                        allowed_hosts=frozenset({"127.0.0.1"}), metrics=FollowMetrics(CollectorRegistry()),
                        max_sent_age_secs=600.0)


def poll_until_taken(*followers: FeedFollower, alert_id: str, store: RelayStore,
                     trust: str | None = None) -> dict[str, Any] | None:
    """Poll each follower in turn until the alert is relayed (with ``trust`` if given) or
    refused (its proof may be pending for a moment: A signs a checkpoint about every second);
    bounded."""

    def done() -> bool:
        row = store.get(alert_id)
        if row is not None and (trust is None or row["trust"] == trust):
            return True
        return any(store.was_refused(f.feed.name, alert_id) for f in followers)

    async def run() -> dict[str, Any] | None:
        async with new_client() as client:
            for _ in range(100):
                for each in followers:
                    await each.poll(client)
                if done():
                    return store.get(alert_id)
                await asyncio.sleep(0.2)  # paces the polls while A signs the checkpoint
        return store.get(alert_id)

    return asyncio.run(run())


def test_a_registry_fetch_that_fails_once_does_not_refuse_the_hubs_alert_for_ever(world: World) -> None:
    store = RelayStore(":memory:")
    hub = follower(world.hub_feed(), store)
    alert_id, _ = world.issue("the registry fetch fails once")
    world.shown[:] = [alert_id]
    world.registry_fails[0] = True
    try:
        async def once() -> None:
            async with new_client() as client:
                await hub.poll(client)

        asyncio.run(once())
        assert len(world.registry_fails) > 1  # the registry request failed
    finally:
        world.registry_fails[:] = [False]
    row = poll_until_taken(hub, alert_id=alert_id, store=store)
    assert row is not None, store.refusals("hub-a")
    assert row["trust"] == "verified" and row["words"] == "from hub hub-a, verified"
    store.close()


def test_a_plain_feed_carrying_a_hubs_alert_does_not_keep_it_unverified(world: World) -> None:
    store = RelayStore(":memory:")
    hub = follower(world.hub_feed(), store)
    plain = follower(FollowedFeed(name="aggregator", url=f"{world.plain}/plain.atom", kind="cap"), store)
    alert_id, cap = world.issue("also carried by an aggregator")
    world.documents["copy.xml"] = cap
    world.plain_names.append("copy.xml")
    world.shown[:] = [alert_id]
    row = poll_until_taken(plain, alert_id=alert_id, store=store)  # the aggregator is first
    assert row is not None and row["trust"] == "unverified"
    taken: list[tuple[str, str, int]] = []

    async def seen(feed: str, alert_id: str, alert: Any, index: int) -> None:
        taken.append((feed, alert_id, index))

    hub.on_verified = seen
    row = poll_until_taken(hub, plain, alert_id=alert_id, store=store, trust="verified")
    assert row is not None and row["trust"] == "verified", (row, store.refusals("hub-a"))
    assert row["feed"] == "hub-a" and row["words"] == "from hub hub-a, verified"
    assert [t[:2] for t in taken] == [("hub-a", alert_id)]  # the organisations' rule hears of it
    held = store.get_bytes(alert_id)
    assert held is not None and held[0] == cap and held[1] and held[2]
    store.close()


def test_one_dead_entry_does_not_stop_every_newer_alert_of_a_feed(world: World) -> None:
    """A feed entry whose document cannot be fetched (a dead link, common in real CAP feeds;
    an id the hub does not serve) is skipped for this poll, not the end of the poll: entries
    are taken oldest first, so one old dead link kept every newer alert out for ever."""
    store = RelayStore(":memory:")
    hub = follower(world.hub_feed(), store)
    plain = follower(FollowedFeed(name="dead-links", url=f"{world.plain}/dead.atom", kind="cap"), store)
    alert_id, cap = world.issue("newer than a dead entry")
    world.shown[:] = [alert_id, "0" * 32]  # newest first: the dead one is older
    world.documents["live.xml"] = cap.replace(b"newer than a dead entry", b"a plain copy", 1)
    world.feeds["dead"] = ["live.xml", "gone.xml"]
    row = poll_until_taken(hub, alert_id=alert_id, store=store)
    assert row is not None and row["trust"] == "verified", store.refusals("hub-a")
    plain_id = alert_id_for(world.documents["live.xml"])
    row = poll_until_taken(plain, alert_id=plain_id, store=store)
    assert row is not None and row["trust"] == "unverified"
    store.close()


def test_a_feed_that_drips_its_answer_is_given_up_on(world: World) -> None:
    """A feed answering a byte every second never trips a per-read timeout; without a limit
    on the whole fetch it held its follower (and ``tocsin follow --once``) for as long as it
    liked. Now a fetch ends after ``TOTAL_SECS`` in all, as ``feed_unreachable``."""
    from starlette.responses import StreamingResponse

    from tocsin.follow.fetch import TOTAL_SECS

    async def drip(request: Request) -> StreamingResponse:
        async def body() -> Any:
            yield b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>'
            for _ in range(int(TOTAL_SECS) * 4):
                await asyncio.sleep(1.0)  # the hostile server's pace, not a wait in the test
                yield b"x"
            yield b"</title></feed>"

        return StreamingResponse(body(), media_type="application/atom+xml")

    with serve_asgi(Starlette(routes=[Route("/drip.atom", drip)])) as origin:
        store = RelayStore(":memory:")
        slow = follower(FollowedFeed(name="drip", url=f"{origin}/drip.atom", kind="cap"), store)

        async def once() -> float:
            loop = asyncio.get_running_loop()
            started = loop.time()
            async with new_client() as client:
                await slow.poll(client)
            return loop.time() - started

        took = asyncio.run(once())
        store.close()
    assert took < TOTAL_SECS * 2, took
    error = slow.status.last_error
    assert error is not None and error["code"] == "feed_unreachable" and "in all" in error["message"], error


def test_a_replayed_alert_the_feed_withholds_for_a_poll_is_still_refused(world: World) -> None:
    """The back-dating rule: an entry logged after a checkpoint this follower verified at T
    may not be sent long before T. It was judged against the checkpoint of the *previous
    poll*, so a feed that listed the replayed entry one poll late (after a checkpoint holding
    it was seen) got it past the rule and shown as verified. Now each entry is judged
    against the last checkpoint seen that did not hold it."""
    store = RelayStore(":memory:")
    hub = follower(world.hub_feed(), store)
    world.shown[:] = []

    async def poll_until(condition: Any) -> None:
        async with new_client() as client:
            for _ in range(100):
                await hub.poll(client)
                if condition():
                    return
                await asyncio.sleep(0.2)  # paces the polls while A signs its checkpoint
        raise AssertionError("timed out")

    asyncio.run(poll_until(lambda: store.state("hub-a")[1] is not None))
    sent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)
    alert_id, _ = world.issue("replayed, withheld for a poll", sent=sent)
    # The feed withholds it until this follower has seen a checkpoint that holds it.
    index = until_proof_index(world, alert_id)
    asyncio.run(poll_until(lambda: (store.state("hub-a")[1] or 0) > index))
    world.shown[:] = [alert_id]
    row = poll_until_taken(hub, alert_id=alert_id, store=store)
    refusals = {r["subject"]: r for r in store.refusals("hub-a")}
    assert row is None, row
    assert refusals[alert_id]["code"] == "stale_alert", refusals
    store.close()


def until_proof_index(world: World, alert_id: str) -> int:
    """The alert's index in A's log, once A serves its proof."""
    from tocsin.tlog.proof import parse_proof_bundle

    async def run() -> int:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                response = await client.get(f"{world.a.url}/api/v1/alerts/{alert_id}/proof")
                if response.status_code == 200:
                    return parse_proof_bundle(response.content).index
                await asyncio.sleep(0.1)  # paces the reads while A signs its checkpoint
        raise AssertionError("no proof")

    return asyncio.run(run())


def test_alerts_logged_while_a_witness_was_down_are_taken_once_it_cosigns(tmp_path: Path) -> None:
    """A hub never stops for a witness: while one is down its checkpoints carry fewer
    cosignatures, and its proofs are served under them. The follower's quorum is then not
    met — but the alert *is* in the log under the hub's key. That was a final ``not_logged``
    refusal, so every alert of a witness outage was lost to the follower for ever. Now it is
    tried again until a checkpoint with the quorum covers it."""
    from tocsin.services.witness import Witness
    from tocsin.services.witness_http import witness_app
    from tocsin.tlog.checkpoint import Cosigner
    from tocsin.trust.note import Verifier

    cosigner = Cosigner.generate("witness.test")
    holder: dict[str, Any] = {}

    async def outage_or_witness(scope: Any, receive: Any, send: Any) -> None:
        app = holder.get("app")
        if app is None:  # down
            await Response(b"down for maintenance", status_code=503)(scope, receive, send)
        else:
            await app(scope, receive, send)

    with ExitStack() as stack:
        witness_url = stack.enter_context(serve_asgi(outage_or_witness))
        policy = tmp_path / "a-witnesses.txt"
        policy.write_text(f"witness w {cosigner.verifier().vkey} {witness_url}\nquorum 0\n")
        a = HubProcess(tmp_path / "a", env={"TOCSIN_WITNESS_POLICY": str(policy)})
        a.start()
        stack.callback(a.stop)
        shown: list[str] = []
        front = stack.enter_context(serve_asgi(front_app(a.url, shown, [False])))
        ours = tmp_path / "b-policy.txt"  # the follower requires this witness
        ours.write_text(f"witness w {cosigner.verifier().vkey}\nquorum 1\n")
        feed = feed_from_table({"name": "hub-a", "url": f"{front}/feeds/alerts.atom", "kind": "tocsin",
                                "registry_root": str(a.data_dir / "registry-root.pub"),
                                "log_key": str(a.data_dir / "log.pub"),
                                "witness_policy": str(ours)}, Path("/"), 0)
        store = RelayStore(":memory:")
        hub = follower(feed, store)
        world = World(a, front, shown, [False], "", {}, [], {})
        during, _ = world.issue("logged while the witness is down")
        shown[:] = [during]
        until_proof_index(world, during)
        asyncio.run(_poll_times(hub, 3))
        assert store.get(during) is None
        assert not store.was_refused("hub-a", during), store.refusals("hub-a")
        # Said as what it is — the checkpoint lacks the quorum, the alert waits for it — not
        # as a crash of the follower (an "internal" error and a traceback at every outage).
        error = hub.status.last_error
        assert error is None or error["code"] != "internal", error
        assert hub.status.pending == 1, hub.status
        assert any("witness" in r["reason"] for r in store.refusals("hub-a")), store.refusals("hub-a")

        log_key = Verifier.from_vkey((a.data_dir / "log.pub").read_text().strip())
        holder["app"] = witness_app(Witness(cosigner, {log_key.name: log_key}, tmp_path / "w.sqlite3"))
        after, _ = world.issue("logged once the witness is back")  # A signs (and asks) again
        shown[:] = [after, during]
        row = poll_until_taken(hub, alert_id=during, store=store)
        assert row is not None and row["trust"] == "verified", store.refusals("hub-a")
        assert "cosigned by 1 witness" in row["detail"]
        store.close()


async def _poll_times(each: FeedFollower, times: int) -> None:
    async with new_client() as client:
        for _ in range(times):
            await each.poll(client)


def test_a_kept_registry_that_no_longer_verifies_does_not_stop_the_follower(world: World) -> None:
    """The registry adopted for a feed is kept in ``relayed.sqlite3``; if it no longer
    verifies against the configured root (the operator replaced the root after the followed
    hub re-keyed, or the file was damaged), every poll ended in an ``internal`` error for
    ever. It is now set aside (reported) and the hub's current registry is fetched."""
    store = RelayStore(":memory:")
    store.save_registry("hub-a", b'{"not": "a registry"}')
    hub = follower(world.hub_feed(), store)
    alert_id, _ = world.issue("after the kept registry went bad")
    world.shown[:] = [alert_id]
    row = poll_until_taken(hub, alert_id=alert_id, store=store)
    assert row is not None and row["trust"] == "verified", (hub.status, store.refusals("hub-a"))
    assert any(r["subject"] == "registry" and r["code"] == "bad_registry" for r in store.refusals("hub-a"))
    store.close()
