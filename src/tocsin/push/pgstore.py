"""Push subscriptions and the push sender's position in the hub's PostgreSQL database.

With ``--store postgresql://…`` several writers share one database (a leader and standbys,
docs/deploy.md). Push subscriptions must be shared with them, or a standby that takes over
serves the subscriptions of its set-up copy and resends from a stale position. So this store
keeps them in the same database as the hub's store, in tables of its own
(``push_subscriptions``, ``push_position``), created ``IF NOT EXISTS`` by the writer that opens
it. The contract is :mod:`tocsin.push.store`'s (``tests/push/test_store_contract.py`` runs it
against both); what differs:

* **The position and every mark only move forward** (``GREATEST``): a stale leader still
  running for a moment after a takeover can never move the shared position back.
* **Deleting leaves nothing in the tables' files**: the row is deleted, then
  ``VACUUM FULL`` rewrites the table and its indexes without it (the old files are removed;
  a plain ``VACUUM`` compacts pages but leaves old bytes in their free space). Rewrites
  are coalesced (:meth:`PostgresPushStore._forget`).
  PostgreSQL's write-ahead log keeps the row until the server recycles that segment, as it
  keeps every row; that is the database operator's retention, not this store's.
* **Upgrading**: a hub already on PostgreSQL kept push in ``DATA_DIR/push.sqlite3``; the
  writer that creates these tables imports that file once and deletes it (:meth:`adopt`).
* **Failures**: any PostgreSQL failure surfaces as
  :class:`~tocsin.store.base.StorageUnavailable` (:func:`tocsin.store.postgres.storage_error`),
  which the API answers ``503 storage_unavailable``, never a 500; the DSN is never repeated.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import psycopg

from tocsin.push.store import EndpointTaken, PushSubscription, SqlitePushStore, secret_hash
from tocsin.store.postgres import (
    CONNECT_TIMEOUT_SECS,
    POOL_TIMEOUT_SECS,
    check_dsn,
    open_pool,
    pooled,
    storage_error,
)

__all__ = ["PostgresPushStore"]

log = logging.getLogger("tocsin.push")

Conn = psycopg.Connection[tuple[Any, ...]]

#: Advisory lock keys of this store (the hub's store uses ...0001 and ...0002).
SCHEMA_LOCK_KEY = 0x746F6373696E0010  # serialises creating the push tables
UPSERT_LOCK_CLASS = 0x7075  # pg_advisory_xact_lock(class, hashtext(endpoint)): one upsert per endpoint
POOL_MAX = 4

_SCHEMA = """
CREATE TABLE IF NOT EXISTS push_subscriptions (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh BYTEA NOT NULL,
    auth BYTEA NOT NULL,
    regions TEXT NOT NULL,
    points TEXT NOT NULL,
    language TEXT NOT NULL,
    secret_sha256 BYTEA NOT NULL,
    last_event BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS push_position (
    name TEXT PRIMARY KEY,
    event_id BIGINT NOT NULL
);
"""

_COLUMNS = "id, endpoint, p256dh, auth, regions, points, language, last_event"


def _row(row: Sequence[Any]) -> PushSubscription:
    regions = str(row[4])
    points = json.loads(str(row[5]))
    return PushSubscription(
        id=str(row[0]), endpoint=str(row[1]), p256dh=bytes(row[2]), auth=bytes(row[3]),
        regions=tuple(regions.split(",")) if regions else (),
        points=tuple((float(p[0]), float(p[1])) for p in points),
        language=str(row[6]), last_event=int(row[7]),
    )


class PostgresPushStore:
    """:class:`~tocsin.push.store.PushStore` in the hub's PostgreSQL database (module docstring).

    ``dsn`` is the hub's ``store`` setting. Opening creates the tables if they are missing.
    Thread-safe: every call takes a pooled connection of its own.
    """

    def __init__(self, dsn: str, *, pool_max: int = POOL_MAX,
                 pool_timeout_secs: float = POOL_TIMEOUT_SECS) -> None:
        check_dsn(dsn)
        self._erase_lock = threading.Lock()
        self._erasing = False  # a VACUUM FULL is running (see _forget)
        self._erase_wanted = False  # a deletion since the running one began
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECS
                                 ) as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                found = conn.execute("SELECT to_regclass('push_subscriptions') IS NOT NULL"
                                     ).fetchone()
                #: True when this open made the tables (then :meth:`adopt` may import a file).
                self.created = found is None or not found[0]
                conn.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise storage_error(exc) from exc
        self._pool = open_pool(dsn, "tocsin-push", max_size=pool_max, timeout=pool_timeout_secs)

    def _conn(self) -> AbstractContextManager[Conn]:
        return pooled(self._pool)

    def upsert(self, sub: PushSubscription, start_after: int,
               current_secret: str | None = None) -> tuple[PushSubscription, str, bool]:
        secret = secrets.token_urlsafe(32)
        with self._conn() as conn, conn.transaction():
            # Two requests for one endpoint are serialised, so the second sees the first's row.
            conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                         (UPSERT_LOCK_CLASS, sub.endpoint))
            row = conn.execute("SELECT id, last_event, secret_sha256 FROM push_subscriptions "
                               "WHERE endpoint = %s FOR UPDATE", (sub.endpoint,)).fetchone()
            if row is not None and (current_secret is None or not hmac.compare_digest(
                    bytes(row[2]), secret_hash(current_secret))):
                raise EndpointTaken("this endpoint is already subscribed: update it with its "
                                    "secret (Authorization: Bearer <secret>)")
            created = row is None
            sub_id, last = (secrets.token_urlsafe(16), start_after) if row is None \
                else (str(row[0]), int(row[1]))
            values = (sub.endpoint, sub.p256dh, sub.auth, ",".join(sub.regions),
                      json.dumps([list(p) for p in sub.points]), sub.language,
                      secret_hash(secret), last, sub_id)
            if created:
                conn.execute("INSERT INTO push_subscriptions (endpoint, p256dh, auth, regions, "
                             "points, language, secret_sha256, last_event, id) "
                             "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", values)
            else:
                conn.execute("UPDATE push_subscriptions SET endpoint = %s, p256dh = %s, "
                             "auth = %s, regions = %s, points = %s, language = %s, "
                             "secret_sha256 = %s, last_event = %s WHERE id = %s", values)
        stored = PushSubscription(id=sub_id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth,
                                  regions=sub.regions, points=sub.points, language=sub.language,
                                  last_event=last)
        return stored, secret, created

    def get(self, sub_id: str) -> PushSubscription | None:
        with self._conn() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM push_subscriptions WHERE id = %s",  # noqa: S608
                               (sub_id,)).fetchone()
        return None if row is None else _row(row)

    def all(self) -> list[PushSubscription]:
        with self._conn() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM push_subscriptions").fetchall()  # noqa: S608
        return [_row(row) for row in rows]

    def count(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COUNT(*) FROM push_subscriptions").fetchone()
        return 0 if row is None else int(row[0])

    def _forget(self) -> None:
        """Rewrite the table and its indexes without deleted rows (``VACUUM FULL``).

        A rewrite costs time in proportion to the table (about 0.45 s at 100,000 rows) and
        locks it meanwhile, so deletions are coalesced: a caller that finds a rewrite running
        asks for one more and returns; the running one repeats until no deletion is left
        unerased. So when ``delete`` returns, its row is gone from every read and its bytes
        are gone from the table's files or will be by the rewrite already under way.
        """
        with self._erase_lock:
            self._erase_wanted = True
            if self._erasing:
                return
            self._erasing = True
        try:
            while True:
                with self._erase_lock:
                    if not self._erase_wanted:
                        self._erasing = False
                        return
                    self._erase_wanted = False
                with self._conn() as conn:
                    conn.execute("VACUUM FULL push_subscriptions")
        except BaseException:
            with self._erase_lock:
                self._erasing = False
            raise

    def delete(self, sub_id: str) -> bool:
        with self._conn() as conn:
            deleted = conn.execute("DELETE FROM push_subscriptions WHERE id = %s",
                                   (sub_id,)).rowcount > 0
        if deleted:
            self._forget()
        return deleted

    def delete_with_secret(self, sub_id: str, secret: str) -> bool | None:
        with self._conn() as conn, conn.transaction():
            row = conn.execute("SELECT secret_sha256 FROM push_subscriptions WHERE id = %s "
                               "FOR UPDATE", (sub_id,)).fetchone()
            if row is None:
                return None
            if not hmac.compare_digest(bytes(row[0]), secret_hash(secret)):
                return False
            conn.execute("DELETE FROM push_subscriptions WHERE id = %s", (sub_id,))
        self._forget()
        return True

    def position(self) -> int | None:
        with self._conn() as conn:
            row = conn.execute("SELECT event_id FROM push_position WHERE name = 'sender'").fetchone()
        return None if row is None else int(row[0])

    def save_progress(self, position: int | None, served: Sequence[tuple[str, int]]) -> None:
        """Raise the served marks and the position, in one transaction; neither moves back."""
        with self._conn() as conn, conn.transaction():
            if served:
                with conn.cursor() as cur:
                    cur.executemany("UPDATE push_subscriptions SET last_event = "
                                    "GREATEST(last_event, %s) WHERE id = %s",
                                    [(event_id, sid) for sid, event_id in served])
            if position is not None:
                conn.execute("INSERT INTO push_position (name, event_id) VALUES ('sender', %s) "
                             "ON CONFLICT (name) DO UPDATE SET event_id = "
                             "GREATEST(push_position.event_id, excluded.event_id)", (position,))

    def adopt(self, path: Path) -> int:
        """Move the subscriptions of a data directory's ``push.sqlite3`` into this store.

        A hub already on PostgreSQL kept push in that file before this store existed; the
        first writer that opens this store (it made the tables: :attr:`created`) imports the
        file's subscriptions, secret hashes, marks and position in one transaction, then
        deletes the file, so no copy of a person's subscription is left to outlive their
        unsubscribing. A file found when the tables already existed is a stale copy (a
        standby's set-up copy of an older version): it is not imported — that would bring
        back people who unsubscribed since — but left alone with a warning. Returns how
        many subscriptions were imported.
        """
        if not path.exists():
            return 0
        if not self.created:
            log.warning("%s is not imported: the PostgreSQL store already holds push "
                        "subscriptions (this file is an older copy); delete it", path)
            return 0
        old = SqlitePushStore(path)
        try:
            with old._lock:
                rows = old._conn.execute(
                    "SELECT id, endpoint, p256dh, auth, regions, points, language, secret_sha256, "
                    "last_event FROM push_subscriptions").fetchall()
            position = old.position()
        finally:
            old.close()
        with self._conn() as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO push_subscriptions (id, endpoint, p256dh, auth, "
                                "regions, points, language, secret_sha256, last_event) VALUES "
                                "(%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                                [tuple(row) for row in rows])
            if position is not None:
                conn.execute("INSERT INTO push_position (name, event_id) VALUES ('sender', %s) "
                             "ON CONFLICT (name) DO UPDATE SET event_id = "
                             "GREATEST(push_position.event_id, excluded.event_id)", (position,))
        for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            leftover.unlink(missing_ok=True)
        log.info("imported %d push subscriptions from %s into the PostgreSQL store", len(rows), path)
        return len(rows)

    def close(self) -> None:
        self._pool.close()
