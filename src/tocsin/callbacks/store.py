"""Durable callback targets, each one's position in the event feed, and dead letters.

A *target* is a webhook endpoint or a WebSub subscription: a URL the hub POSTs events to,
what it wants (region codes, kind ids) and how its messages are signed. Contract:

* **A cursor per target.** ``cursor`` is the newest event id the target is done with
  (delivered, dead-lettered, or not wanted). It only grows (:meth:`CallbackStore.save_cursors`
  keeps the maximum); after a restart the target resumes after it, so an event is
  delivered at least once, and again only if the hub stopped before saving.
* **Secrets.** A webhook's owner secret is stored only as its SHA-256 and compared in
  constant time (:meth:`CallbackStore.owned`). The signing secret (``whsec_…``) and a
  WebSub ``hub.secret`` are kept as given: the hub must sign with them.
* **One WebSub subscription per (callback, topic).** Subscribing again renews its lease
  and replaces its secret, keeping its cursor (WebSub §5.1).
* **Dead letters** are the events a webhook endpoint never took within the retry window:
  ``(target, event id)`` with why and how often it was tried. The event itself stays in
  the hub's store, so a replay rebuilds the very same message (same ``webhook-id``).
* Deleting a target deletes its dead letters.

:class:`CallbackStore` is that contract as a Protocol, the whole interface the sender and the
routes use. Two implementations keep it (``tests/callbacks/test_store.py`` runs against both):
:class:`SqliteCallbackStore`, one SQLite file in the data directory (WAL,
``synchronous=FULL``), and :class:`tocsin.callbacks.pg_store.PostgresCallbackStore`, tables in
the hub's PostgreSQL database, shared by a leading writer and its standby. Either way a target
is durable before the API acknowledges it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

FILE_NAME = "callbacks.sqlite3"
WEBHOOK = "webhook"
WEBSUB = "websub"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS callback_targets (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    topic TEXT NOT NULL,
    regions TEXT NOT NULL,
    kinds TEXT NOT NULL,
    signing_secret TEXT,
    owner_sha256 BLOB,
    expires REAL,
    cursor INTEGER NOT NULL,
    created REAL NOT NULL,
    UNIQUE (kind, url, topic)
);
CREATE TABLE IF NOT EXISTS callback_dead_letters (
    target_id TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    dead_at REAL NOT NULL,
    PRIMARY KEY (target_id, event_id)
);
"""


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver: a webhook endpoint or a WebSub subscription."""

    id: str
    kind: str  # WEBHOOK or WEBSUB
    url: str  # the webhook URL or the WebSub hub.callback
    topic: str  # the WebSub topic URL ("" for a webhook)
    regions: tuple[str, ...]  # canonical region codes; () = every region (the all-alerts topic)
    kinds: tuple[str, ...]  # kind ids wanted; () = every kind
    signing_secret: str | None  # whsec_... (webhook) or hub.secret (WebSub, optional)
    expires: float | None  # WebSub lease end (wall-clock seconds); None for a webhook
    cursor: int  # the newest event id this target is done with
    created: float


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event a webhook endpoint did not take within the retry window."""

    target_id: str
    event_id: int
    reason: str  # "http_500", "network", "refused", ...
    attempts: int
    dead_at: float


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class CallbackStore(Protocol):
    """Durable targets, cursors and dead letters (the contract in the module docstring).

    A backend failure surfaces as :class:`tocsin.store.base.StorageUnavailable` (the API
    answers ``503 storage_unavailable``), never as a driver's own exception.
    """

    def add_webhook(self, *, url: str, regions: Sequence[str], kinds: Sequence[str],
                    signing_secret: str, cursor: int, now: float) -> tuple[Target, str]:
        """Store a new (verified) webhook endpoint; returns it and its owner secret."""
        ...

    def subscribe_websub(self, *, callback: str, topic: str, regions: Sequence[str],
                         secret: str | None, expires: float, cursor: int, now: float) -> Target:
        """Create or renew the subscription of ``callback`` to ``topic`` (its cursor is kept)."""
        ...

    def find_websub(self, callback: str, topic: str) -> Target | None: ...

    def get(self, target_id: str) -> Target | None: ...

    def owned(self, target_id: str, owner_secret: str) -> Target | bool | None:
        """The webhook if ``owner_secret`` is its owner's; False: wrong secret; None: no such."""
        ...

    def all(self) -> list[Target]: ...

    def count(self) -> int: ...

    def delete(self, target_id: str) -> bool:
        """Delete a target and its dead letters; False if there was no such target."""
        ...

    def save_cursors(self, cursors: Sequence[tuple[str, int]]) -> None:
        """Advance targets' cursors (never backwards), in one transaction."""
        ...

    def add_dead_letter(self, letter: DeadLetter) -> None:
        """Record a give-up; the same event given up again adds its attempts up."""
        ...

    def dead_letters(self, target_id: str, limit: int = 1000) -> list[DeadLetter]:
        """A target's dead letters, oldest event first."""
        ...

    def remove_dead_letter(self, target_id: str, event_id: int) -> None: ...

    def close(self) -> None: ...


class SqliteCallbackStore:
    """Targets and dead letters in ``DATA_DIR/callbacks.sqlite3`` (see the module docstring)."""

    _COLUMNS = "id, kind, url, topic, regions, kinds, signing_secret, expires, cursor, created"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @staticmethod
    def _target(row: Sequence[object]) -> Target:
        regions, kinds = str(row[4]), str(row[5])
        return Target(id=str(row[0]), kind=str(row[1]), url=str(row[2]), topic=str(row[3]),
                      regions=tuple(regions.split(",")) if regions else (),
                      kinds=tuple(kinds.split(",")) if kinds else (),
                      signing_secret=None if row[6] is None else str(row[6]),
                      expires=None if row[7] is None else float(row[7]),  # type: ignore[arg-type]
                      cursor=int(row[8]), created=float(row[9]))  # type: ignore[call-overload, arg-type]

    def add_webhook(self, *, url: str, regions: Sequence[str], kinds: Sequence[str],
                    signing_secret: str, cursor: int, now: float) -> tuple[Target, str]:
        """Store a new (verified) webhook endpoint; returns it and its owner secret."""
        owner = secrets.token_urlsafe(32)
        target = Target(id="wh_" + secrets.token_urlsafe(16), kind=WEBHOOK, url=url, topic="",
                        regions=tuple(regions), kinds=tuple(kinds), signing_secret=signing_secret,
                        expires=None, cursor=cursor, created=now)
        with self._lock:
            self._conn.execute(
                f"INSERT INTO callback_targets ({self._COLUMNS}, owner_sha256) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (target.id, WEBHOOK, url, "", ",".join(regions), ",".join(kinds),
                 target.signing_secret, None, cursor, now, secret_hash(owner)))
        return target, owner

    def subscribe_websub(self, *, callback: str, topic: str, regions: Sequence[str],
                         secret: str | None, expires: float, cursor: int, now: float) -> Target:
        """Create or renew the subscription of ``callback`` to ``topic`` (its cursor is kept)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT id, cursor, created FROM callback_targets WHERE kind = ? "
                                   "AND url = ? AND topic = ?", (WEBSUB, callback, topic)).fetchone()
                if row is None:
                    sub_id, created = "ws_" + secrets.token_urlsafe(16), now
                    conn.execute(f"INSERT INTO callback_targets ({self._COLUMNS}) "  # noqa: S608
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (sub_id, WEBSUB, callback, topic, ",".join(regions), "", secret,
                                  expires, cursor, now))
                else:
                    sub_id, cursor, created = str(row[0]), int(row[1]), float(row[2])
                    conn.execute("UPDATE callback_targets SET signing_secret = ?, expires = ? "
                                 "WHERE id = ?", (secret, expires, sub_id))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Target(id=sub_id, kind=WEBSUB, url=callback, topic=topic, regions=tuple(regions),
                      kinds=(), signing_secret=secret, expires=expires, cursor=cursor,
                      created=created)

    def find_websub(self, callback: str, topic: str) -> Target | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLUMNS} FROM callback_targets "  # noqa: S608
                                     "WHERE kind = ? AND url = ? AND topic = ?",
                                     (WEBSUB, callback, topic)).fetchone()
        return None if row is None else self._target(row)

    def get(self, target_id: str) -> Target | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLUMNS} FROM callback_targets "  # noqa: S608
                                     "WHERE id = ?", (target_id,)).fetchone()
        return None if row is None else self._target(row)

    def owned(self, target_id: str, owner_secret: str) -> Target | bool | None:
        """The webhook if ``owner_secret`` is its owner's; False: wrong secret; None: no such."""
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLUMNS}, owner_sha256 "  # noqa: S608
                                     "FROM callback_targets WHERE id = ? AND kind = ?",
                                     (target_id, WEBHOOK)).fetchone()
        if row is None:
            return None
        if not hmac.compare_digest(bytes(row[10]), secret_hash(owner_secret)):
            return False
        return self._target(row)

    def all(self) -> list[Target]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._COLUMNS} FROM callback_targets "  # noqa: S608
                                      "ORDER BY created").fetchall()
        return [self._target(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM callback_targets").fetchone()[0])

    def delete(self, target_id: str) -> bool:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                cur = conn.execute("DELETE FROM callback_targets WHERE id = ?", (target_id,))
                conn.execute("DELETE FROM callback_dead_letters WHERE target_id = ?", (target_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return cur.rowcount > 0

    def save_cursors(self, cursors: Sequence[tuple[str, int]]) -> None:
        """Advance targets' cursors (never backwards), in one transaction."""
        if not cursors:
            return
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany("UPDATE callback_targets SET cursor = MAX(cursor, ?) WHERE id = ?",
                                 [(event_id, tid) for tid, event_id in cursors])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def add_dead_letter(self, letter: DeadLetter) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO callback_dead_letters (target_id, event_id, reason, attempts, dead_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (target_id, event_id) DO UPDATE SET "
                "reason = excluded.reason, attempts = callback_dead_letters.attempts + "
                "excluded.attempts, dead_at = excluded.dead_at",
                (letter.target_id, letter.event_id, letter.reason, letter.attempts, letter.dead_at))

    def dead_letters(self, target_id: str, limit: int = 1000) -> list[DeadLetter]:
        """A target's dead letters, oldest event first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT target_id, event_id, reason, attempts, dead_at FROM callback_dead_letters "
                "WHERE target_id = ? ORDER BY event_id LIMIT ?", (target_id, limit)).fetchall()
        return [DeadLetter(str(r[0]), int(r[1]), str(r[2]), int(r[3]), float(r[4])) for r in rows]

    def remove_dead_letter(self, target_id: str, event_id: int) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM callback_dead_letters WHERE target_id = ? AND event_id = ?",
                               (target_id, event_id))

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def new_signing_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")
