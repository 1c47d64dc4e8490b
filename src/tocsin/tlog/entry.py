"""What one leaf of Tocsin's transparency log holds: a versioned, self-describing entry.

Layout (all integers big-endian)::

    version  u8   = 1
    type     u8   1 = alert, 2 = issuer registry
    fields   ( u32 length || bytes )*

* alert (type 1): two fields, the issuer's signed statement and the exact CAP bytes.
* detached alert (type 3): one field, the issuer's signed statement. The
  statement names the SHA-256 of the exact CAP bytes, so the leaf commits to
  them; the CAP is served by the hub (``/api/v1/alerts/{id}/cap``, ``id`` =
  the first 32 hex digits of that SHA-256) and checked against it.
* registry (type 2): one field, the exact bytes of a signed registry document.
  Key revocations are registry versions, so they are logged the same way.

The leaf hash is RFC 6962's ``SHA-256(0x00 || entry)``. C2SP tlog-tiles
bundles prefix each entry with a u16 length, so an entry must stay under
64 KiB (:data:`MAX_ENTRY_BYTES`). An alert whose type-1 entry would not fit
(the hub takes CAP documents up to ``tocsin.ledger.MAX_ALERT_BYTES``, 704 KiB,
so that a nationwide alert naming every hromada fits) gets a type-3 entry.
Which form an alert gets is a pure function of the two sizes
(:func:`alert_entry`), so every verifier recomputes the same leaf.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

ENTRY_VERSION = 1
MAX_ENTRY_BYTES = 65535
TYPE_ALERT = 1
TYPE_REGISTRY = 2
TYPE_DETACHED_ALERT = 3

EntryType = Literal["alert", "registry"]
_TYPES: dict[int, EntryType] = {TYPE_ALERT: "alert", TYPE_REGISTRY: "registry",
                                TYPE_DETACHED_ALERT: "alert"}
_FIELD_COUNTS = {TYPE_ALERT: 2, TYPE_REGISTRY: 1, TYPE_DETACHED_ALERT: 1}


class EntryError(ValueError):
    """Bytes that are not a well-formed log entry; the message says where."""


@dataclass(frozen=True, slots=True)
class Entry:
    type: EntryType
    statement: bytes = b""  # alert entries
    cap: bytes = b""  # alert entries (empty when detached)
    registry: bytes = b""  # registry entries
    detached: bool = False  # an alert whose CAP is not in the entry (type 3)


def _encode(entry_type: int, *fields: bytes) -> bytes:
    out = bytearray((ENTRY_VERSION, entry_type))
    for value in fields:
        out += struct.pack(">I", len(value))
        out += value
    if len(out) > MAX_ENTRY_BYTES:
        raise EntryError(f"log entry would be {len(out)} bytes; the limit is {MAX_ENTRY_BYTES}")
    return bytes(out)


def alert_entry(statement: bytes, cap: bytes) -> bytes:
    """The leaf for an accepted alert: statement and CAP, or the statement alone when
    both would not fit (raises :class:`EntryError` only if the statement alone does not)."""
    if 2 + 4 + len(statement) + 4 + len(cap) <= MAX_ENTRY_BYTES:
        return _encode(TYPE_ALERT, statement, cap)
    return _encode(TYPE_DETACHED_ALERT, statement)


def registry_entry(registry: bytes) -> bytes:
    """The leaf for a registry version (issuers added, keys revoked)."""
    return _encode(TYPE_REGISTRY, registry)


def entry_overhead() -> int:
    """Bytes an alert entry adds around its statement and CAP."""
    return 2 + 4 + 4


def decode_entry(data: bytes) -> Entry:
    """Parse an entry, refusing anything malformed, truncated or trailing."""
    if len(data) > MAX_ENTRY_BYTES:
        raise EntryError(f"entry is {len(data)} bytes; the limit is {MAX_ENTRY_BYTES}")
    if len(data) < 2:
        raise EntryError("entry is shorter than its 2-byte header")
    if data[0] != ENTRY_VERSION:
        raise EntryError(f"unknown entry version {data[0]} (expected {ENTRY_VERSION})")
    entry_type = data[1]
    if entry_type not in _TYPES:
        raise EntryError(f"unknown entry type {entry_type}")
    fields: list[bytes] = []
    pos = 2
    while pos < len(data):
        if pos + 4 > len(data):
            raise EntryError(f"truncated field length at byte {pos}")
        (length,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if pos + length > len(data):
            raise EntryError(f"field at byte {pos} claims {length} bytes, {len(data) - pos} remain")
        fields.append(data[pos:pos + length])
        pos += length
    expected = _FIELD_COUNTS[entry_type]
    if len(fields) != expected:
        raise EntryError(f"{_TYPES[entry_type]} entry has {len(fields)} fields, expected {expected}")
    if entry_type == TYPE_ALERT:
        return Entry("alert", statement=fields[0], cap=fields[1])
    if entry_type == TYPE_DETACHED_ALERT:
        return Entry("alert", statement=fields[0], detached=True)
    return Entry("registry", registry=fields[0])
