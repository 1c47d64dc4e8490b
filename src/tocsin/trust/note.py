"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys (signature type 0x01).

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <name> base64(keyID4 || sig)``. This module is deliberately general: the
issuer statements use it, and so can transparency-log checkpoints and
cosignatures later. Nothing in a note's text may be trusted until
:func:`open_note` has returned, which requires at least one signature by a
known key and rejects the whole note if any known key's signature is bad.

Parsing is strict where the spec allows it (canonical base64, exact line
shapes) and bounded (note size, number of signature lines), so a hostile
input costs little and can never produce an ambiguous result.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tocsin.trust import ed25519
from tocsin.trust.ed25519 import NamedKey, NamedSigner, b64decode_strict, is_valid_key_name

ALG_ED25519 = 0x01
MAX_SIGNATURES = 100  # C2SP requires accepting at least 16; Go's note package allows 100
MAX_NOTE_BYTES = 1024 * 1024  # room for 100 post-quantum-sized signature lines
_EM_DASH_PREFIX = "\u2014 "
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")  # control characters other than newline


class NoteError(Exception):
    """Base of every signed-note error."""


class KeyFormatError(NoteError):
    """A verifier or signer key string is not well formed."""


class MalformedNoteError(NoteError):
    """The bytes are not a syntactically valid signed note."""


class UnknownKeyError(NoteError):
    """No trusted key has this (name, key ID)."""


class AmbiguousKeyError(NoteError):
    """More than one trusted key has this (name, key ID), so none can be chosen."""


class InvalidSignatureError(NoteError):
    """A signature by a trusted key does not verify: the note is rejected."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class UnverifiedNoteError(NoteError):
    """The note parsed, but no signature is by a trusted key."""

    def __init__(self, note: Note) -> None:
        super().__init__("note has no verifiable signatures")
        self.note = note




class Verifier(NamedKey):
    """A trusted note key (Ed25519, signature type 0x01), known by its name and key ID."""

    __slots__ = ()
    ALG = ALG_ED25519
    ERROR = KeyFormatError

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature over ``message``."""
        return ed25519.verify(self.public_key, message, signature)


class Signer(NamedSigner[Verifier]):
    """A note signing key (Ed25519, type 0x01) with its key name. Never printed or logged."""

    __slots__ = ()
    PUBLIC = Verifier

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


class Verifiers:
    """The set of trusted keys, looked up by (name, key ID) as the spec requires."""

    def __init__(self, verifiers: Iterable[Verifier] = ()) -> None:
        self._by_id: dict[tuple[str, int], list[Verifier]] = {}
        for verifier in verifiers:
            self._by_id.setdefault((verifier.name, verifier.key_id), []).append(verifier)

    def lookup(self, name: str, key_id: int) -> Verifier:
        """The one key with this name and ID; raises Unknown/AmbiguousKeyError otherwise."""
        found = self._by_id.get((name, key_id))
        if not found:
            raise UnknownKeyError(f"unknown key {name}+{key_id:08x}")
        if len(found) > 1:
            raise AmbiguousKeyError(f"ambiguous key {name}+{key_id:08x}")
        return found[0]


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature line: the signer's name, key ID and the base64 of keyID || sig."""

    name: str
    key_id: int
    b64: str

    @property
    def line(self) -> str:
        return f"{_EM_DASH_PREFIX}{self.name} {self.b64}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """An opened note: its text (trusted only via ``verified_sigs``) and its signatures."""

    text: str
    verified_sigs: tuple[Signature, ...] = ()
    unverified_sigs: tuple[Signature, ...] = ()


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise MalformedNoteError("malformed note: text must end in a newline")
    if _CONTROL.search(text):
        raise MalformedNoteError("malformed note: text holds a control character")


def _parse_signature_line(line: str) -> tuple[Signature, bytes]:
    if not line.startswith(_EM_DASH_PREFIX):
        raise MalformedNoteError("malformed note: signature line must start with '— '")
    name, sep, b64 = line[len(_EM_DASH_PREFIX):].partition(" ")
    if not sep or not is_valid_key_name(name):
        raise MalformedNoteError("malformed note: bad key name in signature line")
    try:
        raw = b64decode_strict(b64)
    except ValueError as exc:
        raise MalformedNoteError(f"malformed note: signature is {exc}") from None
    if len(raw) < 5:
        raise MalformedNoteError("malformed note: signature too short")
    return Signature(name, int.from_bytes(raw[:4], "big"), b64), raw[4:]


def sign_note(
    text: str, signers: Sequence[Signer], *, existing: Sequence[Signature] = ()
) -> bytes:
    """Sign ``text`` with every signer; keep ``existing`` signatures except re-signed keys."""
    _check_text(text)
    message = text.encode()
    replaced = {(s.name, s.key_id) for s in signers}
    lines: list[str] = []
    for sig in existing:
        parsed, _ = _parse_signature_line(f"{_EM_DASH_PREFIX}{sig.name} {sig.b64}")
        if parsed.key_id != sig.key_id:
            raise MalformedNoteError("malformed note: signature key ID does not match")
        if (sig.name, sig.key_id) not in replaced:
            lines.append(sig.line)
    for signer in signers:
        raw = signer.key_id.to_bytes(4, "big") + signer.sign(message)
        lines.append(Signature(signer.name, signer.key_id, base64.b64encode(raw).decode()).line)
    if not lines:
        raise MalformedNoteError("malformed note: no signatures")
    return (text + "\n" + "".join(lines)).encode()


def open_note(
    data: bytes,
    verifiers: Verifiers,
    *,
    max_signatures: int = MAX_SIGNATURES,
    max_bytes: int = MAX_NOTE_BYTES,
) -> Note:
    """Parse and verify a signed note.

    Signatures by unknown keys are kept as unverified; any bad signature by a
    known key rejects the note (:class:`InvalidSignatureError`); a note with no
    signature by a known key raises :class:`UnverifiedNoteError` (carrying the
    parsed note).
    """
    if len(data) > max_bytes:
        raise MalformedNoteError(f"malformed note: larger than {max_bytes} bytes")
    try:
        message = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedNoteError("malformed note: not valid UTF-8") from None
    if _CONTROL.search(message):
        raise MalformedNoteError("malformed note: holds a control character")
    split = message.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("malformed note: no blank line before the signatures")
    text, sig_block = message[: split + 1], message[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise MalformedNoteError("malformed note: signatures must end in a newline")
    sig_lines = sig_block[:-1].split("\n")
    if len(sig_lines) > max_signatures:
        raise MalformedNoteError(f"malformed note: more than {max_signatures} signatures")

    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    seen_unverified: set[str] = set()
    for line in sig_lines:
        sig, raw_sig = _parse_signature_line(line)
        if (sig.name, sig.key_id) in seen:
            continue
        try:
            verifier = verifiers.lookup(sig.name, sig.key_id)
        except UnknownKeyError:
            if sig.b64 not in seen_unverified:
                seen_unverified.add(sig.b64)
                unverified.append(sig)
            continue
        seen.add((sig.name, sig.key_id))
        if not verifier.verify(text.encode(), raw_sig):
            raise InvalidSignatureError(sig.name, sig.key_id)
        verified.append(sig)
    note = Note(text, tuple(verified), tuple(unverified))
    if not verified:
        raise UnverifiedNoteError(note)
    return note
