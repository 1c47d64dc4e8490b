"""Durable email subscriptions, their pending confirmations, and the email sender's position.

One row per address (compared without case: :func:`address_key`). A row is *confirmed* once
its owner followed a confirmation link; until then nothing is sent to it but that one
confirmation email. A request for an address already
confirmed (other places, another language) is held as *pending* on the row and takes effect
only when confirmed from that address too — so nobody can change, or learn, what someone
else's address receives.

Contract (``tests/mail/test_store.py``):

* **Tokens are never stored**, only their SHA-256 (:mod:`tocsin.mail.tokens`); a token is
  compared in constant time, works once, and not after it expires.
* **One confirmation per mailbox per ``resend_secs``**: :meth:`SqliteEmailStore.request`
  raises :class:`ConfirmationPending` (with the seconds to wait) instead of issuing another,
  so the hub cannot be used to flood an address with confirmation emails; addresses differing
  only in case or in a ``+tag`` are one mailbox (:func:`mailbox_key`).
* **Unconfirmed rows do not outlive their token**: :meth:`SqliteEmailStore.prune` deletes them
  (and clears a confirmed row's expired pending request); ``request`` prunes first.
* **Deleting leaves nothing behind**: the row is gone (no tombstone); SQLite
  ``secure_delete`` overwrites its bytes and the WAL is checkpointed and truncated.
* **Position**: :meth:`SqliteEmailStore.save_progress` stores, in one transaction, the last
  event every subscription has been served and each subscription's last event handed over
  (the same resume rule as :mod:`tocsin.push.store`).

Privacy: a row holds the address, an optional display name, region codes, the language, a
token hash with its times, and the last event id served — nothing else.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.delivery.saved_position import SubscriberFile
from tocsin.mail.tokens import new_token, same_token, token_hash

FILE_NAME = "email.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS email_subscriptions (
    id TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    address_key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    regions TEXT NOT NULL,
    language TEXT NOT NULL,
    confirmed INTEGER NOT NULL,
    pending_name TEXT,
    pending_regions TEXT,
    pending_language TEXT,
    token_sha256 BLOB,
    token_sent REAL,
    token_expires REAL,
    last_event INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS email_unconfirmed ON email_subscriptions (confirmed, token_expires);
CREATE TABLE IF NOT EXISTS email_position (
    name TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class EmailSubscription:
    """A confirmed subscription: who, for which places, in which language."""

    id: str
    address: str
    name: str
    regions: tuple[str, ...]  # canonical region codes, in the person's order
    language: str  # "uk" or "en"
    last_event: int = 0


@dataclass(frozen=True, slots=True)
class Request:
    """A confirmation to send: the row's id and the one-time token (never stored)."""

    id: str
    token: str
    regions: tuple[str, ...]
    language: str
    name: str


def address_key(address: str) -> str:
    """One row per mailbox: addresses that differ only in case are one (as nearly every
    provider treats them), so changing the case cannot get around the one-request-an-hour rule."""
    return address.lower()


def mailbox_key(address: str) -> str:
    """The mailbox an address reaches: its :func:`address_key` without a ``+tag`` sub-address.

    ``a+1@example.org`` and ``a+2@example.org`` are delivered to ``a@example.org`` by most
    providers, so the one-confirmation-an-hour rule counts them as one mailbox (each may still
    hold its own subscription).
    """
    local, _, domain = address_key(address).rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ConfirmationPending(Exception):
    """A confirmation was sent to this address less than ``resend_secs`` ago."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"a confirmation was sent to this address recently; retry in "
                         f"{int(retry_after) + 1} s")
        self.retry_after = retry_after


class SqliteEmailStore(SubscriberFile):
    """Email subscriptions in their own SQLite file in the data directory (WAL, fsync)."""

    SCHEMA = _SCHEMA
    SUBSCRIPTIONS = "email_subscriptions"
    POSITION = "email_position"

    # -- requests and confirmation ----------------------------------------

    def request(self, *, address: str, name: str, regions: Sequence[str], language: str,
                now: float, resend_secs: float, ttl_secs: float) -> Request:
        """Hold a subscription request for ``address`` and issue its one-time token."""
        token = new_token()
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._prune(now)
                row = conn.execute("SELECT id, token_sent FROM email_subscriptions "
                                   "WHERE address_key = ?", (address_key(address),)).fetchone()
                last_sent = self._last_sent_to_mailbox(address)
                if last_sent is not None and now - last_sent < resend_secs:
                    raise ConfirmationPending(resend_secs - (now - last_sent))
                pending = (name, ",".join(regions), language, token_hash(token), now, now + ttl_secs)
                if row is None:
                    sub_id = secrets.token_urlsafe(16)
                    conn.execute("INSERT INTO email_subscriptions (id, address, address_key, name, "
                                 "regions, language, confirmed, pending_name, pending_regions, "
                                 "pending_language, token_sha256, token_sent, token_expires, "
                                 "last_event) VALUES (?, ?, ?, '', '', ?, 0, ?, ?, ?, ?, ?, ?, 0)",
                                 (sub_id, address, address_key(address), language, *pending))
                else:
                    sub_id = str(row[0])
                    conn.execute("UPDATE email_subscriptions SET pending_name = ?, pending_regions = ?, "
                                 "pending_language = ?, token_sha256 = ?, token_sent = ?, "
                                 "token_expires = ? WHERE id = ?", (*pending, sub_id))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return Request(sub_id, token, tuple(regions), language, name)

    def _last_sent_to_mailbox(self, address: str) -> float | None:
        """When a confirmation was last sent to any address of ``address``'s mailbox."""
        mailbox = mailbox_key(address)
        local, _, domain = mailbox.rpartition("@")
        rows = self._conn.execute(
            "SELECT address_key, token_sent FROM email_subscriptions WHERE token_sent IS NOT NULL "
            "AND (address_key = ? OR address_key LIKE ? ESCAPE '\\')",
            (mailbox, f"{_like_escaped(local)}+%@{_like_escaped(domain)}")).fetchall()
        sent = [float(row[1]) for row in rows if mailbox_key(str(row[0])) == mailbox]
        return max(sent) if sent else None

    def withdraw(self, sub_id: str, token: str) -> None:
        """Undo :meth:`request` whose confirmation could not be sent (the person may ask again)."""
        with self._lock:
            row = self._conn.execute("SELECT confirmed, token_sha256 FROM email_subscriptions "
                                     "WHERE id = ?", (sub_id,)).fetchone()
            if row is None or row[1] is None or not same_token(bytes(row[1]), token):
                return
            if int(row[0]):
                self._conn.execute(self._CLEAR_PENDING, (sub_id,))
            else:
                self._conn.execute("DELETE FROM email_subscriptions WHERE id = ?", (sub_id,))
                self._forget_old_pages()

    _CLEAR_PENDING = ("UPDATE email_subscriptions SET pending_name = NULL, pending_regions = NULL, "
                      "pending_language = NULL, token_sha256 = NULL, token_sent = NULL, "
                      "token_expires = NULL WHERE id = ?")

    def confirm(self, sub_id: str, token: str, *, now: float, start_after: int
                ) -> tuple[EmailSubscription, bool] | None:
        """Apply the pending request if ``token`` is its token and has not expired.

        Returns the subscription now in force and whether it was newly confirmed (it is then
        served events after ``start_after`` only), or None for an unknown id, a wrong, used or
        expired token (one answer for all, so a link reveals nothing it does not hold).
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT confirmed, token_sha256, token_expires, pending_name, "
                                   "pending_regions, pending_language, last_event, address "
                                   "FROM email_subscriptions WHERE id = ?", (sub_id,)).fetchone()
                if row is None or row[1] is None or not same_token(bytes(row[1]), token) \
                        or float(row[2]) <= now:
                    conn.execute("ROLLBACK")
                    return None
                created = not int(row[0])
                last = start_after if created else int(row[6])
                conn.execute("UPDATE email_subscriptions SET name = ?, regions = ?, language = ?, "
                             "confirmed = 1, last_event = ? WHERE id = ?",
                             (row[3], row[4], row[5], last, sub_id))
                conn.execute(self._CLEAR_PENDING, (sub_id,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        regions = str(row[4])
        return EmailSubscription(id=sub_id, address=str(row[7]), name=str(row[3]),
                                 regions=tuple(regions.split(",")) if regions else (),
                                 language=str(row[5]), last_event=last), created

    def prune(self, now: float) -> None:
        """Forget requests whose token expired (an unconfirmed row entirely)."""
        with self._lock:
            self._prune(now)

    def _prune(self, now: float) -> None:
        cur = self._conn.execute("DELETE FROM email_subscriptions WHERE confirmed = 0 AND "
                                 "token_expires <= ?", (now,))
        self._conn.execute("UPDATE email_subscriptions SET pending_name = NULL, pending_regions = NULL, "
                           "pending_language = NULL, token_sha256 = NULL, token_sent = NULL, "
                           "token_expires = NULL WHERE confirmed = 1 AND token_expires <= ?", (now,))
        if cur.rowcount > 0 and not self._conn.in_transaction:
            self._forget_old_pages()

    # -- reading and deleting ---------------------------------------------

    _COLUMNS = "id, address, name, regions, language, last_event"

    @staticmethod
    def _row(row: Sequence[object]) -> EmailSubscription:
        regions = str(row[3])
        return EmailSubscription(id=str(row[0]), address=str(row[1]), name=str(row[2]),
                                 regions=tuple(regions.split(",")) if regions else (),
                                 language=str(row[4]), last_event=int(row[5]))  # type: ignore[call-overload]

    def get(self, sub_id: str) -> EmailSubscription | None:
        """The confirmed subscription ``sub_id`` (None: unknown or not confirmed)."""
        with self._lock:
            row = self._conn.execute(f"SELECT {self._COLUMNS} FROM email_subscriptions "  # noqa: S608
                                     "WHERE id = ? AND confirmed = 1", (sub_id,)).fetchone()
        return None if row is None else self._row(row)

    def confirmed(self) -> list[EmailSubscription]:
        with self._lock:
            rows = self._conn.execute(f"SELECT {self._COLUMNS} FROM email_subscriptions "  # noqa: S608
                                      "WHERE confirmed = 1").fetchall()
        return [self._row(row) for row in rows]

    def count(self) -> int:
        """Rows held, confirmed or not (the limit counts both)."""
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM email_subscriptions").fetchone()[0])

    def has_address(self, address: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM email_subscriptions WHERE address_key = ?",
                                      (address_key(address),)).fetchone() is not None

    def delete(self, sub_id: str) -> bool:
        """Delete the row (confirmed or not) and everything it held."""
        with self._lock:
            cur = self._conn.execute("DELETE FROM email_subscriptions WHERE id = ?", (sub_id,))
            if cur.rowcount > 0:
                self._forget_old_pages()
        return cur.rowcount > 0
