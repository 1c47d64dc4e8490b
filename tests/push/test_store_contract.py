"""The push store contract (tocsin.push.store), run against every implementation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg
import pytest

from tocsin.api.openapi import push_paths
from tocsin.api.push_routes import push_routes
from tocsin.push.pgstore import PostgresPushStore
from tocsin.push.store import EndpointTaken, PushStore, PushSubscription, SqlitePushStore
from tocsin.store.base import StorageUnavailable
from tocsin.testing_postgres import PostgresServer


@dataclass
class Backend:
    """How to open one store again, and every byte it keeps on disk."""

    open: Callable[[], PushStore]
    disk: Callable[[], bytes]


def _sqlite(request: pytest.FixtureRequest, tmp: Path) -> Backend:
    def disk() -> bytes:
        return b"".join(p.read_bytes() for p in tmp.iterdir() if p.is_file())

    return Backend(lambda: SqlitePushStore(tmp / "push.sqlite3"), disk)


def _postgresql(request: pytest.FixtureRequest, tmp: Path) -> Backend:
    server: PostgresServer = request.getfixturevalue("postgres")  # CI: missing fails, never skips
    dsn = server.create_database()

    def disk() -> bytes:
        """The database's relation files (its own folder under base/), once written out."""
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            row = conn.execute("SELECT oid FROM pg_database WHERE datname = current_database()"
                               ).fetchone()
        assert row is not None
        return b"".join(p.read_bytes() for p in (server.data / "base" / str(row[0])).iterdir()
                        if p.is_file())

    return Backend(lambda: PostgresPushStore(dsn), disk)


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], Backend]] = {
    "sqlite": _sqlite, "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return BACKENDS[request.param](request, tmp_path)


@pytest.fixture
def store(backend: Backend) -> Iterator[PushStore]:
    made = backend.open()
    yield made
    made.close()


def _sub(endpoint: str = "https://push.example/abc", regions: tuple[str, ...] = ("UA80000000000093317",)
         ) -> PushSubscription:
    return PushSubscription(id="", endpoint=endpoint, p256dh=b"\x04" + b"k" * 64, auth=b"a" * 16,
                            regions=regions, points=((49.84, 24.03),), language="en")


def test_one_subscription_per_endpoint_and_a_new_secret_each_time(store: PushStore) -> None:
    first, secret1, created1 = store.upsert(_sub(), start_after=7)
    assert created1 and first.last_event == 7 and first.id
    for wrong in (None, "not-the-secret"):  # knowing an endpoint does not let anyone take it over
        with pytest.raises(EndpointTaken):
            store.upsert(_sub(regions=("UA63000000000041885",)), start_after=9, current_secret=wrong)
    kept = store.get(first.id)
    assert kept is not None and kept.regions != ("UA63000000000041885",)
    again, secret2, created2 = store.upsert(_sub(regions=("UA46060250000025047",)), start_after=9,
                                            current_secret=secret1)
    assert not created2 and again.id == first.id and secret2 != secret1
    assert again.last_event == 7  # an update keeps its place in the feed
    stored = store.get(first.id)
    assert stored is not None and stored.regions == ("UA46060250000025047",)
    assert stored.points == ((49.84, 24.03),) and stored.language == "en"
    assert store.count() == 1 and [s.id for s in store.all()] == [first.id]
    assert store.delete_with_secret(first.id, secret1) is False  # the old secret no longer works
    assert store.delete_with_secret(first.id, secret2) is True
    assert store.delete_with_secret(first.id, secret2) is None
    assert store.get(first.id) is None and store.count() == 0


def test_deleting_leaves_no_bytes_behind(store: PushStore, backend: Backend) -> None:
    sub, secret, _ = store.upsert(_sub("https://push.example/unique-endpoint-token"), start_after=0)
    other, _, _ = store.upsert(_sub("https://push.example/other-endpoint-token"), start_after=0)
    assert b"unique-endpoint-token" in backend.disk()  # the check can see a row's bytes
    assert store.delete_with_secret(sub.id, secret) is True
    assert b"unique-endpoint-token" not in backend.disk()
    assert store.delete(other.id)  # the sender's delete (a 404/410) leaves nothing either
    assert b"other-endpoint-token" not in backend.disk()


def test_secrets_are_never_stored(store: PushStore, backend: Backend) -> None:
    _, secret, _ = store.upsert(_sub(), start_after=0)
    store.close()
    assert secret.encode() not in backend.disk()


def test_progress_and_position_survive_reopening(backend: Backend) -> None:
    store = backend.open()
    a, _, _ = store.upsert(_sub("https://push.example/a"), start_after=3)
    b, _, _ = store.upsert(_sub("https://push.example/b"), start_after=3)
    assert store.position() is None
    store.save_progress(5, [(a.id, 6), (b.id, 4)])
    store.save_progress(None, [(a.id, 5)])  # never moves a mark back
    store.close()
    again = backend.open()
    assert again.position() == 5
    marks = {s.id: s.last_event for s in again.all()}
    assert marks == {a.id: 6, b.id: 4}
    assert again.delete(a.id) and not again.delete(a.id)
    again.close()


def test_a_shared_position_never_moves_back(postgres: PostgresServer) -> None:
    """Writers share the PostgreSQL store: a stale leader saving an older position after a
    takeover must not move the shared one back (the new leader would resend)."""
    dsn = postgres.create_database()
    new_leader, stale_leader = PostgresPushStore(dsn), PostgresPushStore(dsn)
    sub, _, _ = new_leader.upsert(_sub(), start_after=0)
    new_leader.save_progress(9, [(sub.id, 9)])
    stale_leader.save_progress(4, [(sub.id, 4)])
    assert new_leader.position() == 9 and stale_leader.position() == 9
    assert [s.last_event for s in new_leader.all()] == [9]
    new_leader.close()
    stale_leader.close()


def test_deletions_at_once_all_leave_no_bytes_behind(store: PushStore, backend: Backend) -> None:
    """Deletions racing each other (the sender's 410s, people unsubscribing) are all erased,
    though PostgreSQL coalesces their table rewrites."""
    made = [store.upsert(_sub(f"https://push.example/racing-token-{i:02d}"), start_after=0)
            for i in range(12)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        done = list(pool.map(lambda m: store.delete_with_secret(m[0].id, m[1]), made))
    assert done == [True] * 12 and store.count() == 0
    assert b"racing-token-" not in backend.disk()


def test_an_upgrade_moves_push_sqlite3_into_postgresql_once(postgres: PostgresServer,
                                                            tmp_path: Path) -> None:
    """A hub already on PostgreSQL kept push in push.sqlite3: the writer that creates the
    tables imports it and deletes it; a later (stale) copy is never imported."""
    path = tmp_path / "push.sqlite3"
    old = SqlitePushStore(path)
    a, secret_a, _ = old.upsert(_sub("https://push.example/a"), start_after=3)
    b, _, _ = old.upsert(_sub("https://push.example/b"), start_after=3)
    old.save_progress(5, [(a.id, 6)])
    old.close()
    dsn = postgres.create_database()
    store = PostgresPushStore(dsn)
    assert store.created and store.adopt(path) == 2
    assert not any(tmp_path.iterdir())  # no copy left to outlive anyone's unsubscribing
    assert {s.id: s.last_event for s in store.all()} == {a.id: 6, b.id: 3}
    assert store.get(a.id) == replace(a, last_event=6)  # every field came along
    assert store.position() == 5
    assert store.delete_with_secret(a.id, secret_a) is True  # its secret came along
    stale = SqlitePushStore(path)  # a standby's set-up copy, still holding a
    stale.upsert(_sub("https://push.example/a"), start_after=0)
    stale.close()
    again = PostgresPushStore(dsn)
    assert not again.created and again.adopt(path) == 0
    assert [s.id for s in again.all()] == [b.id] and path.exists()
    store.close()
    again.close()


def test_an_unreachable_database_is_storage_unavailable() -> None:
    """The API answers StorageUnavailable 503 storage_unavailable; the DSN is never repeated."""
    with pytest.raises(StorageUnavailable) as refused:
        PostgresPushStore(f"postgresql://u:hunter2@127.0.0.1:{_closed_port()}/x")
    assert "hunter2" not in str(refused.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_openapi_lists_exactly_the_push_routes() -> None:
    class _Hub:  # routes are built without touching the hub
        pass

    routed = {re.sub(r"\{(\w+):path\}", r"{\1}", r.path) for r in push_routes(_Hub())}  # type: ignore[arg-type, attr-defined]
    assert routed == set(push_paths())
