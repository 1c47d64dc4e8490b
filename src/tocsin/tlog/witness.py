"""A C2SP tlog-witness: cosigns a log's checkpoints only if each extends the last one it cosigned.

Protocol (spec: ``specs/tlog-witness.md``)::

    POST /add-checkpoint            body: "old N\\n", consistency proof lines, "\\n", checkpoint
      200  cosignature/v1 signature lines
      400  malformed body, or old size larger than the checkpoint's
      403  no valid signature by a key the witness trusts for that origin
      404  unknown origin
      409  old size is not what the witness last cosigned (body "<size>\\n", text/x.tlog.size)
      422  bad consistency proof, same size with another root, empty tree with a non-empty root
    GET /<sha256(origin) hex>/checkpoint   latest cosigned checkpoint, or 404

State is one SQLite row per log (size, root, cosigned checkpoint). Checking
the old size and persisting the new state happen in one ``BEGIN IMMEDIATE``
transaction under a lock, with ``synchronous=FULL``, before the response is
written: a witness never cosigns two different roots for one size, never
rolls back, and a crash cannot make it forget what it signed. Rejected but
validly signed checkpoints are kept in a ``rejected`` table as possible
evidence of log misbehaviour.

The core (:class:`Witness`) has no web dependency; :func:`witness_app` wraps
it in Starlette and :func:`request_cosignature` is the log's client side.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from tocsin.tlog.checkpoint import (
    CheckpointError,
    CheckpointSignatureError,
    CosignatureError,
    CosignatureVerifier,
    Cosigner,
    append_signature_lines,
    note_text,
    open_checkpoint,
    parse_checkpoint,
)
from tocsin.tlog.tree import (
    EMPTY_ROOT,
    HASH_SIZE,
    HashReader,
    ProofError,
    TlogError,
    TreeError,
    prove_consistency,
    verify_consistency,
)
from tocsin.trust.note import Signature, Verifier, Verifiers

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "Witness",
    "WitnessClientError",
    "WitnessConflictError",
    "WitnessError",
    "collect_cosignature",
    "format_add_checkpoint",
    "origin_hash",
    "parse_add_checkpoint",
    "request_cosignature",
    "witness_app",
]

MAX_REQUEST_BYTES = 64 * 1024
"""An add-checkpoint body is 63 proof lines plus a checkpoint: well under this."""
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]{0,19})", re.ASCII)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_state (
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


class WitnessError(TlogError):
    """A refused add-checkpoint request, carrying the HTTP status and body to answer with."""

    def __init__(self, status: int, message: str, *, body: bytes | None = None,
                 content_type: str = "text/plain; charset=utf-8") -> None:
        super().__init__(message)
        self.status = status
        self.body = body if body is not None else (message + "\n").encode()
        self.content_type = content_type


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    """A parsed add-checkpoint request body."""

    old_size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes  # signed note


def origin_hash(origin: str) -> str:
    """The monitoring path element for a log: lowercase hex SHA-256 of its origin."""
    return hashlib.sha256(origin.encode()).hexdigest()


def format_add_checkpoint(old_size: int, proof: Sequence[bytes], signed_checkpoint: bytes) -> bytes:
    """The request body a log sends to a witness."""
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n").encode() + signed_checkpoint


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """Parse a request body strictly; :class:`WitnessError` 400 names what is wrong."""
    if len(body) > MAX_REQUEST_BYTES:
        raise WitnessError(400, f"request body is larger than {MAX_REQUEST_BYTES} bytes")
    head, sep, checkpoint = body.partition(b"\n\n")
    if not sep:
        raise WitnessError(400, "request body has no blank line before the checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise WitnessError(400, "old size and proof lines must be ASCII") from None
    match = _OLD_RE.fullmatch(lines[0])
    if not match or int(match.group(1)) >= 1 << 64:
        raise WitnessError(400, f"first line must be 'old N' (decimal uint64), got {lines[0][:40]!r}")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessError(400, f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for n, line in enumerate(lines[1:], start=1):
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise WitnessError(400, f"consistency proof line {n} is not base64") from None
        if len(h) != HASH_SIZE or base64.b64encode(h).decode() != line:
            raise WitnessError(400, f"consistency proof line {n} is not canonical base64 of a 32-byte hash")
        proof.append(h)
    return AddCheckpoint(int(match.group(1)), tuple(proof), checkpoint)


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
        reason = _consistency_problem(request, size, root, stored_root)
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


def _consistency_problem(request: AddCheckpoint, size: int, root: bytes, stored_root: bytes) -> str | None:
    """Why the checkpoint may not be cosigned (a 422), or None."""
    if size == 0 and root != EMPTY_ROOT:
        return "a checkpoint of size 0 must have the empty tree's root"
    if request.old_size == 0:
        return "old size 0 needs an empty consistency proof" if request.proof else None
    try:
        verify_consistency(request.old_size, size, request.proof, stored_root, root)
    except ProofError as exc:
        return f"checkpoint is not consistent with the one cosigned at size {request.old_size}: {exc}"
    return None


# ------------------------------------------------------------------------- HTTP


def witness_app(witness: Witness) -> Starlette:
    """A Starlette app serving ``POST /add-checkpoint`` and ``GET /<origin hash>/checkpoint``."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def add_checkpoint(request: Request) -> Response:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_REQUEST_BYTES:
                return Response(f"request body is larger than {MAX_REQUEST_BYTES} bytes\n", 413)
        try:
            lines = await run_in_threadpool(witness.add_checkpoint, bytes(body))
        except WitnessError as exc:
            return Response(exc.body, exc.status, media_type=exc.content_type)
        return Response(lines, 200, media_type="text/plain; charset=utf-8")

    async def checkpoint(request: Request) -> Response:
        digest = str(request.path_params["digest"])
        found = await run_in_threadpool(witness.latest_by_hash, digest) if len(digest) == 64 else None
        if found is None:
            return Response("no cosigned checkpoint for this log\n", 404)
        return Response(found, 200, media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    return Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/{digest}/checkpoint", checkpoint, methods=["GET"]),
    ])


class WitnessClientError(TlogError):
    """A witness did not return a cosignature (network error or a refusal other than 409)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class WitnessConflictError(WitnessClientError):
    """409: the witness last cosigned ``size``; resend with a proof from that size."""

    def __init__(self, size: int) -> None:
        super().__init__(f"witness last cosigned size {size}", 409)
        self.size = size


def request_cosignature(
    url: str,
    signed_checkpoint: bytes,
    old_size: int,
    proof: Sequence[bytes],
    *,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> bytes:
    """POST add-checkpoint to the witness at ``url`` (its submission prefix); return its lines.

    Raises :class:`WitnessConflictError` on 409 (with the witness's size, so
    the caller can build the right consistency proof and retry) and
    :class:`WitnessClientError` otherwise. The returned lines are untrusted:
    append them with :func:`~tocsin.tlog.checkpoint.append_signature_lines`
    and check with :func:`~tocsin.tlog.checkpoint.verify_cosignatures`.
    """
    body = format_add_checkpoint(old_size, proof, signed_checkpoint)
    target = url.rstrip("/") + "/add-checkpoint"
    try:
        if client is None:
            with httpx.Client(timeout=timeout) as own:
                response = own.post(target, content=body)
        else:
            response = client.post(target, content=body, timeout=timeout)
    except httpx.HTTPError as exc:
        raise WitnessClientError(f"witness {url} unreachable: {exc}") from None
    if response.status_code == 409:
        text = response.text
        if not re.fullmatch(r"(0|[1-9][0-9]{0,19})\n", text, re.ASCII):
            raise WitnessClientError(f"witness {url} answered 409 with a malformed size", 409)
        raise WitnessConflictError(int(text))
    if response.status_code != 200:
        raise WitnessClientError(
            f"witness {url} refused the checkpoint: {response.status_code} {response.text[:200].strip()}",
            response.status_code,
        )
    if len(response.content) > MAX_REQUEST_BYTES:
        raise WitnessClientError(f"witness {url} answered with more than {MAX_REQUEST_BYTES} bytes")
    return response.content


def collect_cosignature(
    url: str,
    witness: CosignatureVerifier,
    signed_checkpoint: bytes,
    reader: HashReader,
    *,
    old_size: int = 0,
    client: httpx.Client | None = None,
    timeout: float = 10.0,
) -> tuple[bytes, int]:
    """Get one witness's verified cosignature line for ``signed_checkpoint``; for the hub.

    ``old_size`` is what the hub believes the witness last cosigned (0 if
    unknown). On 409 the request is retried once with a consistency proof
    from the witness's size, built from ``reader`` (the hub's stored hashes).
    Returns ``(line, size)``: the cosignature line, checked against
    ``witness``, and the size the witness now holds, to remember for next
    time. Raises :class:`WitnessClientError` for anything else.
    """
    try:
        cp = parse_checkpoint(note_text(signed_checkpoint))
    except CheckpointError as exc:
        raise WitnessClientError(f"not a checkpoint: {exc}") from None

    def proof_from(size: int) -> list[bytes]:
        if size > cp.size:
            raise WitnessClientError(
                f"witness {url} has cosigned size {size}, beyond this checkpoint's {cp.size}"
            )
        try:
            return [] if size in (0, cp.size) else prove_consistency(cp.size, size, reader)
        except TreeError as exc:
            raise WitnessClientError(f"cannot prove consistency from size {size}: {exc}") from None

    try:
        lines = request_cosignature(url, signed_checkpoint, old_size, proof_from(old_size),
                                    client=client, timeout=timeout)
    except WitnessConflictError as conflict:
        lines = request_cosignature(url, signed_checkpoint, conflict.size, proof_from(conflict.size),
                                    client=client, timeout=timeout)
    for line in lines.decode("utf-8", "replace").splitlines():
        name, _, b64 = line.removeprefix("\u2014 ").partition(" ")
        if name != witness.name or not line.startswith("\u2014 "):
            continue
        try:
            raw_id = base64.b64decode(b64, validate=True)[:4]
            witness.verify(cp.text, Signature(name, int.from_bytes(raw_id, "big"), b64))
        except (binascii.Error, ValueError, CosignatureError):
            continue
        return (line + "\n").encode(), cp.size
    raise WitnessClientError(f"witness {url} returned no valid cosignature by {witness.name}")
