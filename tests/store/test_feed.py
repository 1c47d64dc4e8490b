"""The event feed over a real SQLite store: resume from an id, then wait; in order; bounded."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tocsin.feed import EventFeed
from tocsin.ledger.effects import state_rules
from tocsin.store.base import NewAlert, StreamEvent
from tocsin.store.sqlite import SqliteStore


def _alert(n: int) -> NewAlert:
    return NewAlert(
        id=f"{n:032x}", cap=f"<alert>{n}</alert>".encode(), statement=b"statement",
        issuer_id="af", key_id="00000000", sender="af@test", identifier=f"id-{n}",
        sent="2026-12-01T12:00:00+02:00", sent_ts=1.0, received_ts=1.0, expires_ts=None,
        msg_type="Alert", status="Actual", kinds=("air-raid",), event="air raid",
        targets={"X": "full"}, summary=b'{"n": %d}' % n,
    )


def _store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3", rules=state_rules(lambda code: []))


async def test_followers_resume_then_wait_in_order(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        first = [store.append(_alert(n)).record.event_id for n in range(3)]
        feed = EventFeed(store, batch=2)  # smaller than the backlog: reads in pages
        seen: list[int] = []
        late: list[int] = []

        async def follow(after: int, into: list[int], want: int) -> None:
            async for event in feed.follow(after):
                into.append(event.id)
                if len(into) == want:
                    return

        task = asyncio.create_task(follow(0, seen, 5))
        resumed = asyncio.create_task(follow(first[1], late, 3))
        await asyncio.sleep(0)
        more = [store.append(_alert(n)).record.event_id for n in range(3, 5)]
        feed.notify(more[-1])
        await asyncio.wait_for(asyncio.gather(task, resumed), 5)
        assert seen == first + more
        assert late == [first[2], *more]
    finally:
        store.close()


async def test_a_follower_that_never_reads_delays_nobody(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        feed = EventFeed(store)
        stuck = feed.follow(0)  # started, never advanced
        got: list[int] = []

        async def follow() -> None:
            async for event in feed.follow(0):
                got.append(event.id)
                if len(got) == 50:
                    return

        task = asyncio.create_task(follow())
        last = 0
        for n in range(50):
            last = store.append(_alert(n)).record.event_id
            feed.notify(last)
        await asyncio.wait_for(task, 5)
        assert got[-1] == last and got == sorted(set(got))
        await stuck.aclose()
    finally:
        store.close()


def _committed(store: SqliteStore, n: int) -> StreamEvent:
    """Append like the hub's writer and return the event as it hands it to the feed."""
    record = store.append(_alert(n)).record
    return StreamEvent(record.event_id, "alert", record.id, ("X",), b"{}", received_ts=float(n))


async def test_a_follower_that_keeps_up_is_served_from_memory_without_gap(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        feed = EventFeed(store, recent=2)
        live = feed.follow(0)
        first = _committed(store, 1)
        feed.committed([first])
        got = await asyncio.wait_for(anext(live), 5)
        # Only the writer's hand-over knows when the alert was received: no store read.
        assert got == first and got.received_ts == 1.0
        # A follower that fell behind the window reads the store, then the window again.
        behind = [_committed(store, n) for n in range(2, 6)]
        feed.committed(behind)
        rest = [await asyncio.wait_for(anext(live), 5) for _ in behind]
        assert [e.id for e in rest] == [e.id for e in behind]
        assert [e.received_ts for e in rest] == [None] * 4  # read back in one page
        again = _committed(store, 7)
        feed.committed([again])
        assert (await asyncio.wait_for(anext(live), 5)).received_ts == 7.0
        # A doorbell from elsewhere carries no event: the window no longer covers it.
        other = _committed(store, 6)
        feed.notify(other.id)
        assert (await asyncio.wait_for(anext(live), 5)).received_ts is None
        await live.aclose()  # type: ignore[attr-defined]
    finally:
        store.close()


async def test_a_commit_of_unknown_outcome_is_read_from_the_store(tmp_path: Path) -> None:
    """PostgreSQL can lose the connection during COMMIT: the alert may be stored though the
    writer never handed its event over. Followers must still get it, in order."""
    store = _store(tmp_path)
    try:
        feed = EventFeed(store)
        live = feed.follow(0)
        first = _committed(store, 1)
        feed.committed([first])
        assert (await asyncio.wait_for(anext(live), 5)).id == first.id
        feed.uncertain()  # the writer's batch failed with its outcome unknown...
        lost = _committed(store, 2)  # ...and it was stored after all
        after = _committed(store, 3)
        feed.committed([after])
        got = [await asyncio.wait_for(anext(live), 5) for _ in range(2)]
        assert [e.id for e in got] == [lost.id, after.id]
        await live.aclose()  # type: ignore[attr-defined]
    finally:
        store.close()
