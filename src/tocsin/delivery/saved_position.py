"""A sender's resume position and served marks in SQLite, shared by the push and email stores.

Each store keeps a ``<kind>_position`` table (one row, ``name = 'sender'``) and a
``<kind>_subscriptions`` table with a ``last_event`` column. ``save_progress`` writes both in one
transaction, so a restart never sees a position ahead of the served marks it depends on; a mark
only moves forward (``MAX``). The caller holds its store's lock; table names come from code, never
from input.

:class:`SubscriberFile` is the part of the push and email stores that is the same: the SQLite
file (WAL, fsync, ``secure_delete`` so a deleted person's bytes are overwritten), its lock, the
position, and forgetting old page images after a deletion.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

__all__ = ["SubscriberFile", "load_position", "save_progress"]


def load_position(conn: sqlite3.Connection, position_table: str) -> int | None:
    """The saved resume point (None: never saved)."""
    row = conn.execute(f"SELECT event_id FROM {position_table} WHERE name = 'sender'"  # noqa: S608
                       ).fetchone()
    return None if row is None else int(row[0])


def save_progress(conn: sqlite3.Connection, *, subscriptions_table: str, position_table: str,
                  position: int | None, served: Sequence[tuple[str, int]]) -> None:
    """Raise the served subscriptions' ``last_event`` and save ``position``, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if served:
            conn.executemany(f"UPDATE {subscriptions_table} SET last_event = MAX(last_event, ?) "  # noqa: S608
                             "WHERE id = ?", [(event_id, sid) for sid, event_id in served])
        if position is not None:
            conn.execute(f"INSERT INTO {position_table} (name, event_id) VALUES ('sender', ?) "  # noqa: S608
                         "ON CONFLICT (name) DO UPDATE SET event_id = excluded.event_id",
                         (position,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class SubscriberFile:
    """A sender's own SQLite file of subscriptions: schema, lock, resume position, erasure.

    Subclasses name their tables (``SUBSCRIPTIONS``, ``POSITION``) and schema (``SCHEMA``).
    Every statement runs under ``_lock`` (one connection shared by the loop's worker threads).
    """

    SCHEMA: ClassVar[str]
    SUBSCRIPTIONS: ClassVar[str]
    POSITION: ClassVar[str]

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")  # a deleted row's bytes are overwritten
        self._conn.executescript(self.SCHEMA)
        self._lock = threading.Lock()

    def _forget_old_pages(self) -> None:
        """Copy the WAL back and truncate it, so no old page image still holds a deleted row."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def position(self) -> int | None:
        with self._lock:
            return load_position(self._conn, self.POSITION)

    def save_progress(self, position: int | None, served: Sequence[tuple[str, int]]) -> None:
        with self._lock:
            save_progress(self._conn, subscriptions_table=self.SUBSCRIPTIONS,
                          position_table=self.POSITION, position=position, served=served)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
