"""A sender's resume position and served marks in SQLite, shared by the push and email stores.

Each store keeps a ``<kind>_position`` table (one row, ``name = 'sender'``) and a
``<kind>_subscriptions`` table with a ``last_event`` column. ``save_progress`` writes both in one
transaction, so a restart never sees a position ahead of the served marks it depends on; a mark
only moves forward (``MAX``). The caller holds its store's lock; table names come from code, never
from input.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

__all__ = ["load_position", "save_progress"]


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
