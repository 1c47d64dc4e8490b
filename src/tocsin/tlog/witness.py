"""C2SP tlog-witness, the protocol: request bodies, refusals and the consistency rule.

Protocol (spec: ``specs/tlog-witness.md``)::

    POST /add-checkpoint            body: "old N\\n", consistency proof lines, "\\n", checkpoint
      200  cosignature/v1 signature lines
      400  malformed body, or old size larger than the checkpoint's
      403  no valid signature by a key the witness trusts for that origin
      404  unknown origin
      409  old size is not what the witness last cosigned (body "<size>\\n", exactly
           ``Content-Type: text/x.tlog.size``, no parameters)
      422  bad consistency proof, same size with another root, empty tree with a non-empty root
    GET /<sha256(origin) hex>/checkpoint   latest cosigned checkpoint, or 404

This module is pure (no database, no HTTP): the witness *service* with its durable
state and HTTP app is :mod:`tocsin.services.witness`, the log's client side
:mod:`tocsin.services.witness_client`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from tocsin.tlog.tree import EMPTY_ROOT, HASH_SIZE, ProofError, TlogError, verify_consistency

__all__ = [
    "MAX_REQUEST_BYTES",
    "SIZE_CONTENT_TYPE",
    "AddCheckpoint",
    "WitnessError",
    "consistency_problem",
    "format_add_checkpoint",
    "origin_hash",
    "parse_add_checkpoint",
    "parse_size_body",
]

MAX_REQUEST_BYTES = 64 * 1024
"""An add-checkpoint body is 63 proof lines plus a checkpoint: well under this."""
MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]{0,19})", re.ASCII)
_SIZE_BODY_RE = re.compile(r"(0|[1-9][0-9]{0,19})\n", re.ASCII)


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


def consistency_problem(request: AddCheckpoint, size: int, root: bytes, stored_root: bytes) -> str | None:
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


def parse_size_body(body: bytes) -> int | None:
    """The size in a 409 body (``"<size>\\n"``), or None if it is not exactly that."""
    try:
        match = _SIZE_BODY_RE.fullmatch(body.decode("ascii"))
    except UnicodeDecodeError:
        return None
    return int(match.group(1)) if match else None
