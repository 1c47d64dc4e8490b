"""C2SP tlog-checkpoint: the signed tree head a log publishes, and how to open one safely.

A checkpoint is a signed note whose text is exactly ``origin``, ``size`` and
``base64(root)`` lines, then optional non-empty extension lines. The hub signs
it with its log key (Ed25519, note signature type 0x01); witnesses add
C2SP tlog-cosignature ``cosignature/v1`` lines (Ed25519, key type 0x04, with
a timestamp) without touching the text; both halves live here, because a
cosignature is meaningless apart from the checkpoint text it covers.

Parsing is strict so that one tree head has exactly one spelling: no leading
zeros in the size, canonical base64 for a 32-byte root, no empty extension
line, text ending in a newline. :func:`open_checkpoint` verifies the log's
signature *before* parsing, and then requires the expected origin, because a
valid signature by the right key over another log's checkpoint proves nothing
about this log.

Typical use (the hub)::

    signed = sign_checkpoint(Checkpoint(origin, size, root), log_signer)

and (a client)::

    cp, note = open_checkpoint(signed, log_verifier, origin)
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from tocsin.tlog.tree import HASH_SIZE, TlogError
from tocsin.trust import ed25519
from tocsin.trust.ed25519 import NamedKey, NamedSigner, b64decode_strict
from tocsin.trust.note import (
    MAX_NOTE_BYTES,
    MAX_SIGNATURES,
    AmbiguousKeyError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    Note,
    NoteError,
    Signature,
    Signer,
    UnverifiedNoteError,
    Verifier,
    Verifiers,
    open_note,
    sign_note,
)

__all__ = [
    "ALG_COSIGNATURE_V1",
    "MAX_CHECKPOINT_BYTES",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "CheckpointError",
    "CheckpointSignatureError",
    "Cosignature",
    "CosignatureError",
    "CosignatureVerifier",
    "Cosigner",
    "append_signature_lines",
    "cosignature_message",
    "cosignature_timestamp",
    "format_checkpoint",
    "note_text",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_vkey_any",
    "sign_checkpoint",
    "verify_cosignatures",
]

MAX_TREE_SIZE = (1 << 64) - 1
"""Tree sizes are uint64 throughout the C2SP specs."""
MAX_CHECKPOINT_BYTES = 64 * 1024
"""A checkpoint plus a hundred cosignature lines is a few KiB; refuse more before parsing."""

_SIZE_RE = re.compile(r"0|[1-9][0-9]{0,19}", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class CheckpointError(TlogError):
    """Checkpoint text is not exactly a C2SP tlog-checkpoint body."""


class CheckpointSignatureError(CheckpointError):
    """The checkpoint is not validly signed by the expected log key, or is for another origin."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tree head: which log (``origin``), how many leaves, their RFC 6962 root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.origin, str) or not self.origin:
            raise CheckpointError("checkpoint origin must be a non-empty string")
        if "\n" in self.origin or _CONTROL_RE.search(self.origin):
            raise CheckpointError("checkpoint origin must not hold a newline or control character")
        if isinstance(self.size, bool) or not isinstance(self.size, int):
            raise CheckpointError(f"tree size must be an integer, got {type(self.size).__name__}")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointError(f"tree size {self.size} is not a uint64")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            if not isinstance(line, str) or not line:
                raise CheckpointError("extension lines must be non-empty strings")
            if "\n" in line or _CONTROL_RE.search(line):
                raise CheckpointError("extension lines must not hold a newline or control character")

    @property
    def text(self) -> str:
        """The note text (what the log signs and cosigners co-sign)."""
        return format_checkpoint(self)


def format_checkpoint(cp: Checkpoint) -> str:
    """The canonical note text of ``cp``: three lines, extensions, each ending in a newline."""
    lines = [cp.origin, str(cp.size), base64.b64encode(cp.root_hash).decode(), *cp.extensions]
    return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly (spec: ``specs/tlog-checkpoint.md``).

    Refuses: text not ending in a newline, fewer than three lines, an empty
    line anywhere, a size with leading zeros or beyond uint64, a root that is
    not canonical base64 of exactly 32 bytes.
    """
    if not isinstance(text, str):
        raise CheckpointError(f"checkpoint text must be str, got {type(text).__name__}")
    if len(text) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"checkpoint text is longer than {MAX_CHECKPOINT_BYTES} characters")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint needs origin, size and root lines, got {len(lines)} line(s)")
    if "" in lines:
        raise CheckpointError(f"checkpoint line {lines.index('') + 1} is empty")
    origin, size_text, root_text, *extensions = lines
    if not _SIZE_RE.fullmatch(size_text) or int(size_text) > MAX_TREE_SIZE:
        raise CheckpointError(f"tree size {size_text[:40]!r} is not a decimal uint64 without leading zeros")
    try:
        root = base64.b64decode(root_text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"root hash {root_text[:60]!r} is not base64") from None
    if len(root) != HASH_SIZE or base64.b64encode(root).decode() != root_text:
        raise CheckpointError(f"root hash {root_text[:60]!r} is not canonical base64 of {HASH_SIZE} bytes")
    return Checkpoint(origin, int(size_text), root, tuple(extensions))


def note_text(data: bytes) -> str:
    """The text part of signed-note bytes, without verifying anything (for routing only).

    Used to read an origin or size before the right keys are known; never trust it.
    """
    if len(data) > MAX_NOTE_BYTES:
        raise CheckpointError(f"signed note is larger than {MAX_NOTE_BYTES} bytes")
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError("signed note is not UTF-8") from None
    split = message.rfind("\n\n")
    if split < 0:
        raise CheckpointError("signed note has no blank line before its signatures")
    return message[: split + 1]


def sign_checkpoint(cp: Checkpoint, log_signer: Signer) -> bytes:
    """The signed note for ``cp``, signed by the log key (whose name SHOULD be the origin)."""
    try:
        return sign_note(format_checkpoint(cp), [log_signer])
    except NoteError as exc:  # unreachable for a valid Checkpoint; kept precise anyway
        raise CheckpointError(f"cannot sign checkpoint: {exc}") from None


def _verifiers(log_verifier: Verifier | Verifiers) -> Verifiers:
    return log_verifier if isinstance(log_verifier, Verifiers) else Verifiers([log_verifier])


def open_checkpoint(
    data: bytes, log_verifier: Verifier | Verifiers, origin: str
) -> tuple[Checkpoint, Note]:
    """Verify a signed checkpoint from ``origin`` and parse it.

    The note must carry a valid signature by ``log_verifier`` (a key, or a set
    of accepted keys, e.g. during key rotation); signatures by unknown keys,
    such as witness cosignatures, are returned in ``note.unverified_sigs`` for
    :func:`verify_cosignatures` to check. Raises
    :class:`CheckpointSignatureError` for a bad or missing log signature or a
    different origin, :class:`CheckpointError` for malformed input.
    """
    if len(data) > MAX_CHECKPOINT_BYTES:
        raise CheckpointError(f"signed checkpoint is larger than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        note = open_note(data, _verifiers(log_verifier), max_signatures=MAX_SIGNATURES)
    except UnverifiedNoteError:
        raise CheckpointSignatureError("checkpoint is not signed by the log key") from None
    except InvalidSignatureError as exc:
        raise CheckpointSignatureError(
            f"checkpoint has an invalid signature by log key {exc.name}+{exc.key_id:08x}"
        ) from None
    except AmbiguousKeyError as exc:
        raise CheckpointSignatureError(f"log key is ambiguous: {exc}") from None
    except MalformedNoteError as exc:
        raise CheckpointError(f"checkpoint is not a well-formed signed note: {exc}") from None
    cp = parse_checkpoint(note.text)
    if cp.origin != origin:
        raise CheckpointSignatureError(f"checkpoint is for origin {cp.origin!r}, expected {origin!r}")
    return cp, note


# ------------------------------------------------------------------ cosignatures

ALG_COSIGNATURE_V1 = 0x04
"""Key-ID algorithm byte of C2SP ``cosignature/v1`` (Ed25519 over a timestamped message)."""
_MAX_TIMESTAMP = (1 << 63) - 1
_COSIG_BYTES = 4 + 8 + 64  # key ID || u64 timestamp || Ed25519 signature


class CosignatureError(TlogError):
    """A cosignature or cosigner key is malformed, or a known witness's cosignature is invalid."""


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` cosigner signs: header, time line, then the checkpoint text."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise CosignatureError(f"cosignature timestamp {timestamp!r} is not in 0..2^63-1")
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def _b64(text: str, what: str) -> bytes:
    try:
        return b64decode_strict(text)
    except ValueError as exc:
        raise CosignatureError(f"{what} is {exc}") from None


def cosignature_timestamp(signature_b64: str) -> int:
    """The timestamp inside a ``cosignature/v1`` signature (the base64 after the key name)."""
    raw = _b64(signature_b64, "cosignature")
    if len(raw) != _COSIG_BYTES:
        raise CosignatureError(f"a cosignature/v1 signature is {_COSIG_BYTES} bytes, got {len(raw)}")
    timestamp = int.from_bytes(raw[4:12], "big")
    if timestamp > _MAX_TIMESTAMP:
        raise CosignatureError("cosignature timestamp exceeds 2^63-1")
    return timestamp


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: which witness key vouched for the checkpoint, and when."""

    name: str
    key_id: int
    timestamp: int


class CosignatureVerifier(NamedKey):
    """A witness public key for ``cosignature/v1`` (vkey ``name+keyid+base64(0x04 || key)``)."""

    __slots__ = ()
    ALG = ALG_COSIGNATURE_V1
    ERROR = CosignatureError
    PREFIX = "cosigner "

    def verify(self, text: str, signature: Signature) -> Cosignature:
        """Check one signature line of this key over checkpoint ``text``; raise if invalid."""
        if (signature.name, signature.key_id) != (self.name, self.key_id):
            raise CosignatureError(f"signature is by {signature.name}+{signature.key_id:08x}, not this key")
        raw = _b64(signature.b64, f"cosignature by {self.name}")
        if len(raw) != _COSIG_BYTES:
            raise CosignatureError(f"cosignature by {self.name} is {len(raw)} bytes, want {_COSIG_BYTES}")
        timestamp = int.from_bytes(raw[4:12], "big")
        if timestamp > _MAX_TIMESTAMP:
            raise CosignatureError(f"cosignature by {self.name} has a timestamp beyond 2^63-1")
        if not ed25519.verify(self.public_key, cosignature_message(text, timestamp), raw[12:]):
            raise CosignatureError(f"invalid cosignature by witness {self.name}+{self.key_id:08x}")
        return Cosignature(self.name, self.key_id, timestamp)


class Cosigner(NamedSigner[CosignatureVerifier]):
    """A witness's private key (Ed25519, ``cosignature/v1``). Never printed or logged."""

    __slots__ = ()
    PUBLIC = CosignatureVerifier

    def cosign(self, text: str, timestamp: int) -> Signature:
        """A signature line over checkpoint ``text`` at POSIX ``timestamp`` (seconds, > 0)."""
        parse_checkpoint(text)  # a witness only ever cosigns well-formed checkpoints
        signature = self._private.sign(cosignature_message(text, timestamp))
        raw = self.key_id.to_bytes(4, "big") + timestamp.to_bytes(8, "big") + signature
        return Signature(self.name, self.key_id, base64.b64encode(raw).decode())

def verify_cosignatures(note: Note, witnesses: Iterable[CosignatureVerifier]) -> list[Cosignature]:
    """The valid cosignatures in ``note`` by ``witnesses``, one per witness key.

    Lines by unknown keys are ignored, as the signed-note spec requires; a line
    whose name and key ID match a known witness but which does not verify
    raises :class:`CosignatureError` (the note is malformed, per the spec).
    """
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[tuple[str, int], Cosignature] = {}
    for sig in (*note.verified_sigs, *note.unverified_sigs):
        witness = known.get((sig.name, sig.key_id))
        if witness is None:
            continue
        cosig = witness.verify(note.text, sig)
        found.setdefault((sig.name, sig.key_id), cosig)
    return list(found.values())


def append_signature_lines(signed: bytes, lines: bytes) -> bytes:
    """Add signature lines (e.g. a witness's add-checkpoint response) to a signed note.

    Each line must look like a note signature line; lines already present are
    not repeated. The result still needs :func:`open_checkpoint` and
    :func:`verify_cosignatures` before anything in it is trusted.
    """
    if not signed.endswith(b"\n") or b"\n\n" not in signed:
        raise CosignatureError("not a signed note: no blank line before the signatures")
    try:
        text = lines.decode("utf-8")
    except UnicodeDecodeError:
        raise CosignatureError("signature lines are not UTF-8") from None
    if text and not text.endswith("\n"):
        raise CosignatureError("signature lines must end in a newline")
    present = set(signed.decode("utf-8", "replace").split("\n"))
    out = bytearray(signed)
    for line in text[:-1].split("\n") if text else []:
        if not line.startswith("\u2014 ") or " " not in line[2:]:
            raise CosignatureError(f"not a note signature line: {line[:60]!r}")
        if line not in present:
            out += (line + "\n").encode()
            present.add(line)
    return bytes(out)


def parse_vkey_any(vkey: str) -> Verifier | CosignatureVerifier:
    """A log key (type 0x01) or a witness key (type 0x04), told apart by the type byte."""
    try:
        return Verifier.from_vkey(vkey)
    except KeyFormatError:
        pass
    return CosignatureVerifier.from_vkey(vkey)

