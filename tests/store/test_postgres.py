"""What only a shared PostgreSQL store must do: survive a reopen, lead one writer at a time,
fence a stale leader, and ride out a server restart. A real server (the session's
``postgres`` fixture, or one of the test's own where it is restarted)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from tocsin.ledger.effects import state_rules
from tocsin.store.base import NotLeader, StorageUnavailable, StoreError
from tocsin.store.postgres import WRITER_LOCK_KEY, PostgresStore
from tocsin.testing_postgres import PostgresServer

from .test_contract import alert, ancestors, check_log, hromada

RULES = state_rules(ancestors)
RECOVERY_SECS = 15.0


@pytest.fixture
def dsn(postgres: PostgresServer) -> str:
    return postgres.create_database()


@pytest.fixture
def own_server(postgres: PostgresServer) -> Iterator[PostgresServer]:
    """A server of this test's own, to stop and start (the session's is shared)."""
    server = PostgresServer.create(postgres.bindir)
    yield server
    server.destroy()


def _lock_holder_pid(dsn: str) -> int:
    """The backend that holds the writer lock (what the server would end for a dead client)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s", (WRITER_LOCK_KEY,)).fetchone()
    assert row is not None, "nobody holds the writer lock"
    return int(row[0])


def test_everything_survives_a_reopen(dsn: str) -> None:
    first = PostgresStore(dsn, rules=RULES)
    assert first.acquire_leadership()
    first.append(alert(1))
    first.append(alert(2, kinds=("all-clear",), targets=hromada("H1a")))
    first.append_registry(b'{"v":1}')
    first.save_checkpoint(3, b"note", 1.0)
    last = first.last_event_id()
    first.close()
    again = PostgresStore(dsn, rules=RULES)
    try:
        assert again.last_event_id() == last and again.log_size() == 3
        record = again.get(f"{1:032x}")
        assert record is not None and record.targets["R1"] == "partial"
        assert again.latest_checkpoint() == (3, b"note")
        check_log(again)
    finally:
        again.close()


def test_writes_need_leadership_and_one_writer_leads(dsn: str) -> None:
    a, b = PostgresStore(dsn, rules=RULES), PostgresStore(dsn, rules=RULES)
    try:
        with pytest.raises(NotLeader):
            a.append(alert(1))  # never led: refused, nothing stored
        assert a.log_size() == 0 and a.get(f"{1:032x}") is None
        assert a.acquire_leadership() and a.is_leader() and a.fencing_token == 1
        assert not b.acquire_leadership() and not b.is_leader() and b.fencing_token is None
        assert not b.acquire_leadership(wait_secs=0.2)  # waits, the lock stays taken
        a.append(alert(1))
        a.release_leadership()
        assert not a.is_leader()
        with pytest.raises(NotLeader):
            a.append(alert(2))
        assert b.acquire_leadership() and b.fencing_token == 2
        assert b.append(alert(2)).created
        check_log(b)
    finally:
        a.close()
        b.close()


def test_a_stale_leader_is_fenced(dsn: str) -> None:
    """Two writers both believe they lead: the store refuses the stale one's commits."""
    a, b = PostgresStore(dsn, rules=RULES), PostgresStore(dsn, rules=RULES)
    try:
        assert a.acquire_leadership()
        a.append(alert(1))
        # A is paused; meanwhile the server ends its session (a dead client's locks are freed)
        # and B, the standby, takes over.
        with psycopg.connect(dsn, autocommit=True) as admin:
            # (with a timeout it returns once the session has ended and freed its locks;
            # without one it returns at once, and B's try-lock could run first)
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (_lock_holder_pid(dsn),))
        assert b.acquire_leadership()
        assert b.append(alert(2)).created
        # A resumes, still believing it leads: its token is unchanged, its commit refused.
        assert a.fencing_token == 1 and b.fencing_token == 2
        with pytest.raises(NotLeader):
            a.append_batch([alert(3), alert(4, kinds=("all-clear",), targets=hromada("H1a"))])
        with pytest.raises(NotLeader):
            a.append_registry(b'{"v":9}')
        assert a.fencing_token is None and not a.is_leader()
        assert b.get(f"{3:032x}") is None and b.log_size() == 2
        first = b.get(f"{1:032x}")
        assert first is not None and first.targets["H1a"] == "full"  # A's all-clear left no trace
        assert b.is_leader() and b.append(alert(5)).created
        check_log(b)
    finally:
        a.close()
        b.close()


def test_a_restart_fails_writes_and_reads_cleanly_then_recovers(own_server: PostgresServer) -> None:
    store = PostgresStore(own_server.create_database(), rules=RULES)
    try:
        assert store.acquire_leadership()
        store.append(alert(1))
        own_server.stop()
        with pytest.raises(StorageUnavailable):  # 503 with Retry-After at the API, never a 500
            store.append(alert(2))
        with pytest.raises(StorageUnavailable):
            store.get(f"{1:032x}")
        with pytest.raises(StorageUnavailable):
            store.events_after(0)
        assert not store.is_leader()  # cannot tell while the server is away
        own_server.start()
        assert store.is_leader() and store.fencing_token == 1  # nobody else led meanwhile
        assert store.append(alert(2)).created  # the same store, no reopen
        assert store.get(f"{2:032x}") is not None and store.log_size() == 2
        check_log(store)
    finally:
        store.close()


async def test_a_feed_follower_rides_out_a_restart(own_server: PostgresServer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A follower that reads while PostgreSQL is away keeps following when it returns."""
    import asyncio
    import time

    from tocsin.feed import EventFeed

    caplog.set_level("WARNING", logger="tocsin.feed")
    store = PostgresStore(own_server.create_database(), rules=RULES, pool_timeout_secs=0.3)
    try:
        assert store.acquire_leadership()
        first = store.append(alert(1)).record.event_id
        feed = EventFeed(store)
        got: list[int] = []

        async def follow() -> None:
            async for event in feed.follow(0):
                got.append(event.id)
                if len(got) == 2:
                    return

        task = asyncio.create_task(follow())
        own_server.stop()
        feed.notify(first)  # the follower reads now, with the server away
        deadline = time.monotonic() + RECOVERY_SECS
        while not task.done() and not any("unavailable" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "the follower never read"
            await asyncio.sleep(0.05)  # polling for the follower's failed read
        assert not task.done(), task.exception()  # it did not die of it
        await asyncio.to_thread(own_server.start)
        while True:  # the pool reconnects within about a second; a writer retries meanwhile
            try:
                second = (await asyncio.to_thread(store.append, alert(2))).record.event_id
                break
            except StorageUnavailable:
                assert time.monotonic() < deadline, "the store never recovered"
        feed.notify(second)
        await asyncio.wait_for(task, RECOVERY_SECS)
        assert got == [first, second]
    finally:
        store.close()


def test_a_nul_character_is_an_unknown_name_and_fails_its_own_alert_only(dsn: str) -> None:
    """PostgreSQL text cannot hold NUL: a read naming one finds nothing (as in SQLite), never a
    503; an alert holding one is refused alone, its batch neighbours stored (as any one bad alert)."""
    store = PostgresStore(dsn, rules=RULES)
    try:
        assert store.acquire_leadership()
        store.append(alert(1))
        assert store.get("0\x00") is None and store.find("af@test", "id-1\x00") is None
        assert store.list_alerts(regions=["O\x00"], kinds_any=["air-raid\x00"]) == []
        assert len(store.list_alerts(kinds_none=["x\x00"])) == 1
        bad = alert(3)
        bad = type(bad)(**{**{f: getattr(bad, f) for f in bad.__dataclass_fields__}, "event": "e\x00"})
        first, refused, third = store.append_batch([alert(2), bad, alert(4)])
        assert not isinstance(first, Exception) and first.created
        assert isinstance(refused, StoreError) and "NUL" in str(refused)
        assert not isinstance(third, Exception) and third.created
        assert store.get(f"{3:032x}") is None and store.log_size() == 3
        check_log(store)
    finally:
        store.close()


def test_a_stale_leader_cannot_save_a_checkpoint_or_say_where_it_listens(dsn: str) -> None:
    """The checkpoint row and the leader's address are fenced like every other write."""
    a, b = PostgresStore(dsn, rules=RULES), PostgresStore(dsn, rules=RULES)
    try:
        with pytest.raises(NotLeader):
            a.save_checkpoint(0, b"never led", 1.0)
        with pytest.raises(NotLeader):
            a.advertise_writer("http://10.0.0.1:8100")
        assert a.acquire_leadership()
        assert a.leader_url() is None  # taking the lead clears the last leader's address
        a.append(alert(1))
        a.save_checkpoint(1, b"one", 1.0)
        a.advertise_writer("http://10.0.0.1:8100")
        assert b.leader_url() == "http://10.0.0.1:8100"  # anyone reads it, no lead needed
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (_lock_holder_pid(dsn),))
        assert b.acquire_leadership()
        assert a.leader_url() is None  # the new epoch has no address until its writer is ready
        b.advertise_writer("http://10.0.0.2:8100")
        assert a.fencing_token == 1  # A still believes it leads
        with pytest.raises(NotLeader):
            a.save_checkpoint(2, b"stale", 2.0)
        with pytest.raises(NotLeader):
            a.advertise_writer("http://10.0.0.1:8100")
        assert b.latest_checkpoint() == (1, b"one") and b.leader_url() == "http://10.0.0.2:8100"
        b.append(alert(2))
        b.save_checkpoint(2, b"two", 3.0)
        assert a.latest_checkpoint() == (2, b"two")
    finally:
        a.close()
        b.close()
