"""Relayed alerts and refusals, in their own database (``DATA_DIR/relayed.sqlite3``).

Kept apart from the hub's store on purpose: an alert taken from a followed feed never
becomes a leaf of this hub's log, an event of its stream, a row its region status, map or
``/api/v1/check`` read, or anything its monitor would attribute to this hub's issuers.
Each row keeps the bytes exactly as fetched (CAP, and for a Tocsin hub its statement and
proof bundle) and the verdict in words.

Invariants: a relayed alert's id is the first 128 bits of SHA-256 of its CAP bytes (as
for issued alerts); one (feed, sender, identifier) names one document; a refusal is kept
once per (feed, subject, code) with a count, so a feed that keeps serving a forgery is
reported once in the log and counted every time.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

Trust = Literal["verified", "xml-signature", "unverified"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS relayed (
    id TEXT PRIMARY KEY,
    feed TEXT NOT NULL,
    trust TEXT NOT NULL CHECK (trust IN ('verified', 'xml-signature', 'unverified')),
    words TEXT NOT NULL,
    detail TEXT NOT NULL,
    source_url TEXT NOT NULL,
    cap BLOB NOT NULL,
    statement BLOB,
    proof BLOB,
    sender TEXT NOT NULL,
    identifier TEXT NOT NULL,
    sent TEXT NOT NULL,
    msg_type TEXT NOT NULL,
    status TEXT NOT NULL,
    event TEXT NOT NULL,
    headline TEXT NOT NULL,
    area_desc TEXT NOT NULL,
    received_ts REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS relayed_by_identity ON relayed (feed, sender, identifier);
CREATE INDEX IF NOT EXISTS relayed_by_time ON relayed (received_ts);
CREATE INDEX IF NOT EXISTS relayed_by_source ON relayed (feed, source_url);
CREATE TABLE IF NOT EXISTS refusals (
    feed TEXT NOT NULL, subject TEXT NOT NULL, code TEXT NOT NULL, reason TEXT NOT NULL,
    first_ts REAL NOT NULL, last_ts REAL NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (feed, subject, code)
);
CREATE TABLE IF NOT EXISTS feed_state (
    feed TEXT PRIMARY KEY,
    registry BLOB,
    checkpoint_size INTEGER,
    checkpoint_seen_ts REAL
);
CREATE TABLE IF NOT EXISTS checkpoints_seen (
    feed TEXT NOT NULL, size INTEGER NOT NULL, last_seen_ts REAL NOT NULL,
    PRIMARY KEY (feed, size)
);
"""


@dataclass(frozen=True, slots=True)
class Relayed:
    """One relayed alert to store."""

    id: str
    feed: str
    trust: Trust
    words: str
    detail: str
    source_url: str
    cap: bytes
    statement: bytes | None
    proof: bytes | None
    sender: str
    identifier: str
    sent: str
    msg_type: str
    status: str
    event: str
    headline: str
    area_desc: str
    received_ts: float


_COLUMNS = ("id", "feed", "trust", "words", "detail", "source_url", "sender", "identifier", "sent",
            "msg_type", "status", "event", "headline", "area_desc", "received_ts")
_SELECT = "SELECT " + ", ".join(_COLUMNS) + " FROM relayed"  # noqa: S608 (constant text, no input)
_REFUSAL_COLUMNS = ("subject", "code", "reason", "first_ts", "last_ts", "count")


MAX_FEED_BYTES = 64 << 20  # a feed's relayed bytes (CAP, statements, proofs) kept, oldest out first
MAX_FEED_ROWS = 5_000  # a feed's relayed alerts kept
MAX_FEED_REFUSALS = 1_000  # a feed's refusals kept


class RelayStore:
    """SQLite (WAL, ``synchronous=FULL``); every method is safe from any thread.

    Each feed has a budget (bytes and alerts relayed unverified or XML-signed, refusals): a
    followed feed is a stranger's server that may list 500 new documents of 704 KiB every
    poll, and this file lives in the data directory beside the hub's own log store. Beyond its
    budget a feed's oldest rows go; another feed's are never touched for it.
    """

    def __init__(self, path: Path | str, *, max_feed_bytes: int = MAX_FEED_BYTES,
                 max_feed_rows: int = MAX_FEED_ROWS, max_feed_refusals: int = MAX_FEED_REFUSALS) -> None:
        self.max_feed_bytes = max_feed_bytes
        self.max_feed_rows = max_feed_rows
        self.max_feed_refusals = max_feed_refusals
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def has(self, alert_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM relayed WHERE id = ?", (alert_id,)).fetchone() is not None

    def has_source(self, feed: str, url: str) -> bool:
        """Whether a document fetched from ``url`` of ``feed`` is already relayed."""
        with self._lock:
            return self._db.execute("SELECT 1 FROM relayed WHERE feed = ? AND source_url = ?",
                                    (feed, url)).fetchone() is not None

    def same_identity(self, feed: str, sender: str, identifier: str) -> str | None:
        """The id of the alert already relayed from ``feed`` with this sender and identifier."""
        with self._lock:
            row = self._db.execute("SELECT id FROM relayed WHERE feed = ? AND sender = ? AND identifier = ?",
                                   (feed, sender, identifier)).fetchone()
        return None if row is None else str(row[0])

    def trust_of(self, alert_id: str) -> Trust | None:
        """The verdict the alert is held with, or None if it is not held."""
        with self._lock:
            row = self._db.execute("SELECT trust FROM relayed WHERE id = ?", (alert_id,)).fetchone()
        return None if row is None else row[0]

    def add(self, r: Relayed) -> bool:
        """Store ``r`` durably; False if that id (or identity) is already held — except that a
        ``verified`` alert replaces the same bytes held with a weaker verdict (relayed first
        by another feed): the strongest thing proven about an alert is what is shown."""
        with self._lock:
            if r.trust == "verified":
                try:
                    replaced = self._db.execute(
                        "UPDATE relayed SET feed = ?, trust = ?, words = ?, detail = ?, source_url = ?, "
                        "cap = ?, statement = ?, proof = ?, sender = ?, identifier = ?, sent = ?, "
                        "msg_type = ?, status = ?, event = ?, headline = ?, area_desc = ?, received_ts = ? "
                        "WHERE id = ? AND trust != 'verified' AND cap = ?",
                        (r.feed, r.trust, r.words, r.detail, r.source_url, r.cap, r.statement, r.proof,
                         r.sender, r.identifier, r.sent, r.msg_type, r.status, r.event, r.headline,
                         r.area_desc, r.received_ts, r.id, r.cap)).rowcount
                except sqlite3.IntegrityError:
                    return False
                if replaced:
                    self._trim(r.feed)
                    return True
            try:
                self._db.execute(
                    "INSERT INTO relayed (id, feed, trust, words, detail, source_url, cap, statement, proof, "
                    "sender, identifier, sent, msg_type, status, event, headline, area_desc, received_ts) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.id, r.feed, r.trust, r.words, r.detail, r.source_url, r.cap, r.statement, r.proof,
                     r.sender, r.identifier, r.sent, r.msg_type, r.status, r.event, r.headline,
                     r.area_desc, r.received_ts))
            except sqlite3.IntegrityError:
                return False
            self._trim(r.feed)
        return True

    def _trim(self, feed: str) -> None:
        """Keep ``feed`` within its budget, newest first (the lock is held). Alerts verified as
        a followed hub's are not counted nor evicted: only that hub's registry issuers, in its
        log, make them (no stranger can), and the organisations' rule reads them for as long
        as a check-in they raised is open."""
        rows = self._db.execute(
            "SELECT id, length(cap) + ifnull(length(statement), 0) + ifnull(length(proof), 0) "
            "FROM relayed WHERE feed = ? AND trust != 'verified' ORDER BY received_ts DESC, id DESC",
            (feed,)).fetchall()
        total, drop = 0, []
        for n, (alert_id, size) in enumerate(rows):
            total += int(size)
            if n >= self.max_feed_rows or total > self.max_feed_bytes:
                drop.append((alert_id,))
        if drop:
            self._db.executemany("DELETE FROM relayed WHERE id = ?", drop)

    def get(self, alert_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(_SELECT + " WHERE id = ?",
                                   (alert_id,)).fetchone()
        return None if row is None else dict(zip(_COLUMNS, row, strict=True))

    def get_bytes(self, alert_id: str) -> tuple[bytes, bytes | None, bytes | None] | None:
        """The CAP, statement and proof exactly as fetched."""
        with self._lock:
            row = self._db.execute("SELECT cap, statement, proof FROM relayed WHERE id = ?",
                                   (alert_id,)).fetchone()
        return None if row is None else (bytes(row[0]), row[1] and bytes(row[1]), row[2] and bytes(row[2]))

    def recent(self, *, feed: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = _SELECT
        args: list[Any] = []
        if feed is not None:
            query += " WHERE feed = ?"
            args.append(feed)
        query += " ORDER BY received_ts DESC, id LIMIT ?"
        args.append(limit)
        with self._lock:
            rows = self._db.execute(query, args).fetchall()
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]

    def refuse(self, feed: str, subject: str, code: str, reason: str, now: float) -> bool:
        """Record a refusal; True if it is new (then the caller logs it)."""
        with self._lock:
            updated = self._db.execute(
                "UPDATE refusals SET count = count + 1, last_ts = ?, reason = ? "
                "WHERE feed = ? AND subject = ? AND code = ?", (now, reason, feed, subject, code)).rowcount
            if updated:
                return False
            self._db.execute("INSERT INTO refusals VALUES (?, ?, ?, ?, ?, ?, 1)",
                             (feed, subject, code, reason, now, now))
            self._db.execute("DELETE FROM refusals WHERE feed = ? AND rowid NOT IN (SELECT rowid FROM "
                             "refusals WHERE feed = ? ORDER BY last_ts DESC, rowid DESC LIMIT ?)",
                             (feed, feed, self.max_feed_refusals))
        return True

    def was_refused(self, feed: str, subject: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM refusals WHERE feed = ? AND subject = ?",
                                    (feed, subject)).fetchone() is not None

    def refusals(self, feed: str, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT subject, code, reason, first_ts, last_ts, count FROM refusals "
                                    "WHERE feed = ? ORDER BY last_ts DESC LIMIT ?", (feed, limit)).fetchall()
        return [dict(zip(_REFUSAL_COLUMNS, row, strict=True)) for row in rows]

    def state(self, feed: str) -> tuple[bytes | None, int | None, float | None]:
        """The newest registry adopted for ``feed`` and the last checkpoint seen (size, time)."""
        with self._lock:
            row = self._db.execute("SELECT registry, checkpoint_size, checkpoint_seen_ts FROM feed_state "
                                   "WHERE feed = ?", (feed,)).fetchone()
        if row is None:
            return None, None, None
        return (row[0] and bytes(row[0])), row[1], row[2]

    def save_registry(self, feed: str, registry: bytes) -> None:
        with self._lock:
            self._db.execute("INSERT INTO feed_state (feed, registry) VALUES (?, ?) ON CONFLICT (feed) "
                             "DO UPDATE SET registry = excluded.registry", (feed, registry))

    def save_checkpoint(self, feed: str, size: int, seen_ts: float) -> None:
        """The followed log had ``size`` entries at ``seen_ts`` (a checkpoint verified then);
        kept for each size, with the last time it was seen, for :meth:`seen_without`."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute(
                    "INSERT INTO feed_state (feed, checkpoint_size, checkpoint_seen_ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (feed) DO UPDATE SET checkpoint_size = excluded.checkpoint_size, "
                    "checkpoint_seen_ts = excluded.checkpoint_seen_ts", (feed, size, seen_ts))
                self._db.execute(
                    "INSERT INTO checkpoints_seen (feed, size, last_seen_ts) VALUES (?, ?, ?) "
                    "ON CONFLICT (feed, size) DO UPDATE SET last_seen_ts = "
                    "max(last_seen_ts, excluded.last_seen_ts)", (feed, size, seen_ts))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def seen_without(self, feed: str, index: int) -> tuple[int, float] | None:
        """The last checkpoint seen that did not yet hold entry ``index`` (its size and when),
        or None: the entry was logged after that time, whenever a feed chooses to list it."""
        with self._lock:
            row = self._db.execute(
                "SELECT size, last_seen_ts FROM checkpoints_seen WHERE feed = ? AND size <= ? "
                "ORDER BY size DESC LIMIT 1", (feed, index)).fetchone()
            if row is None:  # a file from before this table: its one saved checkpoint
                row = self._db.execute(
                    "SELECT checkpoint_size, checkpoint_seen_ts FROM feed_state WHERE feed = ? AND "
                    "checkpoint_size <= ? AND checkpoint_seen_ts IS NOT NULL", (feed, index)).fetchone()
        return None if row is None else (int(row[0]), float(row[1]))
