"""An edge's read-only view of the SQLite store: sees every commit of the writer, writes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from tests.store.test_feed import _alert, _store

from tocsin.ledger.effects import state_rules
from tocsin.store.base import StoreError
from tocsin.store.sqlite import SqliteStore


def _readonly(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.sqlite3", rules=state_rules(lambda code: []), readonly=True)


def test_a_read_only_store_sees_each_commit_and_refuses_to_write(tmp_path: Path) -> None:
    writer = _store(tmp_path)
    reader = _readonly(tmp_path)
    try:
        assert reader.last_event_id() == 0
        stored = writer.append(_alert(1)).record
        assert reader.last_event_id() == stored.event_id  # no cache: the next read sees it
        assert [e.alert_id for e in reader.events_after(0)] == [stored.id]
        assert reader.get(stored.id) == writer.get(stored.id)
        with pytest.raises((sqlite3.OperationalError, StoreError)):
            reader.append(_alert(2))
        assert writer.last_event_id() == stored.event_id  # nothing was written
    finally:
        reader.close()
        writer.close()


def test_a_read_only_store_that_does_not_exist_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="start the writer first"):
        _readonly(tmp_path)
    assert not (tmp_path / "s.sqlite3").exists()
