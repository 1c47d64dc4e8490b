"""Durable push subscriptions and the push sender's position in the event feed.

Contract every implementation keeps (``tests/push/test_store_contract.py`` runs it
against each: :class:`SqlitePushStore` here, :class:`tocsin.push.pgstore.PostgresPushStore`
in the hub's PostgreSQL database):

* **One subscription per endpoint.** :meth:`PushStore.upsert` of an endpoint already
  stored replaces its keys, places and language, keeps its id, and replaces its secret.
* **Secrets are never stored**, only their SHA-256; :meth:`PushStore.delete_with_secret`
  compares in constant time.
* **Deleting leaves nothing behind**: the row is gone (no tombstone, no log of places;
  SQLite ``secure_delete`` overwrites its bytes and the WAL is checkpointed and truncated;
  PostgreSQL rewrites the table without it).
* **Position**: :meth:`PushStore.save_progress` stores, in one transaction, the id of
  the last event every subscription has been served (the resume point) and each
  subscription's last event handed over, so after a restart the sender resumes after
  the position and skips a subscription already served a replayed event (at least
  once, never twice for one subscription once its mark is saved).

Privacy (issue 15): a row holds the endpoint, its two keys, the region codes, the points
only when the person chose point-precise alerts, the language, a secret hash and the
last event id served — no address, no user agent, no times of use.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tocsin.delivery.saved_position import SubscriberFile

FILE_NAME = "push.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS push_subscriptions (
    id TEXT PRIMARY KEY,
    endpoint TEXT NOT NULL UNIQUE,
    p256dh BLOB NOT NULL,
    auth BLOB NOT NULL,
    regions TEXT NOT NULL,
    points TEXT NOT NULL,
    language TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    last_event INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS push_position (
    name TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """One browser's push subscription and the places it wants."""

    id: str
    endpoint: str
    p256dh: bytes  # the user agent's P-256 public key (uncompressed point)
    auth: bytes  # the 16-byte authentication secret
    regions: tuple[str, ...]  # canonical region codes, in the person's order
    points: tuple[tuple[float, float], ...]  # (lat, lon), only for point-precise alerts
    language: str  # "uk" or "en"
    last_event: int = 0  # the last event id handed over to it


class PushStore(Protocol):
    """What the push sender and the API need from durable storage (see module docstring)."""

    def upsert(self, sub: PushSubscription, start_after: int,
               current_secret: str | None = None) -> tuple[PushSubscription, str, bool]:
        """Store ``sub`` by endpoint; returns (stored, new secret, created).

        A new subscription starts after event ``start_after`` (never sent older events). An
        endpoint already subscribed is updated only with its current secret (compared in
        constant time); otherwise :class:`EndpointTaken` and nothing changes — knowing an
        endpoint must not let anyone take its subscription over.
        """
        ...

    def get(self, sub_id: str) -> PushSubscription | None: ...

    def all(self) -> list[PushSubscription]: ...

    def count(self) -> int: ...

    def delete(self, sub_id: str) -> bool: ...

    def delete_with_secret(self, sub_id: str, secret: str) -> bool | None:
        """Delete if ``secret`` is the subscription's: True; wrong secret: False; none: None."""
        ...

    def position(self) -> int | None:
        """The resume point (None: never saved; start at the feed's newest event)."""
        ...

    def save_progress(self, position: int | None, served: Sequence[tuple[str, int]]) -> None: ...

    def close(self) -> None: ...


class EndpointTaken(Exception):
    """An endpoint already subscribed was re-posted without its subscription's secret."""


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


class SqlitePushStore(SubscriberFile):
    """:class:`PushStore` in its own SQLite file in the data directory (WAL, fsync)."""

    SCHEMA = _SCHEMA
    SUBSCRIPTIONS = "push_subscriptions"
    POSITION = "push_position"

    @staticmethod
    def _row(row: Sequence[object]) -> PushSubscription:
        regions = str(row[4])
        points = json.loads(str(row[5]))
        return PushSubscription(
            id=str(row[0]), endpoint=str(row[1]), p256dh=bytes(row[2]), auth=bytes(row[3]),  # type: ignore[call-overload]
            regions=tuple(regions.split(",")) if regions else (),
            points=tuple((float(p[0]), float(p[1])) for p in points),
            language=str(row[6]), last_event=int(row[7]),  # type: ignore[call-overload]
        )

    _COLUMNS = "id, endpoint, p256dh, auth, regions, points, language, last_event"

    def upsert(self, sub: PushSubscription, start_after: int,
               current_secret: str | None = None) -> tuple[PushSubscription, str, bool]:
        secret = secrets.token_urlsafe(32)
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT id, last_event, secret_sha256 FROM push_subscriptions "
                                   "WHERE endpoint = ?", (sub.endpoint,)).fetchone()
                if row is not None and (current_secret is None or not hmac.compare_digest(
                        bytes(row[2]), secret_hash(current_secret))):
                    raise EndpointTaken("this endpoint is already subscribed: update it with its "
                                        "secret (Authorization: Bearer <secret>)")
                created = row is None
                sub_id = secrets.token_urlsafe(16) if created else str(row[0])
                last = start_after if created else int(row[1])
                values = (sub.endpoint, sub.p256dh, sub.auth, ",".join(sub.regions),
                          json.dumps([list(p) for p in sub.points]), sub.language,
                          secret_hash(secret), last, sub_id)
                if created:
                    conn.execute("INSERT INTO push_subscriptions (endpoint, p256dh, auth, regions, "
                                 "points, language, secret_sha256, last_event, id) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
                else:
                    conn.execute("UPDATE push_subscriptions SET endpoint = ?, p256dh = ?, auth = ?, "
                                 "regions = ?, points = ?, language = ?, secret_sha256 = ?, "
                                 "last_event = ? WHERE id = ?", values)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        stored = PushSubscription(id=sub_id, endpoint=sub.endpoint, p256dh=sub.p256dh, auth=sub.auth,
                                  regions=sub.regions, points=sub.points, language=sub.language,
                                  last_event=last)
        return stored, secret, created

    def get(self, sub_id: str) -> PushSubscription | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLUMNS} FROM push_subscriptions WHERE id = ?",  # noqa: S608
                                     (sub_id,)).fetchone()
        return None if row is None else self._row(row)

    def all(self) -> list[PushSubscription]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._COLUMNS} FROM push_subscriptions").fetchall()  # noqa: S608
        return [self._row(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM push_subscriptions").fetchone()[0])

    def delete(self, sub_id: str) -> bool:
        with self._lock:
            cur = self._conn.execute("DELETE FROM push_subscriptions WHERE id = ?", (sub_id,))
            if cur.rowcount > 0:
                self._forget_old_pages()
        return cur.rowcount > 0

    def delete_with_secret(self, sub_id: str, secret: str) -> bool | None:
        with self._lock:
            row = self._conn.execute("SELECT secret_sha256 FROM push_subscriptions WHERE id = ?",
                                     (sub_id,)).fetchone()
            if row is None:
                return None
            if not hmac.compare_digest(bytes(row[0]), secret_hash(secret)):
                return False
            self._conn.execute("DELETE FROM push_subscriptions WHERE id = ?", (sub_id,))
            self._forget_old_pages()
        return True
