"""A C2SP tlog-witness service: cosigns a log's checkpoints only if each extends the last.

State is one SQLite row per log (size, root, cosigned checkpoint). Checking
the old size and persisting the new state happen in one ``BEGIN IMMEDIATE``
transaction under a lock, with ``synchronous=FULL``, before the response is
written: a witness never cosigns two different roots for one size, never
rolls back, and a crash cannot make it forget what it signed. Rejected but
validly signed checkpoints are kept in a ``rejected`` table as possible
evidence of log misbehaviour.

The protocol itself (bodies, refusals, the consistency rule) is the pure
:mod:`tocsin.tlog.witness`; :class:`Witness` holds the durable state and
:func:`tocsin.services.witness_http.witness_app` serves it over HTTP with Starlette
(apart, so a hub that only keeps a witness imports no web framework).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from tocsin.tlog.checkpoint import (
    CheckpointError,
    CheckpointSignatureError,
    Cosigner,
    append_signature_lines,
    note_text,
    open_checkpoint,
    parse_checkpoint,
)
from tocsin.tlog.tree import EMPTY_ROOT
from tocsin.tlog.witness import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    WitnessError,
    consistency_problem,
    origin_hash,
    parse_add_checkpoint,
)
from tocsin.trust.note import Verifier, Verifiers

__all__ = ["Witness"]

_SCHEMA = """CREATE TABLE IF NOT EXISTS log_state (
    origin     TEXT PRIMARY KEY,
    size       TEXT NOT NULL,     -- decimal: tree sizes are uint64, SQLite integers are int64
    root       BLOB NOT NULL,
    checkpoint BLOB NOT NULL,     -- the log-signed checkpoint plus our cosignature
    updated    INTEGER NOT NULL   -- POSIX seconds of the cosignature
);
CREATE TABLE IF NOT EXISTS rejected (
    id       INTEGER PRIMARY KEY,
    origin   TEXT NOT NULL,
    received INTEGER NOT NULL,
    status   INTEGER NOT NULL,
    reason   TEXT NOT NULL,
    body     BLOB NOT NULL        -- the whole request: signed checkpoint and proof
);
"""


class Witness:
    """The witness state machine over a durable SQLite store; thread-safe.

    ``logs`` maps each origin the witness serves to the log key(s) it trusts
    for it. ``clock`` returns POSIX seconds (injected in tests).
    """

    def __init__(
        self,
        cosigner: Cosigner,
        logs: Mapping[str, Verifier | Verifiers],
        db_path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.cosigner = cosigner
        self._logs = {o: v if isinstance(v, Verifiers) else Verifiers([v]) for o, v in logs.items()}
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(db_path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def state(self, origin: str) -> tuple[int, bytes] | None:
        """(size, root) last cosigned for ``origin``, or None."""
        with self._lock:
            row = self._db.execute("SELECT size, root FROM log_state WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def latest(self, origin: str) -> bytes | None:
        """The latest cosigned checkpoint for ``origin`` (log signature + ours), or None."""
        with self._lock:
            row = self._db.execute("SELECT checkpoint FROM log_state WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else bytes(row[0])

    def latest_by_hash(self, digest: str) -> bytes | None:
        """:meth:`latest` looked up by :func:`origin_hash` (the monitoring URL form)."""
        for origin in self._logs:
            if origin_hash(origin) == digest:
                return self.latest(origin)
        return None

    def add_checkpoint(self, body: bytes) -> bytes:
        """Handle one add-checkpoint body; return cosignature lines or raise :class:`WitnessError`."""
        request = parse_add_checkpoint(body)
        try:
            origin = parse_checkpoint(note_text(request.checkpoint)).origin
        except CheckpointError as exc:
            raise WitnessError(400, f"not a checkpoint: {exc}") from None
        verifiers = self._logs.get(origin)
        if verifiers is None:
            raise WitnessError(404, f"unknown log origin {origin[:100]!r}")
        try:
            cp, note = open_checkpoint(request.checkpoint, verifiers, origin)
        except CheckpointSignatureError as exc:
            raise WitnessError(403, str(exc)) from None
        except CheckpointError as exc:
            raise WitnessError(400, str(exc)) from None
        if request.old_size > cp.size:
            raise WitnessError(400, f"old size {request.old_size} is larger than checkpoint size {cp.size}")
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                lines = self._check_and_cosign(request, cp.origin, cp.size, cp.root_hash, note.text)
            except WitnessError as exc:
                self._db.execute("ROLLBACK")
                if exc.status == 422:  # validly signed yet inconsistent: keep it as evidence
                    self._db.execute(
                        "INSERT INTO rejected (origin, received, status, reason, body) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (origin, int(self._clock()), exc.status, str(exc), body),
                    )
                raise
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return lines

    def _check_and_cosign(
        self, request: AddCheckpoint, origin: str, size: int, root: bytes, text: str
    ) -> bytes:
        """Inside the transaction: compare with stored state, then persist and cosign."""
        row = self._db.execute("SELECT size, root FROM log_state WHERE origin = ?", (origin,)).fetchone()
        stored_size, stored_root = (0, EMPTY_ROOT) if row is None else (int(row[0]), bytes(row[1]))
        if request.old_size != stored_size:
            raise WitnessError(
                409, f"old size {request.old_size} is not the witness's size {stored_size}",
                body=f"{stored_size}\n".encode(), content_type=SIZE_CONTENT_TYPE,
            )
        reason = consistency_problem(request, size, root, stored_root)
        if reason is not None:
            raise WitnessError(422, reason)
        timestamp = max(1, int(self._clock()))
        line = self.cosigner.cosign(text, timestamp).line.encode()
        cosigned = append_signature_lines(request.checkpoint, line)
        self._db.execute(
            "INSERT INTO log_state (origin, size, root, checkpoint, updated) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "checkpoint = excluded.checkpoint, updated = excluded.updated",
            (origin, str(size), root, cosigned, timestamp),
        )
        return line

    def rejected(self, origin: str) -> list[tuple[str, bytes]]:
        """Kept evidence for ``origin``: (reason, request body) of each refused signed checkpoint."""
        with self._lock:
            rows = self._db.execute(
                "SELECT reason, body FROM rejected WHERE origin = ? ORDER BY id", (origin,)
            ).fetchall()
        return [(str(r), bytes(b)) for r, b in rows]
