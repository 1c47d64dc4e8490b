"""The embedded store: one SQLite file in WAL mode with ``synchronous=FULL``.

One writer (the caller guarantees a single writing thread: the hub's writer
worker); readers use their own connections, one per thread, and see committed
data only. ``append_batch`` commits several alerts with one fsync (group
commit) while keeping each alert atomic through a savepoint, so one bad alert
never takes its neighbours down with it.

No acceptance rule lives here: what an alert ends (references, all-clear trimming) is the
rulebook's answer (:mod:`tocsin.ledger.effects`, given to the store as ``rules``), asked over
a read-only view of the writer's own transaction; the store persists that answer.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from tocsin.ledger.effects import Ending, LedgerView, Prior, StateRefusal, StateRules
from tocsin.store.base import (
    AlertRecord,
    AppendResult,
    Conflict,
    Coverage,
    NewAlert,
    Refused,
    SearchText,
    StorageFull,
    StorageUnavailable,
    StoreDamaged,
    StoreError,
    StreamEvent,
    TextEntry,
    incoming,
)
from tocsin.tlog.entry import alert_entry, registry_entry
from tocsin.tlog.tree import append_batch, leaf_hash, stored_hash_count

log = logging.getLogger("tocsin.store")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alerts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    cap BLOB NOT NULL,
    statement BLOB NOT NULL,
    issuer_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    identifier TEXT NOT NULL,
    sent TEXT NOT NULL,
    sent_ts REAL NOT NULL,
    received_ts REAL NOT NULL,
    expires_ts REAL,
    msg_type TEXT NOT NULL,
    status TEXT NOT NULL,
    kinds TEXT NOT NULL,
    event TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    ended_ts REAL,
    ended_by TEXT,
    log_index INTEGER,
    UNIQUE (sender, identifier)
);
CREATE TABLE IF NOT EXISTS targets (
    alert_id TEXT NOT NULL,
    code TEXT NOT NULL,
    coverage TEXT NOT NULL CHECK (coverage IN ('full', 'partial')),
    ended_ts REAL,
    ended_by TEXT,
    PRIMARY KEY (alert_id, code)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS targets_by_code ON targets (code, ended_ts);
CREATE INDEX IF NOT EXISTS alerts_by_sent ON alerts (sent_ts);
-- What may be in force now: not ended (expiry is not stored as an ending, so expired alerts
-- stay here, ordered by expiry, and a range on expires_ts skips them).
CREATE INDEX IF NOT EXISTS alerts_in_force ON alerts (expires_ts)
    WHERE ended_ts IS NULL AND status = 'Actual' AND msg_type IN ('Alert', 'Update');
-- An issuer's alerts that may be in force, by status and expiry, with their ids: the all-clear
-- rule reads it alone (no row, whose small columns follow its CAP bytes).
CREATE INDEX IF NOT EXISTS alerts_in_force_by_issuer
    ON alerts (issuer_id, status, expires_ts, id, ended_ts, msg_type)
    WHERE ended_ts IS NULL AND msg_type IN ('Alert', 'Update');
CREATE TABLE IF NOT EXISTS log_entries (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    alert_id TEXT
);
-- Registry leaves are few: found without reading every alert's leaf (start-up time must
-- not grow with the history).
CREATE INDEX IF NOT EXISTS log_registry_leaves ON log_entries (idx) WHERE alert_id IS NULL;
CREATE TABLE IF NOT EXISTS log_hashes (idx INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    note BLOB NOT NULL,
    created_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    alert_id TEXT NOT NULL,
    regions TEXT NOT NULL,
    data BLOB NOT NULL
);
-- The check's search history, on disk (bounded memory whatever the history): one row per
-- searchable alert (pos = alerts.seq), word frequencies (term '' counts the alerts), lookup
-- keys, and two FTS5 inverted indexes of the normal-form words (alerts; denials). The words
-- hold letters and digits only, which FTS5's ascii tokenizer keeps whole (every non-ASCII
-- character is a token character), so a query finds exactly the word filed.
CREATE TABLE IF NOT EXISTS check_entries (pos INTEGER PRIMARY KEY, text BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS check_terms (term TEXT PRIMARY KEY, docs INTEGER NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS check_keys (key TEXT NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY (key, pos)) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS check_words
    USING fts5(words, content='', detail=none, columnsize=0, tokenize='ascii');
CREATE VIRTUAL TABLE IF NOT EXISTS check_denial_words
    USING fts5(words, content='', detail=none, columnsize=0, tokenize='ascii');
"""
TEXT_COUNT_TERM = ""  # check_terms row counting the searchable alerts (no word is empty)
BACKFILL_BATCH = 1000

_text_encoder = msgspec.json.Encoder()
_text_decoder = msgspec.json.Decoder(SearchText)

_MAY_BE_IN_FORCE = "ended_ts IS NULL AND status = 'Actual' AND msg_type IN ('Alert', 'Update')"
# The all-clear rule's candidates: an issuer's alerts of a status that may be in force (read
# from the alerts_in_force_by_issuer index alone), with a target in force on a code given as
# a JSON array.
_IN_FORCE_OF = ("SELECT id FROM alerts a INDEXED BY alerts_in_force_by_issuer WHERE issuer_id = ? "
                "AND status = ? AND ended_ts IS NULL AND msg_type IN ('Alert', 'Update')")
_TARGETING = ("EXISTS (SELECT 1 FROM targets t WHERE t.alert_id = a.id AND t.ended_ts IS NULL "
              "AND t.code IN (SELECT value FROM json_each(?)))")
_ALERT_COLUMNS = (
    "id, cap, statement, issuer_id, key_id, sender, identifier, sent, sent_ts, received_ts, "
    "expires_ts, msg_type, status, kinds, event, event_id, ended_ts, ended_by, log_index"
)



def _rolled_back(conn: sqlite3.Connection, exc: BaseException) -> BaseException:
    """Roll back what is left of a failed write; return the error to raise for it.

    SQLite ends the transaction itself on some errors (a full disk among
    them), so a bare ROLLBACK would fail with "no transaction is active" and
    hide the cause. Storage trouble — the disk full, an I/O error — becomes
    :class:`StorageFull` / :class:`StorageUnavailable`, naming the first
    SQLite error in the chain; anything else is returned unchanged.
    """
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as failed:  # the transaction is gone either way
            log.warning("rollback after %r failed: %s", exc, failed)
    cause = _first_sqlite_error(exc)
    if cause is None or isinstance(cause, (sqlite3.IntegrityError, sqlite3.ProgrammingError,
                                           sqlite3.InterfaceError)):
        return exc
    code = getattr(cause, "sqlite_errorcode", 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return StorageFull(f"the disk is full ({cause})")
    return StorageUnavailable(f"{cause.__class__.__name__}: {cause}")


def _first_sqlite_error(exc: BaseException | None) -> sqlite3.Error | None:
    """The earliest SQLite error among ``exc`` and the errors it was raised while handling."""
    found: sqlite3.Error | None = None
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, sqlite3.Error):
            found = exc
        exc, seen = exc.__context__, seen + 1
    return found


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteStore:
    """SQLite implementation of :class:`tocsin.store.base.Store`.

    ``rules`` is the rulebook's state rules (:func:`tocsin.ledger.effects.state_rules`):
    asked, inside each alert's savepoint, what the alert ends.
    """

    def __init__(self, path: Path, *, rules: StateRules, readonly: bool = False,
                 text_of: Callable[[AlertRecord], SearchText | None] | None = None) -> None:
        """Open (and with ``readonly=False`` create) the store at ``path``.

        ``readonly``: an edge process beside the writer process (docs/deploy.md). It never
        writes: the file must exist with the schema, every connection is ``query_only``, and
        each read sees what the writer process has committed (WAL readers in autocommit).

        ``text_of``: makes an alert's search text, to file alerts stored before the search
        history existed (or without a text); None files only what arrives with one. A
        read-only store never files (the writer does).
        """
        self.path = path
        self._rules = rules
        if readonly:
            if not path.exists():
                raise StoreError(f"{path}: no store yet (start the writer first)")
            self._writer = _connect(path)
            self._writer.execute("PRAGMA query_only=ON")
        else:
            self._writer = _connect(path)
            self._writer.executescript(_SCHEMA)
            self._writer.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._aux: sqlite3.Connection | None = None
        self._damaged: str | None = None
        if text_of is not None and not readonly:
            self._backfill_text(text_of)

    # -- reading ---------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def get(self, alert_id: str) -> AlertRecord | None:
        return self._get(self._reader(), "id = ?", (alert_id,))

    def find(self, sender: str, identifier: str) -> AlertRecord | None:
        return self._get(self._reader(), "sender = ? AND identifier = ?", (sender, identifier))

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
        conn = self._reader()
        where: list[str] = []
        params: list[object] = []
        # Kinds are stored sorted and comma-joined; ",a,b," LIKE "%,a,%" matches one exactly.
        if kinds_any is not None:
            where.append("(" + (" OR ".join(["(',' || kinds || ',') LIKE ?"] * len(kinds_any))
                                or "0") + ")")
            params.extend(f"%,{k},%" for k in kinds_any)
        for kind in kinds_none or ():
            where.append("(',' || kinds || ',') NOT LIKE ?")
            params.append(f"%,{kind},%")
        if active_at is not None:
            # Start from what may be in force (the alerts_in_force index: not ended, not yet
            # expired or open-ended), never from the history: the cost follows what is active.
            where.append(f"seq IN (SELECT seq FROM alerts WHERE {_MAY_BE_IN_FORCE} "  # noqa: S608
                         f"AND expires_ts > ? UNION ALL SELECT seq FROM alerts WHERE "
                         f"{_MAY_BE_IN_FORCE} AND expires_ts IS NULL)")
            params.append(active_at)
            where.append(
                "status = 'Actual' AND msg_type IN ('Alert', 'Update') AND ended_ts IS NULL "
                "AND (expires_ts IS NULL OR expires_ts > ?) AND kinds NOT LIKE '%all-clear%'"
            )
            params.append(active_at)
        if regions is not None:
            marks = ",".join("?" * len(regions))
            if active_at is not None:  # asked of each alert that may be in force
                where.append("EXISTS (SELECT 1 FROM targets t WHERE t.alert_id = alerts.id "  # noqa: S608
                             f"AND t.code IN ({marks}) AND t.ended_ts IS NULL)")
            else:
                where.append(f"id IN (SELECT alert_id FROM targets WHERE code IN ({marks}))")  # noqa: S608
            params.extend(regions)
        if since_ts is not None:
            where.append("sent_ts >= ?")
            params.append(since_ts)
        sql = f"SELECT {_ALERT_COLUMNS} FROM alerts"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seq DESC LIMIT ?"
        params.append(limit)
        rows = conn.execute(sql, params).fetchall()
        records = [self._record(conn, row) for row in rows]
        if active_at is not None:
            records = [r for r in records if r.active_at(active_at)]
        return records

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]:
        rows = self._reader().execute(
            "SELECT id, kind, alert_id, regions, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (event_id, limit),
        ).fetchall()
        return [
            StreamEvent(
                id=row[0],
                kind=row[1],
                alert_id=row[2],
                regions=tuple(row[3].split(",")) if row[3] else (),
                data=bytes(row[4]),
            )
            for row in rows
        ]

    def last_event_id(self) -> int:
        row = self._reader().execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        return int(row[0])

    def _get(self, conn: sqlite3.Connection, where: str, params: tuple[str, ...]) -> AlertRecord | None:
        row = conn.execute(f"SELECT {_ALERT_COLUMNS} FROM alerts WHERE {where}", params).fetchone()  # noqa: S608
        return None if row is None else self._record(conn, row)

    @staticmethod
    def _record(conn: sqlite3.Connection, row: Sequence[Any]) -> AlertRecord:
        targets: dict[str, Coverage] = {
            code: coverage
            for code, coverage in conn.execute(
                "SELECT code, coverage FROM targets WHERE alert_id = ? AND ended_ts IS NULL",
                (row[0],),
            )
        }
        kinds = str(row[13])
        return AlertRecord(
            id=str(row[0]),
            cap=bytes(row[1]),
            statement=bytes(row[2]),
            issuer_id=str(row[3]),
            key_id=str(row[4]),
            sender=str(row[5]),
            identifier=str(row[6]),
            sent=str(row[7]),
            sent_ts=float(row[8]),
            received_ts=float(row[9]),
            expires_ts=None if row[10] is None else float(row[10]),
            msg_type=str(row[11]),
            status=str(row[12]),
            kinds=tuple(kinds.split(",")) if kinds else (),
            event=str(row[14]),
            event_id=int(row[15]),
            ended_ts=None if row[16] is None else float(row[16]),
            ended_by=None if row[17] is None else str(row[17]),
            targets=targets,
            log_index=None if row[18] is None else int(row[18]),
        )

    # -- writing (single writer thread) ------------------------------------

    def inject_fault(self, step: Literal["leaf", "commit"]) -> None:
        """Test seam (the contract suite's fault injection): the next batch fails at ``step``.

        ``"leaf"`` refuses the log leaf's INSERT mid-transaction (a crash between steps);
        ``"commit"`` refuses the COMMIT (a commit or fsync that fails). Done with SQLite's own
        authorizer on the writer connection, so the real rollback path runs.
        """
        fired = False

        def authorize(action: int, arg1: str | None, *_: str | None) -> int:
            nonlocal fired
            hit = ((step == "leaf" and action == sqlite3.SQLITE_INSERT and arg1 == "log_entries")
                   or (step == "commit" and action == sqlite3.SQLITE_TRANSACTION
                       and arg1 == "COMMIT"))
            if hit and not fired:
                fired = True
                return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        self._writer.set_authorizer(authorize)

    def refuse_writes(self, reason: str) -> None:
        """From now on every write raises :class:`StoreDamaged` (the integrity scan found
        ``reason``); reads go on."""
        self._damaged = reason

    def _writable(self) -> None:
        if self._damaged is not None:
            raise StoreDamaged(f"{self.path} is damaged ({self._damaged}); nothing was stored — "
                               "keep a copy, run `tocsin store check`, restore it from a backup")

    def append(self, alert: NewAlert) -> AppendResult:
        result = self.append_batch([alert])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_batch(self, alerts: Sequence[NewAlert]) -> list[AppendResult | StoreError]:
        """Append several alerts with one commit (one fsync); each alert is atomic on its own."""
        self._writable()
        conn = self._writer
        results: list[AppendResult | StoreError] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            for alert in alerts:
                conn.execute("SAVEPOINT one")
                try:
                    results.append(self._append_one(conn, alert))
                except sqlite3.DatabaseError:
                    raise  # the database itself failed (disk full, I/O): the batch fails
                except Exception as exc:  # this alert's own failure: never its neighbours'
                    conn.execute("ROLLBACK TO one")
                    if not isinstance(exc, StoreError):
                        failure = StoreError(f"alert {alert.id} could not be stored: "
                                             f"{type(exc).__name__}: {exc}")
                        failure.__cause__ = exc
                        exc = failure
                    results.append(exc)
                finally:
                    conn.execute("RELEASE one")
            conn.execute("COMMIT")
        except BaseException as exc:
            error = _rolled_back(conn, exc)
            if error is exc:
                raise
            raise error from exc
        return results

    def _append_one(self, conn: sqlite3.Connection, alert: NewAlert) -> AppendResult:
        existing = self._get(conn, "sender = ? AND identifier = ?", (alert.sender, alert.identifier))
        if existing is not None:
            if existing.id == alert.id and existing.cap == alert.cap:
                return AppendResult(record=existing, created=False)
            raise Conflict(existing.id)
        # Which issuer may use which sender is the signed registry's to say (the ledger
        # checks it before the alert gets here); what the alert ends is the ledger's too.
        decision = self._rules(incoming(alert), _SqlView(conn))
        if isinstance(decision, StateRefusal):
            raise Refused(decision.code, decision.reason)
        for ending in decision.endings:
            _persist_ending(conn, ending, alert)
        # Whoever was told about an alert must hear that it was updated or cancelled.
        regions = ",".join(sorted(set(alert.targets) | decision.touched))
        cursor = conn.execute(
            "INSERT INTO events (kind, alert_id, regions, data) VALUES (?, ?, ?, ?)",
            (alert.stream_kind, alert.id, regions, alert.summary),
        )
        event_id = int(cursor.lastrowid or 0)
        # The log leaf is written in the same transaction: no alert without a leaf, no leaf
        # without an alert. (First, so the row is written once, with its log index: a row's
        # small columns follow its CAP bytes, and rewriting it would copy them again.)
        index = self._append_leaf(conn, alert_entry(alert.statement, alert.cap), alert.id)
        cursor = conn.execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "  # noqa: S608
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?)",
            (
                alert.id, alert.cap, alert.statement, alert.issuer_id, alert.key_id,
                alert.sender, alert.identifier, alert.sent, alert.sent_ts, alert.received_ts,
                alert.expires_ts, alert.msg_type, alert.status, ",".join(alert.kinds),
                alert.event, event_id, index,
            ),
        )
        seq = int(cursor.lastrowid or 0)
        # An announcement (all-clear, cancel) ends others and addresses its areas for
        # delivery, but holds no targets in force itself.
        done = not decision.holds_targets
        conn.executemany(
            "INSERT INTO targets (alert_id, code, coverage, ended_ts, ended_by) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (alert.id, code, coverage, alert.received_ts if done else None,
                 alert.id if done else None)
                for code, coverage in alert.targets.items()
            ],
        )
        if alert.text is not None:
            _file_text(conn, seq, alert.text)
        # What _get would read back (targets in code order, as the table keeps them).
        kinds = ",".join(alert.kinds)
        record = AlertRecord(
            id=alert.id, cap=alert.cap, statement=alert.statement, issuer_id=alert.issuer_id,
            key_id=alert.key_id, sender=alert.sender, identifier=alert.identifier,
            sent=alert.sent, sent_ts=float(alert.sent_ts), received_ts=float(alert.received_ts),
            expires_ts=None if alert.expires_ts is None else float(alert.expires_ts),
            msg_type=alert.msg_type, status=alert.status,
            kinds=tuple(kinds.split(",")) if kinds else (),
            event=alert.event, event_id=event_id, ended_ts=None, ended_by=None,
            targets={} if done else dict(sorted(alert.targets.items())), log_index=index)
        return AppendResult(record=record, created=True, ended=decision.ended_entirely,
                            regions=tuple(regions.split(",")) if regions else ())

    def _backfill_text(self, text_of: Callable[[AlertRecord], SearchText | None]) -> None:
        """File the search text of alerts stored after the last filed one (a migration)."""
        conn = self._writer
        while True:
            last = int(conn.execute("SELECT COALESCE(MAX(pos), 0) FROM check_entries")
                       .fetchone()[0])
            rows = conn.execute(f"SELECT seq, {_ALERT_COLUMNS} FROM alerts WHERE seq > ? "  # noqa: S608
                                "ORDER BY seq LIMIT ?", (last, BACKFILL_BATCH)).fetchall()
            if not rows:
                return
            filed = [(int(row[0]), text_of(self._record(conn, row[1:]))) for row in rows]
            conn.execute("BEGIN IMMEDIATE")
            try:
                for seq, text in filed:
                    _file_text(conn, seq, text or SearchText(infos=()))
                conn.execute("COMMIT")
            except BaseException as exc:
                error = _rolled_back(conn, exc)
                if error is exc:
                    raise
                raise error from exc
            log.info("filed the search text of %d stored alerts", len(filed))

    # -- the check's search history ------------------------------------------

    def text_stats(self, words: Collection[str]) -> tuple[int, dict[str, int]]:
        conn = self._reader()
        wanted = sorted({w for w in words if w})
        found: dict[str, int] = {}
        for chunk in _chunks(wanted):
            marks = ",".join("?" * len(chunk))
            found.update(conn.execute(
                f"SELECT term, docs FROM check_terms WHERE term IN ({marks})", chunk))  # noqa: S608
        row = conn.execute("SELECT docs FROM check_terms WHERE term = ?",
                           (TEXT_COUNT_TERM,)).fetchone()
        return (0 if row is None else int(row[0])), {w: int(n) for w, n in found.items() if n}

    def text_postings(self, word: str, *, denial: bool = False) -> list[int]:
        if not word or '"' in word:
            return []
        table = "check_denial_words" if denial else "check_words"
        # One string, not a row per posting: a common word has tens of thousands.
        row = self._reader().execute(
            f"SELECT group_concat(rowid) FROM {table} WHERE {table} MATCH ?",  # noqa: S608
            (f'"{word}"',)).fetchone()
        if row is None or not row[0]:
            return []
        found = [int(pos) for pos in str(row[0]).split(",")]
        found.sort()  # FTS5 yields rowid order already: linear on sorted input
        return found

    def text_entries(self, positions: Collection[int]) -> dict[int, TextEntry]:
        conn = self._reader()
        out: dict[int, TextEntry] = {}
        for chunk in _chunks(sorted(set(positions))):
            marks = ",".join("?" * len(chunk))
            for pos, alert_id, issuer_id, sent_ts, kinds, text in conn.execute(
                    "SELECT c.pos, a.id, a.issuer_id, a.sent_ts, a.kinds, c.text "  # noqa: S608
                    f"FROM check_entries c JOIN alerts a ON a.seq = c.pos WHERE c.pos IN ({marks})",
                    chunk):
                out[int(pos)] = TextEntry(int(pos), str(alert_id), str(issuer_id), float(sent_ts),
                                          tuple(str(kinds).split(",")) if kinds else (),
                                          _text_decoder.decode(text))
        return out

    def text_recent(self, key: str | None, limit: int) -> list[int]:
        conn = self._reader()
        if key is None:
            rows = conn.execute("SELECT pos FROM check_entries ORDER BY pos DESC LIMIT ?",
                                (limit,))
        else:
            rows = conn.execute("SELECT pos FROM check_keys WHERE key = ? ORDER BY pos DESC "
                                "LIMIT ?", (key, limit))
        return [int(r[0]) for r in rows]

    # -- the transparency log ----------------------------------------------

    @staticmethod
    def _log_size(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries").fetchone()[0])

    def _append_leaf(self, conn: sqlite3.Connection, entry: bytes, alert_id: str | None) -> int:
        size = self._log_size(conn)
        stored = append_batch(size, [leaf_hash(entry)], SqlHashReader(conn))
        if stored and stored[0][0] != stored_hash_count(size):  # pragma: no cover - tree invariant
            raise StoreError(f"log hash index {stored[0][0]} does not follow size {size}")
        conn.execute("INSERT INTO log_entries (idx, entry, alert_id) VALUES (?, ?, ?)",
                     (size, entry, alert_id))
        conn.executemany("INSERT INTO log_hashes (idx, hash) VALUES (?, ?)", stored)
        return size

    def append_registry(self, registry: bytes) -> int | None:
        """Log a registry version unless it is already the last one logged; return its index.

        Runs on the writer thread (it uses the writer connection), like :meth:`append_batch`.
        """
        self._writable()
        entry = registry_entry(registry)
        conn = self._writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute(
                "SELECT entry FROM log_entries WHERE alert_id IS NULL ORDER BY idx DESC LIMIT 1"
            ).fetchone()
            if row is not None and bytes(row[0]) == entry:
                conn.execute("ROLLBACK")
                return None
            index = self._append_leaf(conn, entry, None)
            conn.execute("COMMIT")
        except BaseException as exc:
            error = _rolled_back(conn, exc)
            if error is exc:
                raise
            raise error from exc
        return index

    def last_logged_registry(self) -> bytes | None:
        """The exact bytes of the newest registry entry in the log, if any."""
        from tocsin.tlog.entry import decode_entry

        row = self._reader().execute(
            "SELECT entry FROM log_entries WHERE alert_id IS NULL ORDER BY idx DESC LIMIT 1"
        ).fetchone()
        return None if row is None else decode_entry(bytes(row[0])).registry

    def log_size(self) -> int:
        return self._log_size(self._reader())

    def hash_reader(self) -> SqlHashReader:
        """Reads committed stored hashes (for roots, proofs and tiles)."""
        return SqlHashReader(self._reader())

    def log_entries(self, start: int, end: int) -> list[bytes]:
        rows = self._reader().execute(
            "SELECT entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        ).fetchall()
        if len(rows) != end - start:
            raise StoreError(f"log entries {start}..{end} are not all stored")
        return [bytes(r[0]) for r in rows]

    def save_checkpoint(self, size: int, note: bytes, created_ts: float) -> None:
        """Keep a signed checkpoint (its own connection: it runs beside the alert writer)."""
        with self._readers_lock:
            if self._aux is None:
                self._aux = _connect(self.path)
            self._aux.execute(
                "INSERT OR IGNORE INTO checkpoints (size, note, created_ts) VALUES (?, ?, ?)",
                (size, note, created_ts),
            )

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        row = self._reader().execute(
            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def close(self) -> None:
        self._writer.close()
        if self._aux is not None:
            self._aux.close()
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()


class SqlHashReader:
    """A :class:`tocsin.tlog.tree.HashReader` over the ``log_hashes`` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def read_hashes(self, indexes: Sequence[int]) -> list[bytes]:
        if not indexes:
            return []
        wanted = sorted(set(indexes))
        found: dict[int, bytes] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for idx, value in self._conn.execute(
                f"SELECT idx, hash FROM log_hashes WHERE idx IN ({marks})", chunk  # noqa: S608
            ):
                found[int(idx)] = bytes(value)
        missing = [i for i in indexes if i not in found]
        if missing:
            raise StoreError(f"stored hashes missing from the log: {missing[:5]}")
        return [found[i] for i in indexes]


class _SqlView(LedgerView):
    """The rulebook's read-only view of the writer's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _prior(self, row: Sequence[Any]) -> Prior:
        alert_id = str(row[0])
        targets: dict[str, Coverage] = {}
        reached: set[str] = set()
        for code, coverage, ended_ts in self._conn.execute(
                "SELECT code, coverage, ended_ts FROM targets WHERE alert_id = ?", (alert_id,)):
            reached.add(code)
            if ended_ts is None:
                targets[code] = coverage
        return Prior(alert_id, str(row[1]), str(row[2]), row[3] is not None, targets,
                     frozenset(reached))

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        row = self._conn.execute(
            "SELECT id, issuer_id, status, ended_ts FROM alerts WHERE sender = ? AND identifier = ?",
            (sender, identifier)).fetchone()
        return None if row is None else self._prior(row)

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> list[Prior]:
        if at is not None:
            # From what may be in force (the alerts_in_force_by_issuer index, read alone),
            # never from the history of targets nobody ended because their alerts simply
            # expired: an all-clear's cost follows what is in force, not everything the
            # issuer ever sent there. (Only Alerts and Updates hold targets in force.)
            codes_json = _text_encoder.encode(sorted(codes)).decode()
            found = self._conn.execute(
                f"{_IN_FORCE_OF} AND expires_ts > ? AND {_TARGETING} UNION ALL "
                f"{_IN_FORCE_OF} AND expires_ts IS NULL AND {_TARGETING} ORDER BY id",
                (issuer_id, status, at, codes_json, issuer_id, status, codes_json)).fetchall()
            return [self._prior((row[0], issuer_id, status, None)) for row in found]
        wanted = sorted(codes)
        ids: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            ids.update(row[0] for row in self._conn.execute(
                f"SELECT DISTINCT t.alert_id FROM targets t JOIN alerts a ON a.id = t.alert_id "  # noqa: S608
                f"WHERE t.ended_ts IS NULL AND t.code IN ({marks}) AND a.issuer_id = ? "
                "AND a.status = ? AND (? IS NULL OR a.expires_ts IS NULL OR a.expires_ts > ?)",
                (*chunk, issuer_id, status, at, at)))
        rows = [self._conn.execute("SELECT id, issuer_id, status, ended_ts FROM alerts WHERE id = ?",
                                   (alert_id,)).fetchone() for alert_id in sorted(ids)]
        return [self._prior(row) for row in rows if row is not None]


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _file_text(conn: sqlite3.Connection, pos: int, text: SearchText) -> None:
    """File one alert's search text at ``pos`` (inside the caller's transaction)."""
    conn.execute("INSERT INTO check_entries (pos, text) VALUES (?, ?)",
                 (pos, _text_encoder.encode(text)))
    words = sorted(text.words())
    if words:
        table = "check_denial_words" if text.denial else "check_words"
        conn.execute(f"INSERT INTO {table} (rowid, words) VALUES (?, ?)",  # noqa: S608
                     (pos, " ".join(words)))
    counted = [TEXT_COUNT_TERM] if text.denial else [TEXT_COUNT_TERM, *words]
    # One statement each (the words as one JSON array), not one per word: less work on the
    # issuing path's writer thread.
    conn.execute("INSERT INTO check_terms (term, docs) SELECT value, 1 FROM json_each(?) "
                 "WHERE true ON CONFLICT (term) DO UPDATE SET docs = docs + 1",
                 (_text_encoder.encode(counted).decode(),))
    if text.keys:
        conn.execute("INSERT OR IGNORE INTO check_keys (key, pos) SELECT value, ? "
                     "FROM json_each(?)", (pos, _text_encoder.encode(text.keys).decode()))


def _persist_ending(conn: sqlite3.Connection, ending: Ending, by: NewAlert) -> None:
    """Carry out the rulebook's answer for one earlier alert."""
    if ending.entirely:
        conn.execute(
            "UPDATE targets SET ended_ts = ?, ended_by = ? WHERE alert_id = ? AND ended_ts IS NULL",
            (by.received_ts, by.id, ending.alert_id))
        conn.execute(
            "UPDATE alerts SET ended_ts = ?, ended_by = ? WHERE id = ? AND ended_ts IS NULL",
            (by.received_ts, by.id, ending.alert_id))
        return
    conn.executemany(
        "UPDATE targets SET ended_ts = ?, ended_by = ? WHERE alert_id = ? AND code = ? "
        "AND ended_ts IS NULL",
        [(by.received_ts, by.id, ending.alert_id, code) for code in sorted(ending.ended)])
    conn.executemany(
        "UPDATE targets SET coverage = 'partial' WHERE alert_id = ? AND code = ?",
        [(ending.alert_id, code) for code in sorted(ending.downgraded)])
