"""Webhook and WebSub targets in the hub's PostgreSQL database (:class:`CallbackStore`).

Why: with ``--store postgresql://…`` a leading writer and its standby share one database.
Targets kept in each writer's own ``callbacks.sqlite3`` would, after a failover, be the
standby's set-up copy (endpoints registered since missing, cursors stale). Here they are
tables of the shared database, so the writer that leads next serves the same targets from
the same positions.

The contract is :mod:`tocsin.callbacks.store`'s (``tests/callbacks/test_store.py`` runs
against both backends). Invariants specific to sharing:

* **Cursors only move forward**: ``GREATEST(cursor, new)``, so a stale leader still saving
  its older positions cannot move a target back (at worst an event is sent again, never
  skipped).
* **Owner secrets** are stored as SHA-256 only and compared in constant time in Python
  (:func:`hmac.compare_digest`), exactly as the SQLite store does.
* **Deletes really delete** the target row and its dead letters, in one transaction.
* The writer creates the tables (``IF NOT EXISTS``, under the schema advisory lock the hub's
  store uses, so two writers starting together do not race).
* Any PostgreSQL failure leaves as :class:`~tocsin.store.base.StorageUnavailable` (the API
  answers ``503 storage_unavailable``), never as a psycopg exception or a 500.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import psycopg

from tocsin.callbacks.store import WEBHOOK, WEBSUB, DeadLetter, Target, secret_hash
from tocsin.store.postgres import (
    CONNECT_TIMEOUT_SECS,
    POOL_TIMEOUT_SECS,
    SCHEMA_LOCK_KEY,
    check_dsn,
    open_pool,
    pooled,
    storage_error,
)

Conn = psycopg.Connection[tuple[Any, ...]]
#: Connections for the routes and the sender's saves (the hub's store has its own pool).
POOL_MAX = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_targets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    topic TEXT NOT NULL,
    regions TEXT[] NOT NULL,
    kinds TEXT[] NOT NULL,
    signing_secret TEXT,
    owner_sha256 BYTEA,
    expires DOUBLE PRECISION,
    cursor BIGINT NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    UNIQUE (kind, url, topic)
);
CREATE TABLE IF NOT EXISTS callback_dead_letters (
    target_id TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    dead_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (target_id, event_id)
);
"""

_COLUMNS = "id, kind, url, topic, regions, kinds, signing_secret, expires, cursor, created"


def _target(row: Sequence[Any]) -> Target:
    return Target(id=str(row[0]), kind=str(row[1]), url=str(row[2]), topic=str(row[3]),
                  regions=tuple(row[4]), kinds=tuple(row[5]),
                  signing_secret=None if row[6] is None else str(row[6]),
                  expires=None if row[7] is None else float(row[7]),
                  cursor=int(row[8]), created=float(row[9]))


class PostgresCallbackStore:
    """:class:`tocsin.callbacks.store.CallbackStore` in PostgreSQL (module docstring)."""

    def __init__(self, dsn: str, *, pool_max: int = POOL_MAX,
                 pool_timeout_secs: float = POOL_TIMEOUT_SECS) -> None:
        check_dsn(dsn)
        try:
            with psycopg.connect(dsn, autocommit=True,
                                 connect_timeout=CONNECT_TIMEOUT_SECS) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                conn.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise storage_error(exc) from exc
        self._pool = open_pool(dsn, "tocsin-callbacks", max_size=pool_max, timeout=pool_timeout_secs)

    def _conn(self) -> AbstractContextManager[Conn]:
        return pooled(self._pool)

    def add_webhook(self, *, url: str, regions: Sequence[str], kinds: Sequence[str],
                    signing_secret: str, cursor: int, now: float) -> tuple[Target, str]:
        owner = secrets.token_urlsafe(32)
        target = Target(id="wh_" + secrets.token_urlsafe(16), kind=WEBHOOK, url=url, topic="",
                        regions=tuple(regions), kinds=tuple(kinds), signing_secret=signing_secret,
                        expires=None, cursor=cursor, created=now)
        with self._conn() as conn:
            conn.execute(
                f"INSERT INTO callback_targets ({_COLUMNS}, owner_sha256) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (target.id, WEBHOOK, url, "", list(regions), list(kinds), signing_secret, None,
                 cursor, now, secret_hash(owner)))
        return target, owner

    def subscribe_websub(self, *, callback: str, topic: str, regions: Sequence[str],
                         secret: str | None, expires: float, cursor: int, now: float) -> Target:
        with self._conn() as conn:
            row = conn.execute(
                f"INSERT INTO callback_targets ({_COLUMNS}) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (kind, url, topic) DO UPDATE SET "
                "signing_secret = excluded.signing_secret, expires = excluded.expires "
                "RETURNING id, cursor, created",
                ("ws_" + secrets.token_urlsafe(16), WEBSUB, callback, topic, list(regions), [],
                 secret, expires, cursor, now)).fetchone()
        assert row is not None  # INSERT ... RETURNING always returns the row
        return Target(id=str(row[0]), kind=WEBSUB, url=callback, topic=topic,
                      regions=tuple(regions), kinds=(), signing_secret=secret, expires=expires,
                      cursor=int(row[1]), created=float(row[2]))

    def find_websub(self, callback: str, topic: str) -> Target | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM callback_targets "  # noqa: S608
                               "WHERE kind = %s AND url = %s AND topic = %s",
                               (WEBSUB, callback, topic)).fetchone()
        return None if row is None else _target(row)

    def get(self, target_id: str) -> Target | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM callback_targets "  # noqa: S608
                               "WHERE id = %s", (target_id,)).fetchone()
        return None if row is None else _target(row)

    def owned(self, target_id: str, owner_secret: str) -> Target | bool | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS}, owner_sha256 "  # noqa: S608
                               "FROM callback_targets WHERE id = %s AND kind = %s",
                               (target_id, WEBHOOK)).fetchone()
        if row is None:
            return None
        if not hmac.compare_digest(bytes(row[10]), secret_hash(owner_secret)):
            return False
        return _target(row)

    def all(self) -> list[Target]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM callback_targets "  # noqa: S608
                                "ORDER BY created, id").fetchall()
        return [_target(row) for row in rows]

    def count(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT count(*) FROM callback_targets").fetchone()
        return 0 if row is None else int(row[0])

    def delete(self, target_id: str) -> bool:
        with self._conn() as conn, conn.transaction():
            cur = conn.execute("DELETE FROM callback_targets WHERE id = %s", (target_id,))
            conn.execute("DELETE FROM callback_dead_letters WHERE target_id = %s", (target_id,))
            return cur.rowcount > 0

    def save_cursors(self, cursors: Sequence[tuple[str, int]]) -> None:
        if not cursors:
            return
        with self._conn() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany("UPDATE callback_targets SET cursor = GREATEST(cursor, %s) "
                            "WHERE id = %s", [(event_id, tid) for tid, event_id in cursors])

    def add_dead_letter(self, letter: DeadLetter) -> None:
        with self._conn() as conn:
            conn.execute(
                "INSERT INTO callback_dead_letters (target_id, event_id, reason, attempts, dead_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (target_id, event_id) DO UPDATE SET "
                "reason = excluded.reason, attempts = callback_dead_letters.attempts + "
                "excluded.attempts, dead_at = excluded.dead_at",
                (letter.target_id, letter.event_id, letter.reason, letter.attempts, letter.dead_at))

    def dead_letters(self, target_id: str, limit: int = 1000) -> list[DeadLetter]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT target_id, event_id, reason, attempts, dead_at FROM callback_dead_letters "
                "WHERE target_id = %s ORDER BY event_id LIMIT %s", (target_id, limit)).fetchall()
        return [DeadLetter(str(r[0]), int(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows]

    def remove_dead_letter(self, target_id: str, event_id: int) -> None:
        with self._conn() as conn:
            conn.execute("DELETE FROM callback_dead_letters WHERE target_id = %s AND event_id = %s",
                         (target_id, event_id))

    def close(self) -> None:
        self._pool.close()
