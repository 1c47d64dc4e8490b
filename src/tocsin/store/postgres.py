"""The shared store: PostgreSQL (psycopg 3, a psycopg-pool connection pool).

The same contract as :class:`tocsin.store.sqlite.SqliteStore` (``tests/store/test_contract.py``
runs against both): an alert, what it ends, its stream event and its log leaf commit in one
transaction; each alert of a batch is atomic through a savepoint; no acceptance rule lives in
SQL (the rulebook's ``rules`` are asked over a read-only view of the writer's transaction).

**Writer leadership and fencing.** Several hub processes may share one database, but only one
writes. A writer *leads* by holding a PostgreSQL session advisory lock
(:meth:`PostgresStore.acquire_leadership`); taking it increments ``writer_lease.epoch`` and the
store keeps that epoch as its fencing token. Every write transaction first locks the lease row
(``SELECT ... FOR UPDATE``) and refuses (:class:`~tocsin.store.base.NotLeader`, nothing stored)
unless the row still holds this store's epoch. So a writer that *believes* it leads — paused,
partitioned, its lock session gone while another writer took over — can never commit: the new
leader bumped the epoch first, and the row lock orders that bump against every commit.
Invariants that follow:

* writes are serialised by the lease row lock, so event ids (one sequence) and log indexes
  are assigned in commit order: a reader that has seen id N never later finds a committed id
  below N (ids may have gaps where a transaction rolled back; they are never reused);
* an epoch only grows; a store's token is None until it leads, and None again once it saw
  its epoch superseded.

**Failures.** Any PostgreSQL failure (server restarting, connection lost, pool exhausted, a
commit refused) rolls the transaction back and surfaces as
:class:`~tocsin.store.base.StorageUnavailable` (a full disk as
:class:`~tocsin.store.base.StorageFull`), which the API answers ``503``/``507`` with
``Retry-After``; reads fail the same way rather than as a 500. The pool checks each connection
before lending it and reconnects by itself, so the store recovers when the server returns.
A connection lost *during* COMMIT leaves the outcome unknown: the hub answers 503, and the
issuer's retry of the same bytes is answered from the store (idempotent by content).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Literal

import msgspec
import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool

from tocsin.ledger.effects import Ending, LedgerView, Prior, StateRefusal, StateRules
from tocsin.store.base import (
    AlertRecord,
    AppendResult,
    Conflict,
    Coverage,
    NewAlert,
    NotLeader,
    Refused,
    SearchText,
    StorageFull,
    StorageUnavailable,
    StoreError,
    StreamEvent,
    TextEntry,
    incoming,
)
from tocsin.tlog.entry import alert_entry, decode_entry, registry_entry
from tocsin.tlog.tree import append_batch, leaf_hash, stored_hash_count

log = logging.getLogger("tocsin.store")

SCHEMA_VERSION = 1
#: Advisory lock keys (one database each; advisory locks are per database).
WRITER_LOCK_KEY = 0x746F6373696E0001  # "tocsin" + 1: the leading writer holds it
SCHEMA_LOCK_KEY = 0x746F6373696E0002  # serialises schema creation by processes starting together
#: Seconds without a heartbeat after which a standby ends the leader's lock session and takes
#: over: a hung or paused leader's session stays open, so its lock would never be freed.
STALE_LEADER_SECS = 8.0
#: Seconds a request waits for a pooled connection before it is answered 503.
POOL_TIMEOUT_SECS = 3.0
#: Seconds a new connection may take (a server that does not answer is unavailable).
CONNECT_TIMEOUT_SECS = 3
POOL_MAX = 16
#: Seconds the pool keeps retrying one lost connection in the background before it gives up
#: (a request that finds no connection starts a new attempt at once).
RECONNECT_GIVE_UP_SECS = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS writer_lease (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL,
    holder TEXT,
    since DOUBLE PRECISION
);
INSERT INTO writer_lease (id, epoch) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
-- Where the leading writer takes writes (its private URL); NULL until it is ready. Set by
-- the leader of the row's epoch only, cleared whenever the epoch changes (edges follow it).
ALTER TABLE writer_lease ADD COLUMN IF NOT EXISTS url TEXT;
-- The leader's heartbeat (the server's clock), renewed by its lease check every second: a
-- leader that stopped beating (hung, paused) while its session stays open is taken over.
ALTER TABLE writer_lease ADD COLUMN IF NOT EXISTS beat TIMESTAMPTZ;
CREATE TABLE IF NOT EXISTS alerts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    cap BYTEA NOT NULL,
    statement BYTEA NOT NULL,
    issuer_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    identifier TEXT NOT NULL,
    sent TEXT NOT NULL,
    sent_ts DOUBLE PRECISION NOT NULL,
    received_ts DOUBLE PRECISION NOT NULL,
    expires_ts DOUBLE PRECISION,
    msg_type TEXT NOT NULL,
    status TEXT NOT NULL,
    kinds TEXT[] NOT NULL,
    event TEXT NOT NULL,
    event_id BIGINT NOT NULL,
    ended_ts DOUBLE PRECISION,
    ended_by TEXT,
    log_index BIGINT,
    UNIQUE (sender, identifier)
);
CREATE TABLE IF NOT EXISTS targets (
    alert_id TEXT NOT NULL,
    code TEXT NOT NULL,
    coverage TEXT NOT NULL CHECK (coverage IN ('full', 'partial')),
    ended_ts DOUBLE PRECISION,
    ended_by TEXT,
    PRIMARY KEY (alert_id, code)
);
CREATE INDEX IF NOT EXISTS targets_by_code ON targets (code, ended_ts);
CREATE INDEX IF NOT EXISTS alerts_by_sent ON alerts (sent_ts);
CREATE TABLE IF NOT EXISTS log_entries (
    idx BIGINT PRIMARY KEY,
    entry BYTEA NOT NULL,
    alert_id TEXT
);
CREATE INDEX IF NOT EXISTS log_registry_entries ON log_entries (idx) WHERE alert_id IS NULL;
CREATE TABLE IF NOT EXISTS log_hashes (idx BIGINT PRIMARY KEY, hash BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    size BIGINT PRIMARY KEY,
    note BYTEA NOT NULL,
    created_ts DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    regions TEXT[] NOT NULL,
    data BYTEA NOT NULL
);
-- The check's search history (Store.text_*): one row per searchable alert (pos = alerts.seq)
-- with its normal-form words as a tsvector (made from the exact words, no text parser) under
-- two GIN full-text indexes (alerts; denials), word frequencies (term '' counts the alerts)
-- and lookup keys: the same data SQLite keeps in FTS5.
CREATE TABLE IF NOT EXISTS check_entries (pos BIGINT PRIMARY KEY, text BYTEA NOT NULL);
ALTER TABLE check_entries ADD COLUMN IF NOT EXISTS denial BOOLEAN;
ALTER TABLE check_entries ADD COLUMN IF NOT EXISTS words tsvector;
CREATE INDEX IF NOT EXISTS check_words ON check_entries USING gin (words) WHERE denial IS FALSE;
CREATE INDEX IF NOT EXISTS check_denial_words ON check_entries USING gin (words) WHERE denial;
CREATE TABLE IF NOT EXISTS check_terms (term TEXT PRIMARY KEY, docs BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS check_keys (key TEXT NOT NULL, pos BIGINT NOT NULL,
    PRIMARY KEY (key, pos));
"""

MAX_WORD_BYTES = 2046  # PostgreSQL's longest lexeme
BACKFILL_BATCH = 1000

_text_encoder = msgspec.json.Encoder()
_text_decoder = msgspec.json.Decoder(SearchText)

_ALERT_COLUMNS = (
    "id, cap, statement, issuer_id, key_id, sender, identifier, sent, sent_ts, received_ts, "
    "expires_ts, msg_type, status, kinds, event, event_id, ended_ts, ended_by, log_index"
)

Conn = psycopg.Connection[tuple[Any, ...]]


class LogBehind(StorageUnavailable):
    """The store holds fewer log entries than this writer's log key signed: writing would
    fork the log, so nothing is written (the hub answers ``503``)."""


def storage_error(exc: BaseException) -> Exception:
    """The hub's error for a PostgreSQL failure: disk full, else unavailable (never a 500)."""
    if isinstance(exc, psycopg.errors.DiskFull):
        return StorageFull(f"PostgreSQL: the disk is full ({exc})")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return StorageUnavailable(f"PostgreSQL: {type(exc).__name__}: {first}")


def open_pool(dsn: str, name: str, *, max_size: int, timeout: float,
              options: str | None = None) -> ConnectionPool[Conn]:
    """A psycopg pool on the hub's database as every store here uses it (autocommit, a short
    connect timeout), for the hub's store and the senders' tables beside it."""
    return ConnectionPool(
        dsn, min_size=1, max_size=max_size, timeout=timeout, open=True,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECS,
                **({"options": options} if options else {})},
        check=ConnectionPool.check_connection, name=name,
        # Give up a background reconnection quickly: the next request then starts a fresh
        # one at once, instead of waiting out psycopg-pool's doubling backoff (a long
        # outage would otherwise delay recovery by about as long again).
        reconnect_timeout=RECONNECT_GIVE_UP_SECS,
    )


@contextmanager
def pooled(pool: ConnectionPool[Conn]) -> Iterator[Conn]:
    """A pooled connection; every PostgreSQL failure leaves as :class:`StorageUnavailable`."""
    try:
        with pool.connection() as conn:
            yield conn
    except psycopg.Error as exc:
        raise storage_error(exc) from exc


def check_dsn(dsn: str) -> None:
    """Refuse a connection string libpq cannot parse, without repeating any of it.

    libpq's parse errors quote the offending part of the string, which may be the password
    (``invalid percent-encoded token: "s3cr%ZZet"``), so their text is dropped here, and the
    exception is not chained (a traceback would print it).
    """
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise StorageUnavailable("PostgreSQL: the store setting is not a connection URL libpq can "
                                 "parse (not repeated here: it may hold a password)") from None


def redacted(dsn: str) -> str:
    """``dsn`` without its password, for messages and logs (a DSN may carry a secret)."""
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable)"
    user = f"{params['user']}@" if params.get("user") else ""
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql://{user}{params.get('host', '')}{port}/{params.get('dbname', '')}"


class PostgresStore:
    """PostgreSQL implementation of :class:`tocsin.store.base.Store` (module docstring).

    ``dsn`` is a libpq connection string or ``postgresql://`` URL; ``rules`` as for
    :class:`~tocsin.store.sqlite.SqliteStore`. Opening creates the schema if it is missing.
    Writes need leadership (:meth:`acquire_leadership`); reads never do.
    """

    def __init__(self, dsn: str, *, rules: StateRules, pool_max: int = POOL_MAX,
                 pool_timeout_secs: float = POOL_TIMEOUT_SECS, readonly: bool = False) -> None:
        self.dsn = dsn
        self.readonly = readonly
        self._rules = rules
        self._fault: Literal["leaf", "commit"] | None = None
        self._lease_lock = threading.Lock()
        self._lease: Conn | None = None  # the session holding the writer lock
        self._epoch: int | None = None  # fencing token while this store leads
        #: The largest log size this writer's key has signed (hold_log_at_least): a store
        #: holding fewer entries (restored, or a replica promoted without the last commits)
        #: is refused every write, so no leaf lands at an index already signed for another.
        self._log_floor = 0
        check_dsn(dsn)
        # A read-only store (an edge's) runs no DDL and every session is read-only, so it
        # works under a database role that may only SELECT; the writer made the schema.
        # (``options`` replaces any the URL sets: an edge's URL needs none)
        options = "-c default_transaction_read_only=on" if readonly else None
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECS,
                                 options=options) as conn:
                if readonly:
                    _check_schema(conn)
                else:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
                        conn.execute(_SCHEMA)
                        conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
                                     "ON CONFLICT (key) DO NOTHING", (str(SCHEMA_VERSION),))
        except psycopg.Error as exc:
            raise storage_error(exc) from exc
        self._pool = open_pool(dsn, "tocsin-store", max_size=pool_max,
                               timeout=pool_timeout_secs, options=options)

    def _conn(self) -> AbstractContextManager[Conn]:
        return pooled(self._pool)

    # -- leadership --------------------------------------------------------

    def acquire_leadership(self, wait_secs: float = 0.0) -> bool:
        """Try to become the leading writer; True if this store leads now.

        Takes the writer advisory lock on a session of its own (waiting up to ``wait_secs``
        for it), then increments the lease epoch: from that commit on, every earlier leader's
        writes are refused. Already leading: True at once. A server that cannot be reached
        raises :class:`StorageUnavailable`.
        """
        if self.readonly:
            raise NotLeader("a read-only store (an edge's) never leads")
        with self._lease_lock:
            if self._epoch is not None and self._lease_alive():
                return True
            self._drop_lease()
            try:
                conn: Conn = psycopg.connect(self.dsn, autocommit=True,
                                             connect_timeout=CONNECT_TIMEOUT_SECS)
            except psycopg.Error as exc:
                raise storage_error(exc) from exc
            try:
                if wait_secs > 0:
                    conn.execute("SELECT set_config('lock_timeout', %s, false)",
                                  (f"{int(wait_secs * 1000)}ms",))
                    try:
                        conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK_KEY,))
                        got = True
                    except psycopg.errors.LockNotAvailable:
                        got = False
                else:
                    got = _try_lock(conn)
                if not got and _end_stale_leader(conn):
                    got = _try_lock(conn)
                if not got:
                    conn.close()
                    return False
                row = conn.execute(
                    "UPDATE writer_lease SET epoch = epoch + 1, holder = %s, since = %s, url = NULL, "
                    "beat = clock_timestamp() WHERE id = 1 RETURNING epoch",
                    (_holder(), time.time())).fetchone()
            except psycopg.Error as exc:
                conn.close()
                raise storage_error(exc) from exc
            assert row is not None
            self._lease, self._epoch = conn, int(row[0])
            log.info("this writer leads the store (epoch %d)", self._epoch)
            return True

    def is_leader(self) -> bool:
        """Whether this store leads now: it holds the writer lock and its epoch is current.

        After a lost lock session (PostgreSQL restarted, the network failed) it takes the lock
        back only if no other writer led meanwhile (the epoch is still its own); otherwise it
        has lost leadership for good (:attr:`fencing_token` becomes None). While the server
        cannot be reached it answers False but keeps its token, to resume when it returns.
        """
        with self._lease_lock:
            if self._epoch is None:
                return False
            if self._lease is not None and self._lease_alive():
                current = self._current_epoch(self._lease)
                if current == self._epoch:
                    self._beat(self._lease)
                    return True
                if current is not None:
                    self._lose(current)
                    return False
            self._drop_lease()
            try:
                conn: Conn = psycopg.connect(self.dsn, autocommit=True,
                                             connect_timeout=CONNECT_TIMEOUT_SECS)
            except psycopg.Error:
                return False
            try:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)).fetchone()
                current = self._current_epoch(conn) if row and row[0] else None
            except psycopg.Error:
                conn.close()
                return False
            if current == self._epoch:
                self._lease = conn
                log.info("this writer took its lock back (epoch %d)", self._epoch)
                return True
            conn.close()
            if current is not None or not (row and row[0]):
                self._lose(current)
            return False

    def current_leader(self) -> tuple[int, str | None]:
        """(epoch, holder) of the last writer that took leadership (``host:pid``; None: never)."""
        with self._conn() as conn:
            row = conn.execute("SELECT epoch, holder FROM writer_lease WHERE id = 1").fetchone()
        return (0, None) if row is None else (int(row[0]), row[1])

    def advertise_writer(self, url: str) -> None:
        """Say where this leading writer takes writes (edges hand them there); fenced.

        Written under the lease row lock and only while the row holds this store's epoch, so
        the address edges read is always the current leader's (a new epoch starts with none).
        """
        with self._conn() as conn, conn.transaction():
            self._fence(conn)
            conn.execute("UPDATE writer_lease SET url = %s WHERE id = 1", (url,))

    def leader_url(self) -> str | None:
        """Where the current leader takes writes; None while no leader has said (no lead needed)."""
        with self._conn() as conn:
            row = conn.execute("SELECT url FROM writer_lease WHERE id = 1").fetchone()
        return None if row is None or row[0] is None else str(row[0])

    @property
    def fencing_token(self) -> int | None:
        """The lease epoch this store writes under, or None when it does not lead."""
        return self._epoch

    def release_leadership(self) -> None:
        """Stop leading: drop the lock (another writer may take it); writes are refused after."""
        with self._lease_lock:
            self._epoch = None
            self._drop_lease()

    def _lease_alive(self) -> bool:
        return self._lease is not None and not self._lease.closed and not self._lease.broken

    def _beat(self, conn: Conn) -> None:
        """Renew this leader's heartbeat (a failure: the next check finds out why)."""
        with contextlib.suppress(psycopg.Error):
            conn.execute("UPDATE writer_lease SET beat = clock_timestamp() WHERE id = 1 AND "
                         "epoch = %s", (self._epoch,))

    @staticmethod
    def _current_epoch(conn: Conn) -> int | None:
        try:
            row = conn.execute("SELECT epoch FROM writer_lease WHERE id = 1").fetchone()
        except psycopg.Error:
            return None
        return None if row is None else int(row[0])

    def _drop_lease(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(psycopg.Error):  # closing a dead session
                self._lease.close()
            self._lease = None

    def _lose(self, current: int | None) -> None:
        log.warning("writer epoch %s was superseded (now %s): this store no longer leads",
                    self._epoch, current)
        self._epoch = None
        self._drop_lease()

    def hold_log_at_least(self, size: int) -> None:
        """From now on refuse every write unless the store holds at least ``size`` log entries.

        The checkpointer calls it with every size the log key signs (before anyone sees the
        checkpoint). A server that comes back behind it — a backup restored, a replica
        promoted that lacked the last commits — keeps the same lease epoch, so the epoch
        alone would let this writer append at indexes already signed for other leaves (a
        fork) and answer 201 for them; this floor refuses instead (:class:`LogBehind`).
        """
        self._log_floor = max(self._log_floor, size)

    def _fence(self, conn: Conn) -> None:
        """Inside a write transaction: lock the lease row; refuse unless it holds our epoch
        and the store still holds every log entry this writer signed (:meth:`hold_log_at_least`)."""
        mine = self._epoch
        row = conn.execute("SELECT epoch FROM writer_lease WHERE id = 1 FOR UPDATE").fetchone()
        current = None if row is None else int(row[0])
        if mine is None:
            raise NotLeader("this hub is not the leading writer; nothing was stored")
        if current != mine:
            # No lease lock here (acquire_leadership holds it while it waits for this row):
            # another writer holds the advisory lock now, so our lock session is gone already;
            # is_leader() closes it.
            if self._epoch == mine:
                self._epoch = None
                log.warning("writer epoch %d was superseded by %s: this store no longer leads",
                            mine, current)
            raise NotLeader(f"another writer leads (epoch {current}, this one had {mine}); "
                            "nothing was stored")
        floor = self._log_floor
        if floor and (held := _log_size(conn)) < floor:
            log.critical("the store holds %d log entries but this writer's key signed a tree of "
                         "%d: it came back behind (a restored backup, a replica promoted without "
                         "the last commits); every write is refused — restore a store at least as "
                         "new, or see docs/operations.md", held, floor)
            raise LogBehind(f"the store holds {held} log entries, fewer than the {floor} this "
                            "writer signed; nothing was stored")

    # -- writes ------------------------------------------------------------

    def inject_fault(self, step: Literal["leaf", "commit"]) -> None:
        """Test seam (the contract suite's fault injection): the next batch fails at ``step``.

        ``"leaf"``: the server ends this session while the log leaf is written (a crash between
        steps: ``pg_terminate_backend``); ``"commit"``: the COMMIT itself is refused (a deferred
        unique constraint that fails at commit). Both are real server-side failures.
        """
        self._fault = step

    def append(self, alert: NewAlert) -> AppendResult:
        result = self.append_batch([alert])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_batch(self, alerts: Sequence[NewAlert]) -> list[AppendResult | StoreError]:
        """Append several alerts in one transaction (one commit); each alert atomic on its own."""
        results: list[AppendResult | StoreError] = []
        with self._conn() as conn, conn.transaction():
            self._fence(conn)
            if self._fault == "commit":
                self._fault = None
                conn.execute("CREATE TEMP TABLE tocsin_fault (x INT UNIQUE DEFERRABLE INITIALLY "
                             "DEFERRED) ON COMMIT DROP")
                conn.execute("INSERT INTO tocsin_fault VALUES (1), (1)")  # checked at COMMIT
            for alert in alerts:
                try:
                    with conn.transaction():  # a savepoint: this alert alone
                        results.append(self._append_one(conn, alert))
                except psycopg.Error:
                    raise  # the database itself failed: the whole batch fails
                except Exception as exc:  # this alert's own failure: never its neighbours'
                    if not isinstance(exc, StoreError):
                        failure = StoreError(f"alert {alert.id} could not be stored: "
                                             f"{type(exc).__name__}: {exc}")
                        failure.__cause__ = exc
                        exc = failure
                    results.append(exc)
        return results

    def _append_one(self, conn: Conn, alert: NewAlert) -> AppendResult:
        if _has_nul(alert.id, alert.issuer_id, alert.key_id, alert.sender, alert.identifier,
                    alert.sent, alert.msg_type, alert.status, alert.event, *alert.kinds,
                    *alert.targets, *(part for ref in alert.references for part in ref)):
            # (XML cannot carry NUL, so no parsed CAP has one; refused before PostgreSQL would
            # fail the whole batch on it)
            raise StoreError(f"alert {alert.id!r} holds a NUL character, which the store cannot keep")
        existing = _get(conn, "sender = %s AND identifier = %s", (alert.sender, alert.identifier))
        if existing is not None:
            if existing.id == alert.id and existing.cap == alert.cap:
                return AppendResult(record=existing, created=False)
            raise Conflict(existing.id)
        decision = self._rules(incoming(alert), _PgView(conn))
        if isinstance(decision, StateRefusal):
            raise Refused(decision.code, decision.reason)
        for ending in decision.endings:
            _persist_ending(conn, ending, alert)
        regions = sorted(set(alert.targets) | decision.touched)
        row = conn.execute(
            "INSERT INTO events (kind, alert_id, regions, data) VALUES (%s, %s, %s, %s) RETURNING id",
            (alert.stream_kind, alert.id, regions, alert.summary)).fetchone()
        assert row is not None
        event_id = int(row[0])
        index = _log_size(conn)
        seq_row = conn.execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "  # noqa: S608 - constant column list
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL, %s) "
            "RETURNING seq",
            (alert.id, alert.cap, alert.statement, alert.issuer_id, alert.key_id, alert.sender,
             alert.identifier, alert.sent, alert.sent_ts, alert.received_ts, alert.expires_ts,
             alert.msg_type, alert.status, list(alert.kinds), alert.event, event_id, index)
        ).fetchone()
        assert seq_row is not None
        done = not decision.holds_targets  # an announcement ends others, holds nothing itself
        if alert.targets:
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO targets (alert_id, code, coverage, ended_ts, ended_by) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    [(alert.id, code, coverage, alert.received_ts if done else None,
                      alert.id if done else None) for code, coverage in alert.targets.items()])
        if self._fault == "leaf":
            self._fault = None
            conn.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        # The log leaf, in the same transaction: no alert without a leaf, no leaf without an alert.
        _append_leaf(conn, index, alert_entry(alert.statement, alert.cap), alert.id)
        if alert.text is not None:
            _file_text(conn, int(seq_row[0]), alert.text)
        record = _get(conn, "id = %s", (alert.id,))
        if record is None:  # pragma: no cover - inserted in this transaction
            raise StoreError("alert vanished inside its own transaction")
        return AppendResult(record=record, created=True, ended=decision.ended_entirely,
                            regions=tuple(regions))

    def append_registry(self, registry: bytes) -> int | None:
        entry = registry_entry(registry)
        with self._conn() as conn, conn.transaction():
            self._fence(conn)
            row = conn.execute("SELECT entry FROM log_entries WHERE alert_id IS NULL "
                               "ORDER BY idx DESC LIMIT 1").fetchone()
            if row is not None and bytes(row[0]) == entry:
                return None
            index = _log_size(conn)
            _append_leaf(conn, index, entry, None)
            return index

    def save_checkpoint(self, size: int, note: bytes, created_ts: float) -> None:
        """Keep a signed checkpoint; fenced like every write (a stale leader keeps nothing)."""
        with self._conn() as conn, conn.transaction():
            self._fence(conn)
            conn.execute("INSERT INTO checkpoints (size, note, created_ts) VALUES (%s, %s, %s) "
                         "ON CONFLICT (size) DO NOTHING", (size, note, created_ts))

    # -- reads -------------------------------------------------------------

    def get(self, alert_id: str) -> AlertRecord | None:
        if _has_nul(alert_id):
            return None
        with self._conn() as conn:
            return _get(conn, "id = %s", (alert_id,))

    def find(self, sender: str, identifier: str) -> AlertRecord | None:
        if _has_nul(sender, identifier):
            return None
        with self._conn() as conn:
            return _get(conn, "sender = %s AND identifier = %s", (sender, identifier))

    def list_alerts(
        self,
        *,
        regions: Sequence[str] | None = None,
        active_at: float | None = None,
        since_ts: float | None = None,
        limit: int = 100,
        kinds_any: Sequence[str] | None = None,
        kinds_none: Sequence[str] | None = None,
    ) -> list[AlertRecord]:
        where: list[str] = []
        params: list[object] = []
        # (a name holding NUL matches nothing stored: it is dropped, never sent to PostgreSQL)
        if kinds_any is not None:
            where.append("kinds && %s::text[]")
            params.append(_no_nul(kinds_any))
        if kinds_none:
            where.append("NOT (kinds && %s::text[])")
            params.append(_no_nul(kinds_none))
        if regions is not None:
            where.append("id IN (SELECT alert_id FROM targets WHERE code = ANY(%s)"  # noqa: S608
                         + (" AND ended_ts IS NULL)" if active_at is not None else ")"))
            params.append(_no_nul(regions))
        if active_at is not None:  # a coarse filter; the rulebook's is_active decides below
            where.append("status = 'Actual' AND msg_type IN ('Alert', 'Update') AND ended_ts IS NULL "
                         "AND (expires_ts IS NULL OR expires_ts > %s) AND NOT ('all-clear' = ANY(kinds))")
            params.append(active_at)
        if since_ts is not None:
            where.append("sent_ts >= %s")
            params.append(since_ts)
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts"  # noqa: S608 - only placeholders added
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT %s"
        params.append(limit)
        with self._conn() as conn:
            records = _records(conn, conn.execute(sql, params).fetchall())
        if active_at is not None:
            records = [r for r in records if r.active_at(active_at)]
        return records

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]:
        with self._conn() as conn:
            rows = conn.execute("SELECT id, kind, alert_id, regions, data FROM events WHERE id > %s "
                                "ORDER BY id LIMIT %s", (event_id, limit)).fetchall()
        return [StreamEvent(id=int(r[0]), kind=str(r[1]), alert_id=str(r[2]), regions=tuple(r[3]),
                            data=bytes(r[4])) for r in rows]

    # -- the check's search history ----------------------------------------

    def text_stats(self, words: Collection[str]) -> tuple[int, dict[str, int]]:
        wanted = sorted({w for w in words if w})
        with self._conn() as conn:
            rows = conn.execute("SELECT term, docs FROM check_terms WHERE term = ANY(%s)",
                                (["", *wanted],)).fetchall()
        found = {str(t): int(n) for t, n in rows}
        count = found.pop("", 0)
        return count, {w: n for w, n in found.items() if n}

    def text_postings(self, word: str, *, denial: bool = False) -> list[int]:
        if not word or len(word.encode()) > MAX_WORD_BYTES:
            return []
        sql, params = self.postings_query(word, denial=denial)
        with self._conn() as conn:
            rows = conn.execute(sql, params).fetchall()
        return [int(r[0]) for r in rows]

    @staticmethod
    def postings_query(word: str, *, denial: bool) -> tuple[str, tuple[str]]:
        """The SQL (and its parameter) of :meth:`text_postings`: a GIN index search for the one
        exact lexeme (quoted, so no text parser splits or changes it)."""
        lexeme = "'" + word.replace("\\", "\\\\").replace("'", "''") + "'"
        which = "denial" if denial else "denial IS FALSE"  # literal: each matches its index
        return (f"SELECT pos FROM check_entries WHERE {which} AND words @@ %s::tsquery "  # noqa: S608
                "ORDER BY pos", (lexeme,))

    def backfill_text(self, text_of: Callable[[AlertRecord], SearchText | None]) -> None:
        """File the search text of alerts stored after the last filed one (a migration: alerts
        stored before the search history existed), and index entries filed before the words
        had their index. The leading writer runs it once it leads (writes are fenced)."""
        while True:
            with self._conn() as conn, conn.transaction():
                self._fence(conn)
                rows = conn.execute("SELECT pos, text FROM check_entries WHERE words IS NULL "
                                    "ORDER BY pos LIMIT %s", (BACKFILL_BATCH,)).fetchall()
                for pos, data in rows:
                    text = _text_decoder.decode(bytes(data))
                    conn.execute("UPDATE check_entries SET denial = %s, words = "
                                 "array_to_tsvector(%s::text[]) WHERE pos = %s",
                                 (text.denial, _indexed(text), pos))
            if not rows:
                break
        with self._conn() as conn:
            conn.execute("DROP TABLE IF EXISTS check_postings")  # the index replaced it
        while True:
            with self._conn() as conn, conn.transaction():
                self._fence(conn)
                row = conn.execute("SELECT COALESCE(MAX(pos), 0) FROM check_entries").fetchone()
                last = 0 if row is None else int(row[0])
                found = conn.execute(f"SELECT seq, {_ALERT_COLUMNS} FROM alerts WHERE seq > %s "  # noqa: S608
                                     "ORDER BY seq LIMIT %s", (last, BACKFILL_BATCH)).fetchall()
                records = _records(conn, [row[1:] for row in found])
                for (seq, *_), record in zip(found, records, strict=True):
                    _file_text(conn, int(seq), text_of(record) or SearchText(infos=()))
            if not found:
                return
            log.info("filed the search text of %d stored alerts", len(found))

    def text_entries(self, positions: Collection[int]) -> dict[int, TextEntry]:
        wanted = sorted(set(positions))
        if not wanted:
            return {}
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT c.pos, a.id, a.issuer_id, a.sent_ts, a.kinds, c.text FROM check_entries c "
                "JOIN alerts a ON a.seq = c.pos WHERE c.pos = ANY(%s)", (wanted,)).fetchall()
        return {int(r[0]): TextEntry(int(r[0]), str(r[1]), str(r[2]), float(r[3]), tuple(r[4]),
                                     _text_decoder.decode(bytes(r[5]))) for r in rows}

    def text_recent(self, key: str | None, limit: int) -> list[int]:
        if limit <= 0:
            return []
        with self._conn() as conn:
            if key is None:
                rows = conn.execute("SELECT pos FROM check_entries ORDER BY pos DESC LIMIT %s",
                                    (limit,)).fetchall()
            else:
                rows = conn.execute("SELECT pos FROM check_keys WHERE key = %s ORDER BY pos DESC "
                                    "LIMIT %s", (key, limit)).fetchall()
        return [int(r[0]) for r in rows]

    def last_event_id(self) -> int:
        with self._conn() as conn:
            row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return 0 if row is None else int(row[0])

    def log_size(self) -> int:
        with self._conn() as conn:
            return _log_size(conn)

    def log_entries(self, start: int, end: int) -> list[bytes]:
        with self._conn() as conn:
            rows = conn.execute("SELECT entry FROM log_entries WHERE idx >= %s AND idx < %s "
                                "ORDER BY idx", (start, end)).fetchall()
        if len(rows) != end - start:
            raise StoreError(f"log entries {start}..{end} are not all stored")
        return [bytes(r[0]) for r in rows]

    def hash_reader(self) -> PgHashReader:
        """Reads committed stored hashes (roots, proofs, tiles), one pooled query per call."""
        return PgHashReader(self)

    def last_logged_registry(self) -> bytes | None:
        with self._conn() as conn:
            row = conn.execute("SELECT entry FROM log_entries WHERE alert_id IS NULL "
                               "ORDER BY idx DESC LIMIT 1").fetchone()
        return None if row is None else decode_entry(bytes(row[0])).registry

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        with self._conn() as conn:
            row = conn.execute("SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def close(self) -> None:
        self.release_leadership()
        self._pool.close()


def _check_schema(conn: Conn) -> None:
    """A read-only store opens only a database whose writer made this schema version."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except psycopg.errors.UndefinedTable:
        raise StorageUnavailable("PostgreSQL: the database holds no Tocsin store yet; start the "
                                 "writer first") from None
    if row is None or row[0] != str(SCHEMA_VERSION):
        raise StorageUnavailable(f"PostgreSQL: the store's schema version is "
                                 f"{None if row is None else row[0]}, this hub reads "
                                 f"{SCHEMA_VERSION}")


def _has_nul(*texts: str | None) -> bool:
    """Whether any text holds NUL, which PostgreSQL text cannot store (so nothing stored has it)."""
    return any(text is not None and "\x00" in text for text in texts)


def _no_nul(texts: Sequence[str]) -> list[str]:
    return [text for text in texts if "\x00" not in text]


def _try_lock(conn: Conn) -> bool:
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)).fetchone()
    return bool(row and row[0])


def _end_stale_leader(conn: Conn) -> bool:
    """End the lock session of a leader whose heartbeat is older than STALE_LEADER_SECS.

    A hung or paused leader keeps its session (its kernel still answers), so its lock would
    never free and writes would wait for ever. Ending its session frees the lock (and ending
    a write transaction it hung inside frees the lease row, nothing of it stored); the epoch
    the caller then takes fences anything the old leader still tries (it exits when it sees
    it). Needs the same database role as the leader (or ``pg_signal_backend``); without it
    nothing happens. True if a session was ended.
    """
    try:
        # Its lock session, and any write transaction it hung inside (only the leader's
        # writes lock the lease row: FOR UPDATE holds RowShareLock on the table), which
        # would otherwise hold the row the new epoch is written to.
        rows = conn.execute(
            "SELECT pg_terminate_backend(s.pid, 5000) FROM (SELECT DISTINCT l.pid FROM pg_locks l, "
            "writer_lease w WHERE l.granted AND l.pid <> pg_backend_pid() AND w.id = 1 "
            "AND w.beat IS NOT NULL AND w.beat < clock_timestamp() - make_interval(secs => %s) "
            "AND ((l.locktype = 'advisory' AND l.classid = %s::oid AND l.objid = %s::oid "
            "AND l.objsubid = 1) OR (l.locktype = 'relation' AND l.mode = 'RowShareLock' "
            "AND l.relation = 'writer_lease'::regclass))) s",
            (STALE_LEADER_SECS, WRITER_LOCK_KEY >> 32, WRITER_LOCK_KEY & 0xFFFFFFFF)).fetchall()
    except psycopg.Error as exc:
        log.warning("the leader's heartbeat is stale but its session cannot be ended: %s",
                    storage_error(exc))
        return False
    ended = any(row[0] for row in rows)
    if ended:
        log.warning("the leading writer's heartbeat was older than %.0f s (hung or paused): its "
                    "lock session was ended; this writer takes over", STALE_LEADER_SECS)
    return ended


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class PgHashReader:
    """A :class:`tocsin.tlog.tree.HashReader` over ``log_hashes``: a store's pool or one connection."""

    def __init__(self, source: PostgresStore | Conn) -> None:
        self._source = source

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        if not indexes:
            return []
        wanted = sorted(set(indexes))
        sql = "SELECT idx, hash FROM log_hashes WHERE idx = ANY(%s)"
        if isinstance(self._source, PostgresStore):
            with self._source._conn() as conn:
                rows = conn.execute(sql, (wanted,)).fetchall()
        else:
            rows = self._source.execute(sql, (wanted,)).fetchall()
        found = {int(i): bytes(h) for i, h in rows}
        missing = [i for i in indexes if i not in found]
        if missing:
            raise StoreError(f"stored hashes missing from the log: {missing[:5]}")
        return [found[i] for i in indexes]


def _log_size(conn: Conn) -> int:
    row = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries").fetchone()
    return 0 if row is None else int(row[0])


def _append_leaf(conn: Conn, size: int, entry: bytes, alert_id: str | None) -> None:
    stored = append_batch(size, [leaf_hash(entry)], PgHashReader(conn))
    if stored and stored[0][0] != stored_hash_count(size):  # pragma: no cover - tree invariant
        raise StoreError(f"log hash index {stored[0][0]} does not follow size {size}")
    conn.execute("INSERT INTO log_entries (idx, entry, alert_id) VALUES (%s, %s, %s)",
                 (size, entry, alert_id))
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO log_hashes (idx, hash) VALUES (%s, %s)", stored)


def _get(conn: Conn, where: str, params: tuple[str, ...]) -> AlertRecord | None:
    rows = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {where}", params).fetchall()  # noqa: S608
    records = _records(conn, rows)
    return records[0] if records else None


def _records(conn: Conn, rows: Sequence[Sequence[Any]]) -> list[AlertRecord]:
    """Records for alert rows, their still-active targets read in one query."""
    if not rows:
        return []
    targets: dict[str, dict[str, Coverage]] = {str(r[0]): {} for r in rows}
    for alert_id, code, coverage in conn.execute(
            "SELECT alert_id, code, coverage FROM targets WHERE alert_id = ANY(%s) AND ended_ts IS NULL",
            (list(targets),)):
        targets[str(alert_id)][str(code)] = coverage
    return [
        AlertRecord(
            id=str(r[0]), cap=bytes(r[1]), statement=bytes(r[2]), issuer_id=str(r[3]),
            key_id=str(r[4]), sender=str(r[5]), identifier=str(r[6]), sent=str(r[7]),
            sent_ts=float(r[8]), received_ts=float(r[9]),
            expires_ts=None if r[10] is None else float(r[10]), msg_type=str(r[11]),
            status=str(r[12]), kinds=tuple(r[13]), event=str(r[14]), event_id=int(r[15]),
            ended_ts=None if r[16] is None else float(r[16]),
            ended_by=None if r[17] is None else str(r[17]), targets=targets[str(r[0])],
            log_index=None if r[18] is None else int(r[18]),
        )
        for r in rows
    ]


class _PgView(LedgerView):
    """The rulebook's read-only view of the writer's transaction."""

    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    def _priors(self, rows: Sequence[Sequence[Any]]) -> list[Prior]:
        if not rows:
            return []
        reached: dict[str, set[str]] = {str(r[0]): set() for r in rows}
        active: dict[str, dict[str, Coverage]] = {str(r[0]): {} for r in rows}
        for alert_id, code, coverage, ended_ts in self._conn.execute(
                "SELECT alert_id, code, coverage, ended_ts FROM targets WHERE alert_id = ANY(%s)",
                (list(reached),)):
            reached[alert_id].add(code)
            if ended_ts is None:
                active[alert_id][code] = coverage
        return [Prior(str(r[0]), str(r[1]), str(r[2]), r[3] is not None, active[str(r[0])],
                      frozenset(reached[str(r[0])])) for r in rows]

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        if _has_nul(sender, identifier):
            return None
        rows = self._conn.execute(
            "SELECT id, issuer_id, status, ended_ts FROM alerts WHERE sender = %s AND identifier = %s",
            (sender, identifier)).fetchall()
        priors = self._priors(rows)
        return priors[0] if priors else None

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> list[Prior]:
        rows = self._conn.execute(
            "SELECT id, issuer_id, status, ended_ts FROM alerts WHERE issuer_id = %s AND status = %s "
            "AND (%s::float8 IS NULL OR expires_ts IS NULL OR expires_ts > %s::float8) "
            "AND id IN (SELECT alert_id FROM targets WHERE ended_ts IS NULL AND code = ANY(%s)) "
            "ORDER BY id", (issuer_id, status, at, at, sorted(codes))).fetchall()
        return self._priors(rows)


def _indexed(text: SearchText) -> list[str]:
    """The words of ``text`` its index holds (a lexeme is at most 2,046 bytes: longer words,
    which no message shares with an alert in practice, are left out, and never searched)."""
    return sorted(w for w in text.words() if len(w.encode()) <= MAX_WORD_BYTES)


def _file_text(conn: Conn, pos: int, text: SearchText) -> None:
    """File one alert's search text at ``pos`` (inside the caller's transaction)."""
    words = _indexed(text)
    conn.execute("INSERT INTO check_entries (pos, text, denial, words) "
                 "VALUES (%s, %s, %s, array_to_tsvector(%s::text[]))",
                 (pos, _text_encoder.encode(text), text.denial, words))
    counted = [""] if text.denial else ["", *words]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO check_terms (term, docs) VALUES (%s, 1) "
                        "ON CONFLICT (term) DO UPDATE SET docs = check_terms.docs + 1",
                        [(w,) for w in counted])
        if text.keys:
            cur.executemany("INSERT INTO check_keys (key, pos) VALUES (%s, %s) "
                            "ON CONFLICT DO NOTHING", [(k, pos) for k in dict.fromkeys(text.keys)])


def _persist_ending(conn: Conn, ending: Ending, by: NewAlert) -> None:
    """Carry out the rulebook's answer for one earlier alert."""
    if ending.entirely:
        conn.execute("UPDATE targets SET ended_ts = %s, ended_by = %s WHERE alert_id = %s "
                     "AND ended_ts IS NULL", (by.received_ts, by.id, ending.alert_id))
        conn.execute("UPDATE alerts SET ended_ts = %s, ended_by = %s WHERE id = %s AND ended_ts IS NULL",
                     (by.received_ts, by.id, ending.alert_id))
        return
    if ending.ended:
        conn.execute("UPDATE targets SET ended_ts = %s, ended_by = %s WHERE alert_id = %s "
                     "AND code = ANY(%s) AND ended_ts IS NULL",
                     (by.received_ts, by.id, ending.alert_id, sorted(ending.ended)))
    if ending.downgraded:
        conn.execute("UPDATE targets SET coverage = 'partial' WHERE alert_id = %s AND code = ANY(%s)",
                     (ending.alert_id, sorted(ending.downgraded)))
