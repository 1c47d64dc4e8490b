"""The callback store keeps its contract (tocsin.callbacks.store) across reopening, on both
backends: SQLite (a file in the data directory) and PostgreSQL (the hub's shared database)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tocsin.callbacks.pg_store import PostgresCallbackStore
from tocsin.callbacks.sender import callback_store_for
from tocsin.callbacks.store import CallbackStore, DeadLetter, SqliteCallbackStore, new_signing_secret
from tocsin.config import Settings
from tocsin.store.base import StorageUnavailable
from tocsin.testing_postgres import PostgresServer

Opener = Callable[[], CallbackStore]


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the same store again each call (a restart, or another writer on the database)."""
    opened: list[CallbackStore] = []
    if request.param == "sqlite":
        path = tmp_path / "callbacks.sqlite3"

        def make() -> CallbackStore:
            return SqliteCallbackStore(path)
    else:
        dsn = request.getfixturevalue("postgres").create_database()

        def make() -> CallbackStore:
            return PostgresCallbackStore(dsn)

    def opener() -> CallbackStore:
        store = make()
        opened.append(store)
        return store

    yield opener
    for store in opened:
        store.close()


def test_targets_cursors_and_dead_letters_survive_reopening(open_store: Opener) -> None:
    store = open_store()
    hook, owner = store.add_webhook(url="https://example.org/h", regions=["UA1", "UA2"],
                                    kinds=["missile"], signing_secret=new_signing_secret(),
                                    cursor=7, now=1.0)
    sub = store.subscribe_websub(callback="https://example.org/s", topic="t", regions=[],
                                 secret="s1", expires=100.0, cursor=3, now=1.0)
    store.save_cursors([(hook.id, 9), (sub.id, 5)])
    store.save_cursors([(hook.id, 8)])  # a cursor never goes back
    store.add_dead_letter(DeadLetter(hook.id, 8, "http_500", 4, 2.0))
    store.add_dead_letter(DeadLetter(hook.id, 8, "network", 2, 3.0))  # given up again: added up
    renewed = store.subscribe_websub(callback="https://example.org/s", topic="t", regions=[],
                                     secret=None, expires=200.0, cursor=99, now=2.0)
    assert renewed.id == sub.id and renewed.cursor == 5  # a renewal keeps its place
    store.close()

    store = open_store()
    got = store.get(hook.id)
    assert got is not None and got.cursor == 9 and got.regions == ("UA1", "UA2")
    assert got.kinds == ("missile",) and got.signing_secret == hook.signing_secret
    assert store.owned(hook.id, owner) == got
    assert store.owned(hook.id, owner + "x") is False
    assert store.owned("wh_nothing", owner) is None
    assert store.owned(sub.id, owner) is None  # a WebSub subscription has no owner secret
    found = store.find_websub("https://example.org/s", "t")
    assert found is not None and found.expires == 200.0 and found.signing_secret is None
    assert found.regions == () and found.kinds == ()
    assert [t.id for t in store.all()] == [hook.id, sub.id]
    assert store.dead_letters(hook.id) == [DeadLetter(hook.id, 8, "network", 6, 3.0)]
    store.add_dead_letter(DeadLetter(hook.id, 10, "refused", 1, 4.0))
    store.remove_dead_letter(hook.id, 8)
    assert [d.event_id for d in store.dead_letters(hook.id)] == [10]
    assert store.delete(hook.id)
    assert not store.delete(hook.id)
    assert store.dead_letters(hook.id) == [] and store.get(hook.id) is None
    assert store.count() == 1


def test_a_stale_writer_cannot_move_a_cursor_back(open_store: Opener) -> None:
    """Two handles on one store (on PostgreSQL: the old leader and the new one): the one
    saving an older position leaves the newer one in place."""
    new, old = open_store(), open_store()
    hook, _ = new.add_webhook(url="https://example.org/h", regions=["UA1"], kinds=[],
                              signing_secret=new_signing_secret(), cursor=1, now=1.0)
    new.save_cursors([(hook.id, 40)])
    old.save_cursors([(hook.id, 12), ("wh_gone", 50)])  # a target deleted meanwhile: ignored
    got = open_store().get(hook.id)
    assert got is not None and got.cursor == 40


def test_the_hub_keeps_callbacks_in_its_postgresql_database(postgres: PostgresServer,
                                                             tmp_path: Path) -> None:
    dsn = postgres.create_database()
    store = callback_store_for(Settings(data_dir=tmp_path, store=dsn))
    try:
        assert isinstance(store, PostgresCallbackStore)
        store.add_webhook(url="https://example.org/h", regions=["UA1"], kinds=[],
                          signing_secret=new_signing_secret(), cursor=0, now=1.0)
    finally:
        store.close()
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT url, owner_sha256 FROM callback_targets").fetchone()
    assert row is not None and row[0] == "https://example.org/h" and len(row[1]) == 32
    assert not (tmp_path / "callbacks.sqlite3").exists()
    local = callback_store_for(Settings(data_dir=tmp_path))
    try:
        assert isinstance(local, SqliteCallbackStore)
    finally:
        local.close()


def test_postgresql_failing_is_storage_unavailable(postgres: PostgresServer) -> None:
    """The database refusing connections: every call is StorageUnavailable (the API's 503
    storage_unavailable), never a psycopg error; it works again once the database does."""
    dsn = postgres.create_database()
    name = dsn.rsplit("/", 1)[1].split("?")[0]
    store = PostgresCallbackStore(dsn, pool_timeout_secs=1.0)
    try:
        with psycopg.connect(postgres.dsn(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s", (name,))
            try:
                for call in (store.all, store.count, lambda: store.get("wh_x"),
                             lambda: store.save_cursors([("wh_x", 1)])):
                    with pytest.raises(StorageUnavailable):
                        call()
            finally:
                admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        assert store.count() == 0
    finally:
        store.close()
