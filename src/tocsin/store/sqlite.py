"""The embedded store: one SQLite file in WAL mode with ``synchronous=FULL``.

One writer (the caller guarantees a single writing thread: the hub's writer
worker); readers use their own connections, one per thread, and see committed
data only. ``append_batch`` commits several alerts with one fsync (group
commit) while keeping each alert atomic through a savepoint, so one bad alert
never takes its neighbours down with it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from tocsin.store.base import (
    AlertRecord,
    AppendResult,
    Conflict,
    Coverage,
    NewAlert,
    StoreError,
    StreamEvent,
)
from tocsin.tlog.entry import alert_entry, registry_entry
from tocsin.tlog.tree import append_batch, leaf_hash, stored_hash_count

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
CREATE TABLE IF NOT EXISTS log_entries (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL,
    alert_id TEXT
);
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
"""

_ALERT_COLUMNS = (
    "id, cap, statement, issuer_id, key_id, sender, identifier, sent, sent_ts, received_ts, "
    "expires_ts, msg_type, status, kinds, event, event_id, ended_ts, ended_by, log_index"
)


class UnknownReference(StoreError):
    """An Update or Cancel references an alert this hub never accepted."""


class ForeignReference(StoreError):
    """An Update or Cancel references an alert of another issuer."""


class StatusMismatch(StoreError):
    """An Update or Cancel references an alert of another status (a Test cancelling an Actual)."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


class SqliteStore:
    """SQLite implementation of :class:`tocsin.store.base.Store`.

    ``ancestors(code)`` gives a region's ancestors (nearest first); the store
    uses it to keep *partial* targets consistent when an all-clear ends part of
    an alert.
    """

    def __init__(self, path: Path, *, ancestors: Callable[[str], Sequence[str]]) -> None:
        self.path = path
        self._ancestors = ancestors
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
        if regions is not None:
            marks = ",".join("?" * len(regions))
            where.append(  # only placeholders are interpolated
                f"id IN (SELECT alert_id FROM targets WHERE code IN ({marks})"  # noqa: S608
                + (" AND ended_ts IS NULL)" if active_at is not None else ")")
            )
            params.extend(regions)
        if active_at is not None:
            where.append(
                "status = 'Actual' AND msg_type IN ('Alert', 'Update') AND ended_ts IS NULL "
                "AND (expires_ts IS NULL OR expires_ts > ?) AND kinds NOT LIKE '%all-clear%'"
            )
            params.append(active_at)
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

    def append(self, alert: NewAlert) -> AppendResult:
        result = self.append_batch([alert])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def append_batch(self, alerts: Sequence[NewAlert]) -> list[AppendResult | StoreError]:
        """Append several alerts with one commit (one fsync); each alert is atomic on its own."""
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
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    def _append_one(self, conn: sqlite3.Connection, alert: NewAlert) -> AppendResult:
        existing = self._get(conn, "sender = ? AND identifier = ?", (alert.sender, alert.identifier))
        if existing is not None:
            if existing.id == alert.id and existing.cap == alert.cap:
                return AppendResult(record=existing, created=False)
            raise Conflict(existing.id)
        # Which issuer may use which sender is the signed registry's to say (the ledger
        # checks it before the alert gets here), never who came first to this hub.
        ended, touched = self._apply_effects(conn, alert)
        # Whoever was told about an alert must hear that it was updated or cancelled.
        regions = ",".join(sorted(set(alert.targets) | touched))
        cursor = conn.execute(
            "INSERT INTO events (kind, alert_id, regions, data) VALUES (?, ?, ?, ?)",
            (alert.stream_kind, alert.id, regions, alert.summary),
        )
        event_id = int(cursor.lastrowid or 0)
        conn.execute(
            f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "  # noqa: S608
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
            (
                alert.id, alert.cap, alert.statement, alert.issuer_id, alert.key_id,
                alert.sender, alert.identifier, alert.sent, alert.sent_ts, alert.received_ts,
                alert.expires_ts, alert.msg_type, alert.status, ",".join(alert.kinds),
                alert.event, event_id,
            ),
        )
        # An all-clear or a cancel is an announcement, not a threat: it ends others
        # and targets its areas for delivery, but holds no active targets itself.
        done = self._is_announcement(alert)
        conn.executemany(
            "INSERT INTO targets (alert_id, code, coverage, ended_ts, ended_by) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (alert.id, code, coverage, alert.received_ts if done else None,
                 alert.id if done else None)
                for code, coverage in alert.targets.items()
            ],
        )
        # The log leaf is written in the same transaction: no alert without a leaf,
        # no leaf without an alert.
        index = self._append_leaf(conn, alert_entry(alert.statement, alert.cap), alert.id)
        conn.execute("UPDATE alerts SET log_index = ? WHERE id = ?", (index, alert.id))
        record = self._get(conn, "id = ?", (alert.id,))
        if record is None:  # pragma: no cover - just inserted in this transaction
            raise StoreError("alert vanished inside its own transaction")
        return AppendResult(record=record, created=True, ended=tuple(ended),
                            regions=tuple(regions.split(",")) if regions else ())

    @staticmethod
    def _is_announcement(alert: NewAlert) -> bool:
        return alert.msg_type in ("Cancel", "Ack", "Error") or "all-clear" in alert.kinds

    def _apply_effects(self, conn: sqlite3.Connection, alert: NewAlert) -> tuple[list[str], set[str]]:
        """End what this alert supersedes; return ids of alerts ended entirely and their regions."""
        ended: list[str] = []
        touched: set[str] = set()
        if alert.msg_type in ("Update", "Cancel"):
            for sender, identifier in alert.references:
                ref = self._get(conn, "sender = ? AND identifier = ?", (sender, identifier))
                if ref is None:
                    raise UnknownReference(
                        f"references an alert this hub never accepted: {sender},{identifier}"
                    )
                if ref.issuer_id != alert.issuer_id:
                    raise ForeignReference(
                        f"references alert {ref.id} of issuer {ref.issuer_id}; "
                        "an issuer may update or cancel only its own alerts"
                    )
                if ref.status != alert.status:
                    raise StatusMismatch(
                        f"a {alert.status} {alert.msg_type} cannot end {ref.status} alert {ref.id}; "
                        "tests and exercises never touch real alerts"
                    )
                touched.update(
                    row[0] for row in conn.execute(
                        "SELECT code FROM targets WHERE alert_id = ?", (ref.id,))
                )
                if ref.ended_ts is None:
                    self._end_alert(conn, ref.id, alert)
                    ended.append(ref.id)
        if "all-clear" in alert.kinds and alert.msg_type != "Cancel":
            ended.extend(self._apply_all_clear(conn, alert))
        return ended, touched

    def _end_alert(self, conn: sqlite3.Connection, alert_id: str, by: NewAlert) -> None:
        conn.execute(
            "UPDATE targets SET ended_ts = ?, ended_by = ? WHERE alert_id = ? AND ended_ts IS NULL",
            (by.received_ts, by.id, alert_id),
        )
        conn.execute(
            "UPDATE alerts SET ended_ts = ?, ended_by = ? WHERE id = ? AND ended_ts IS NULL",
            (by.received_ts, by.id, alert_id),
        )

    def _apply_all_clear(self, conn: sqlite3.Connection, clear: NewAlert) -> list[str]:
        """End the issuer's active targets that the all-clear fully covers."""
        full = [code for code, cov in clear.targets.items() if cov == "full"]
        if not full:
            return []
        marks = ",".join("?" * len(full))
        touched = [
            row[0]
            for row in conn.execute(
                f"SELECT DISTINCT t.alert_id FROM targets t JOIN alerts a ON a.id = t.alert_id "  # noqa: S608
                f"WHERE t.ended_ts IS NULL AND t.code IN ({marks}) AND a.issuer_id = ? "
                "AND a.status = ?",  # a Test all-clear never ends an Actual alert
                (*full, clear.issuer_id, clear.status),
            )
        ]
        ended: list[str] = []
        for alert_id in touched:
            conn.execute(
                f"UPDATE targets SET ended_ts = ?, ended_by = ? WHERE alert_id = ? "  # noqa: S608
                f"AND ended_ts IS NULL AND code IN ({marks})",
                (clear.received_ts, clear.id, alert_id, *full),
            )
            still_full = [
                row[0]
                for row in conn.execute(
                    "SELECT code FROM targets WHERE alert_id = ? AND ended_ts IS NULL "
                    "AND coverage = 'full'",
                    (alert_id,),
                )
            ]
            if not still_full:
                self._end_alert(conn, alert_id, clear)
                ended.append(alert_id)
                continue
            # Partial targets stand only for ancestors of what is still fully covered.
            keep = set(_ancestors_of(still_full, self._ancestors))
            for (code,) in conn.execute(
                "SELECT code FROM targets WHERE alert_id = ? AND ended_ts IS NULL "
                "AND coverage = 'partial'",
                (alert_id,),
            ).fetchall():
                if code not in keep:
                    conn.execute(
                        "UPDATE targets SET ended_ts = ?, ended_by = ? "
                        "WHERE alert_id = ? AND code = ?",
                        (clear.received_ts, clear.id, alert_id, code),
                    )
        return ended

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
        except BaseException:
            conn.execute("ROLLBACK")
            raise
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


def _ancestors_of(codes: Iterable[str], ancestors: Callable[[str], Sequence[str]]) -> set[str]:
    found: set[str] = set()
    for code in codes:
        found.update(ancestors(code))
    return found
