"""The store contract (``tocsin.store.base.Store``), one suite run against every backend.

Backends: SQLite (the embedded default), memory (the reference) and PostgreSQL (a real
server the session starts, a database per test; the store leads the writers, as the hub's
writer does). Faults are injected through each store's
``inject_fault`` seam: a failure while writing the log leaf (a crash between steps) and a
failed commit. After every step the suite re-checks the log invariant: one leaf per stored
alert and registry version, and a root that matches the entries.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tocsin.ledger.effects import state_rules
from tocsin.store.base import AlertRecord, Conflict, NewAlert, Refused, SearchText, Store
from tocsin.store.memory import MemoryStore
from tocsin.store.postgres import PostgresStore
from tocsin.store.sqlite import SqliteStore
from tocsin.testing_postgres import PostgresServer
from tocsin.tlog.entry import alert_entry, decode_entry
from tocsin.tlog.tree import MemoryHashStore, tree_root

# A tiny country: oblast O; raions R1, R2; hromadas H1a, H1b (in R1), H2a (in R2).
PARENT = {"O": None, "R1": "O", "R2": "O", "H1a": "R1", "H1b": "R1", "H2a": "R2"}


def ancestors(code: str) -> list[str]:
    out, parent = [], PARENT.get(code)
    while parent is not None:
        out.append(parent)
        parent = PARENT[parent]
    return out


def oblast_wide() -> dict[str, Any]:
    return dict.fromkeys(PARENT, "full")


def hromada(code: str) -> dict[str, Any]:
    return {code: "full", **dict.fromkeys(ancestors(code), "partial")}


def alert(n: int, *, issuer: str = "af", msg_type: str = "Alert", status: str = "Actual",
          kinds: tuple[str, ...] = ("air-raid",), targets: dict[str, Any] | None = None,
          refs: tuple[tuple[str, str], ...] = (), cap: bytes | None = None,
          text: SearchText | None = None) -> NewAlert:
    return NewAlert(
        id=f"{n:032x}", cap=cap or f"<alert>{n}</alert>".encode(), statement=f"st{n}".encode(),
        issuer_id=issuer, key_id="00000000", sender=f"{issuer}@test", identifier=f"id-{n}",
        sent="2026-12-01T12:00:00+02:00", sent_ts=1000.0 + n, received_ts=1000.0 + n,
        expires_ts=None, msg_type=msg_type, status=status, kinds=kinds, event="e",
        targets=targets if targets is not None else oblast_wide(), references=refs,
        summary=b"{}", text=text,
    )


@pytest.fixture(params=["sqlite", "memory", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    rules = state_rules(ancestors)
    made: Store
    if request.param == "sqlite":
        made = SqliteStore(tmp_path / "s.sqlite3", rules=rules)
    elif request.param == "memory":
        made = MemoryStore(rules=rules)
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        made = PostgresStore(server.create_database(), rules=rules)
        assert made.acquire_leadership()
    yield made
    made.close()


def check_log(store: Store) -> None:
    """The log holds exactly one leaf per alert and registry version, and its root matches."""
    size = store.log_size()
    entries = store.log_entries(0, size)
    fresh = MemoryHashStore()
    fresh.append_entries(entries)
    assert tree_root(size, store.hash_reader()) == fresh.root()
    for entry in entries:
        decoded = decode_entry(entry)
        if decoded.type == "alert":
            alert_id = f"{int(decoded.statement[2:]):032x}"
            record = store.get(alert_id)
            assert record is not None and record.cap == decoded.cap


def test_append_is_readable_idempotent_and_logged(store: Store) -> None:
    first = store.append(alert(1))
    assert first.created and first.record.log_index == 0
    again = store.append(alert(1))
    assert not again.created and again.record.event_id == first.record.event_id
    assert store.log_size() == 1 and store.log_entries(0, 1) == [alert_entry(b"st1", b"<alert>1</alert>")]
    assert store.find("af@test", "id-1") == store.get(f"{1:032x}")
    with pytest.raises(Conflict):
        store.append(alert(1, cap=b"<alert>other bytes</alert>"))
    check_log(store)


def test_event_ids_strictly_increase_and_resume(store: Store) -> None:
    ids = [store.append(alert(n)).record.event_id for n in range(1, 6)]
    assert ids == sorted(ids) and len(set(ids)) == 5 and ids[0] > 0
    assert [e.id for e in store.events_after(ids[1])] == ids[2:]
    assert store.last_event_id() == ids[-1]
    assert [e.id for e in store.events_after(0, limit=2)] == ids[:2]


def test_references_follow_the_rulebook(store: Store) -> None:
    store.append(alert(1))
    store.append(alert(2, issuer="city"))
    size = store.log_size()
    with pytest.raises(Refused) as unknown:
        store.append(alert(3, msg_type="Cancel", kinds=(), refs=(("af@test", "id-99"),)))
    assert unknown.value.code == "unknown_reference"
    with pytest.raises(Refused) as foreign:
        store.append(alert(4, msg_type="Cancel", kinds=(), refs=(("city@test", "id-2"),)))
    assert foreign.value.code == "foreign_reference"
    with pytest.raises(Refused) as status:
        store.append(alert(5, msg_type="Cancel", kinds=(), status="Exercise",
                           refs=(("af@test", "id-1"),)))
    assert status.value.code == "status_mismatch"
    assert store.log_size() == size and store.get(f"{3:032x}") is None  # refusals leave no trace
    cancel = store.append(alert(6, msg_type="Cancel", kinds=(), refs=(("af@test", "id-1"),)))
    assert cancel.ended == (f"{1:032x}",)
    ended = store.get(f"{1:032x}")
    assert ended is not None and ended.ended_by == f"{6:032x}" and not ended.targets
    assert set(cancel.regions) == set(PARENT)  # everyone told of the alert hears it ended
    check_log(store)


def test_a_partial_all_clear_is_persisted_by_the_hierarchy_rule(store: Store) -> None:
    store.append(alert(1))
    store.append(alert(2, kinds=("all-clear",), targets=hromada("H1a")))
    record = store.get(f"{1:032x}")
    assert record is not None and record.ended_ts is None
    assert record.targets == {"O": "partial", "R1": "partial", "H1b": "full", "R2": "full",
                              "H2a": "full"}
    assert [r.id for r in store.list_alerts(regions=["H1a"], active_at=2000.0)] == []
    assert [r.id for r in store.list_alerts(regions=["H1b"], active_at=2000.0)] == [record.id]
    store.append(alert(3, kinds=("all-clear",), targets=hromada("H1b")))
    store.append(alert(4, kinds=("all-clear",), targets=hromada("H2a")))
    done = store.get(f"{1:032x}")
    assert done is not None and done.ended_by == f"{4:032x}" and not done.targets
    assert store.list_alerts(active_at=2000.0) == []


def test_an_all_clear_leaves_alerts_that_expired_before_it_alone(store: Store) -> None:
    """An expired alert is no longer in force (``is_active``), so an all-clear has nothing
    of it to end: it keeps its targets and no ending. (The store then never has to read the
    history of expired alerts to decide an all-clear: its cost follows what is in force.)"""
    import dataclasses

    store.append(dataclasses.replace(alert(1), expires_ts=1005.0))  # expired at 1005
    store.append(dataclasses.replace(alert(2), expires_ts=None))  # open-ended: in force
    store.append(dataclasses.replace(alert(3), expires_ts=5000.0))  # in force at 1010
    result = store.append(alert(10, kinds=("all-clear",), targets=oblast_wide()))
    assert sorted(result.ended) == [f"{2:032x}", f"{3:032x}"]
    expired = store.get(f"{1:032x}")
    assert expired is not None and expired.ended_ts is None and expired.targets == oblast_wide()
    for n in (2, 3):
        done = store.get(f"{n:032x}")
        assert done is not None and done.ended_by == f"{10:032x}" and not done.targets
    check_log(store)


def test_one_refusal_never_fails_its_neighbours(store: Store) -> None:
    results = store.append_batch([
        alert(1), alert(2, msg_type="Cancel", kinds=(), refs=(("af@test", "nope"),)), alert(3),
    ])
    assert [type(r).__name__ for r in results] == ["AppendResult", "Refused", "AppendResult"]
    assert store.get(f"{2:032x}") is None
    assert store.log_size() == 2
    check_log(store)


@pytest.mark.parametrize("step", ["leaf", "commit"])
def test_a_failed_write_stores_nothing_and_the_store_goes_on(store: Store, step: str) -> None:
    store.append(alert(1, text=words("тривога")))
    before = (store.log_size(), store.last_event_id())
    store.inject_fault(step)  # type: ignore[attr-defined]
    with pytest.raises(Exception) as failed:
        store.append_batch([alert(2, text=words("тривога")),
                            alert(3, kinds=("all-clear",), targets=hromada("H1a"))])
    assert not isinstance(failed.value, (Refused, Conflict))  # a storage failure, not a refusal
    assert (store.log_size(), store.last_event_id()) == before
    assert store.get(f"{2:032x}") is None and store.get(f"{3:032x}") is None
    assert store.text_stats(["тривога"]) == (1, {"тривога": 1})  # nor in the search history
    first = store.get(f"{1:032x}")
    assert first is not None and first.targets == oblast_wide()  # the all-clear left no trace
    check_log(store)
    assert store.append(alert(4)).created  # and the store still works
    check_log(store)


def words(*texts: str, keys: tuple[str, ...] = (), denial: bool = False) -> SearchText:
    return SearchText(infos=tuple(("uk", tuple(t.split())) for t in texts), keys=keys,
                      denial=denial)


def test_the_search_history_files_words_keys_and_denials_apart(store: Store) -> None:
    """What the check searches: word frequencies, postings, entries, newest per key."""
    one = store.append(alert(1, text=words("повітряна тривога київ", "air raid kyiv",
                                           keys=("r:H1a", "i:af")))).record
    store.append(alert(2))  # no text: not searchable
    store.append(alert(3, text=words("повітряна тривога львів 2", keys=("r:H2a", "i:af"))))
    store.append(alert(4, kinds=("denial",), targets={},
                       text=words("фейк тривога", keys=("d:" + "ab" * 32,), denial=True)))
    results = store.append_batch([alert(5, text=words("тривога")),
                                  alert(6, msg_type="Cancel", kinds=(), refs=(("af@test", "x"),),
                                        text=words("refused тривога", keys=("i:af",)))])
    assert isinstance(results[1], Refused)  # a refusal files nothing either
    count, df = store.text_stats(["тривога", "київ", "фейк", "refused", "невідоме"])
    assert (count, df) == (4, {"тривога": 3, "київ": 1})  # denials counted, not their words
    positions = store.text_postings("тривога")
    assert len(positions) == 3 and positions == sorted(positions)
    assert store.text_postings("kyiv") == positions[:1]
    assert store.text_postings("2") == positions[1:2]
    denials = store.text_postings("фейк", denial=True)
    assert len(denials) == 1 and store.text_postings("фейк") == []
    assert store.text_recent("d:" + "ab" * 32, 5) == denials
    assert store.text_recent("i:af", 5) == positions[1::-1]
    assert store.text_recent(None, 2) == [positions[2], denials[0]]
    assert store.text_recent("r:nowhere", 5) == [] and store.text_recent(None, 0) == []
    entries = store.text_entries([positions[0], denials[0], 10**9])
    assert set(entries) == {positions[0], denials[0]}
    first = entries[positions[0]]
    assert (first.id, first.issuer_id, first.sent_ts, first.kinds) == (
        one.id, "af", 1001.0, ("air-raid",))
    assert first.text == words("повітряна тривога київ", "air raid kyiv", keys=("r:H1a", "i:af"))
    assert entries[denials[0]].text.denial


def test_registry_versions_are_logged_once_each(store: Store) -> None:
    assert store.append_registry(b'{"v":1}') == 0
    assert store.append_registry(b'{"v":1}') is None
    store.append(alert(1))
    assert store.append_registry(b'{"v":2}') == 2
    assert store.last_logged_registry() == b'{"v":2}'
    check_log(store)


def test_checkpoints_keep_the_largest(store: Store) -> None:
    assert store.latest_checkpoint() is None
    store.save_checkpoint(1, b"one", 1.0)
    store.save_checkpoint(3, b"three", 2.0)
    store.save_checkpoint(1, b"one again", 3.0)
    assert store.latest_checkpoint() == (3, b"three")


def test_list_filters(store: Store) -> None:
    store.append(alert(1, kinds=("air-raid",), targets=hromada("H1a")))
    store.append(alert(2, kinds=("facility-closed",), targets=hromada("H2a")))
    store.append(alert(3, kinds=("denial",), targets={}))
    ids = lambda records: [int(r.id, 16) for r in records]  # noqa: E731
    assert ids(store.list_alerts()) == [3, 2, 1]
    assert ids(store.list_alerts(limit=2)) == [3, 2]
    assert ids(store.list_alerts(regions=["R1"])) == [1]
    assert ids(store.list_alerts(kinds_any=["facility-closed", "air-raid"])) == [2, 1]
    assert ids(store.list_alerts(kinds_none=["denial"])) == [2, 1]
    assert ids(store.list_alerts(since_ts=1002.0)) == [3, 2]


def test_sqlite_keeps_everything_across_a_reopen(tmp_path: Path) -> None:
    """Durability is the one promise the memory store cannot keep; SQLite must."""
    rules = state_rules(ancestors)
    first = SqliteStore(tmp_path / "s.sqlite3", rules=rules)
    first.append(alert(1))
    first.append(alert(2, kinds=("all-clear",), targets=hromada("H1a")))
    last = first.last_event_id()
    first.close()
    # Alerts stored without a search text (an older store) are filed when it is reopened.
    def text_of(record: AlertRecord) -> SearchText:
        return words(record.event)

    again = SqliteStore(tmp_path / "s.sqlite3", rules=rules, text_of=text_of)
    try:
        assert again.text_stats(["e"]) == (2, {"e": 2})
        assert again.last_event_id() == last and again.log_size() == 2
        record = again.get(f"{1:032x}")
        assert record is not None and record.targets["R1"] == "partial"
        check_log(again)
    finally:
        again.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def reopened(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Any]]:
    """A store on disk and a function reopening it as a hub's writer does, given ``text_of``."""
    rules = state_rules(ancestors)
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "s.sqlite3"

        def reopen_sqlite(text_of: Any) -> Store:
            opened.append(SqliteStore(path, rules=rules, text_of=text_of))
            return opened[-1]

        first: Store = SqliteStore(path, rules=rules)
        yield first, reopen_sqlite
    else:
        dsn = request.getfixturevalue("postgres").create_database()

        def reopen_postgres(text_of: Any) -> Store:
            store = PostgresStore(dsn, rules=rules)
            assert store.acquire_leadership()
            store.backfill_text(text_of)
            opened.append(store)
            return store

        first = PostgresStore(dsn, rules=rules)
        assert first.acquire_leadership()
        yield first, reopen_postgres
    for store in opened:
        store.close()


def test_alerts_stored_before_the_search_history_are_filed_on_open(
        reopened: tuple[Store, Any]) -> None:
    """A store that holds alerts without their search text (stored before it existed) files
    them when the writer opens it, in order, and only once."""
    first, reopen = reopened
    first.append(alert(1))
    first.append(alert(2))
    first.append(alert(3, text=words("вже подане")))
    first.append(alert(4))
    first.close()
    asked: list[str] = []

    def text_of(record: AlertRecord) -> SearchText | None:
        asked.append(record.id)
        return None if record.id == f"{4:032x}" else words(f"тривога номер{int(record.id, 16)}")

    store = reopen(text_of)
    assert asked == [f"{4:032x}"]  # after the last filed alert only (as SQLite always did)
    assert store.text_postings("вже") and store.text_postings("тривога") == []
    store.append(alert(5))
    store.close()
    asked.clear()
    again = reopen(text_of)
    assert asked == [f"{5:032x}"]
    assert len(again.text_postings("тривога")) == 1 and again.text_postings("номер5")


def test_postgresql_searches_words_through_a_full_text_index(postgres: Any) -> None:
    """The postings come from a GIN index over each alert's words (a tsvector of the exact
    normal-form words, no parser), never from a scan of the history."""
    import psycopg

    dsn = postgres.create_database()
    store = PostgresStore(dsn, rules=state_rules(ancestors))
    assert store.acquire_leadership()
    try:
        store.append(alert(1, text=words("повітряна тривога 3ракети o'neill")))
        store.append(alert(2, kinds=("denial",), targets={}, text=words("фейк", denial=True)))
        assert len(store.text_postings("3ракети")) == 1 and len(store.text_postings("o'neill")) == 1
        assert store.text_postings("фейк", denial=True) and not store.text_postings("фейк")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")
            for denial in (False, True):
                sql, params = PostgresStore.postings_query("тривога", denial=denial)
                plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + sql, params))
                assert "check_words" in plan or "check_denial_words" in plan, plan
                assert "Seq Scan" not in plan, plan
    finally:
        store.close()


def test_the_record_an_append_returns_is_what_the_store_reads_back(store: Store) -> None:
    import dataclasses

    made = [alert(1, kinds=("air-raid", "missile")), dataclasses.replace(alert(2), expires_ts=5000.0),
            alert(3, kinds=("all-clear",), targets=hromada("H1a")),
            alert(4, kinds=(), msg_type="Cancel", refs=(("af@test", "id-2"),)),
            alert(5, kinds=("denial",), targets={})]
    for new in made:
        returned = store.append(new).record
        assert returned == store.get(new.id), new.id
