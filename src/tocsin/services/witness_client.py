"""The log's side of C2SP tlog-witness: ask a witness over HTTP for a cosignature.

Kept out of the pure :mod:`tocsin.tlog` core because it speaks HTTP (httpx).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

import httpx

from tocsin.tlog.checkpoint import (
    CheckpointError,
    CosignatureError,
    CosignatureVerifier,
    note_text,
    parse_checkpoint,
)
from tocsin.tlog.tree import HashReader, TlogError, TreeError, prove_consistency
from tocsin.tlog.witness import MAX_REQUEST_BYTES, format_add_checkpoint, parse_size_body
from tocsin.trust.note import Signature

__all__ = ["WitnessClientError", "WitnessConflictError", "collect_cosignature", "request_cosignature"]


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
        size = parse_size_body(response.content)
        if size is None:
            raise WitnessClientError(f"witness {url} answered 409 with a malformed size", 409)
        raise WitnessConflictError(size)
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
