"""The issuer statement: what an issuer signs to vouch for one CAP document.

The statement is short text, signed as a C2SP note by the issuer's key (the
key name is the issuer id)::

    tocsin/alert-statement/v1
    issuer ua.dsns
    key 1a2b3c4d
    identifier UA-DSNS-2026-000123
    sender alerts@dsns.gov.ua
    sent 2026-11-25T12:00:00+02:00
    sha256 <64 lowercase hex digits of SHA-256 over the exact CAP bytes>

It binds the exact bytes (never a re-serialisation) plus the three CAP fields
that identify an alert, so a verifier can tell a swapped document apart from a
tampered one. Parsing is strict: this exact line set, in this order, once each.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from tocsin.trust.ed25519 import is_valid_key_name
from tocsin.trust.note import Signer, sign_note

STATEMENT_HEADER = "tocsin/alert-statement/v1"
FIELDS: tuple[str, ...] = ("issuer", "key", "identifier", "sender", "sent", "sha256")
MAX_VALUE_CHARS = 1024
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_KEY_HEX = re.compile(r"[0-9a-f]{8}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class StatementError(ValueError):
    """The statement text is not exactly a ``tocsin/alert-statement/v1`` statement."""


@dataclass(frozen=True, slots=True)
class Statement:
    """The fields of an issuer statement; ``key_id`` is the note key ID as an integer."""

    issuer: str
    key_id: int
    identifier: str
    sender: str
    sent: str
    sha256: str  # lowercase hex

    def __post_init__(self) -> None:
        if not is_valid_key_name(self.issuer):
            raise StatementError(f"issuer id {self.issuer!r} is not a valid key name")
        if not 0 <= self.key_id < 1 << 32:
            raise StatementError("key ID must fit in 32 bits")
        for name in ("identifier", "sender", "sent"):
            _check_value(name, getattr(self, name))
        if not _SHA256_HEX.fullmatch(self.sha256):
            raise StatementError("sha256 must be 64 lowercase hex digits")

    @classmethod
    def for_cap(
        cls, cap_bytes: bytes, *, issuer: str, key_id: int, identifier: str, sender: str,
        sent: str,
    ) -> Statement:
        return cls(issuer, key_id, identifier, sender, sent, hashlib.sha256(cap_bytes).hexdigest())

    def text(self) -> str:
        """The exact note text that is signed."""
        values = (self.issuer, f"{self.key_id:08x}", self.identifier, self.sender, self.sent,
                  self.sha256)
        body = "".join(f"{name} {value}\n" for name, value in zip(FIELDS, values, strict=True))
        return f"{STATEMENT_HEADER}\n{body}"

    def sign(self, signer: Signer) -> bytes:
        """The signed note; the signer must be the key the statement names."""
        if (signer.name, signer.key_id) != (self.issuer, self.key_id):
            raise StatementError(
                f"statement names key {self.issuer}+{self.key_id:08x} but the signer is "
                f"{signer.name}+{signer.key_id:08x}"
            )
        return sign_note(self.text(), [signer])


def _check_value(name: str, value: str) -> None:
    if not value:
        raise StatementError(f"{name} is empty")
    if len(value) > MAX_VALUE_CHARS:
        raise StatementError(f"{name} is longer than {MAX_VALUE_CHARS} characters")
    if value != value.strip() or _CONTROL.search(value):
        raise StatementError(f"{name} has surrounding spaces or control characters")


def parse_statement(text: str) -> Statement:
    """Parse a statement's note text strictly, naming the first thing that is wrong."""
    if not text.endswith("\n"):
        raise StatementError("statement must end in a newline")
    lines = text[:-1].split("\n")
    if lines[0] != STATEMENT_HEADER:
        raise StatementError(f"first line must be {STATEMENT_HEADER!r}, got {lines[0][:80]!r}")
    values: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        name, sep, value = line.partition(" ")
        if not sep:
            raise StatementError(f"line {number} is not 'name value'")
        if name not in FIELDS:
            raise StatementError(f"line {number}: unknown field {name[:40]!r}")
        if name in values:
            raise StatementError(f"line {number}: duplicate field {name!r}")
        expected = FIELDS[len(values)]
        if name != expected:
            raise StatementError(f"line {number}: expected field {expected!r}, got {name!r}")
        values[name] = value
    missing = [name for name in FIELDS if name not in values]
    if missing:
        raise StatementError(f"missing field(s): {', '.join(missing)}")
    if not _KEY_HEX.fullmatch(values["key"]):
        raise StatementError("key must be 8 lowercase hex digits")
    return Statement(
        issuer=values["issuer"],
        key_id=int(values["key"], 16),
        identifier=values["identifier"],
        sender=values["sender"],
        sent=values["sent"],
        sha256=values["sha256"],
    )
