"""A typed, immutable model of every element of an OASIS CAP 1.2 message.

Field names are the CAP element names in snake_case; repeated elements keep
their (singular) CAP name and hold a tuple, so ``alert.info[0].area[0].polygon``
reads like the standard. The JSON mapping (see ``docs/cap-json.md``) is the
same structure with the exact CAP element names (msgspec ``rename="camel"``
turns ``msg_type`` back into ``msgType``).

Times are kept as the exact lexical strings of the document (offsets and all):
re-serialising must never change a value, and a signed document is never
rebuilt from this model anyway (the exact bytes are stored and served).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

CAP12_NS = "urn:oasis:names:tc:emergency:cap:1.2"
CAP11_NS = "urn:oasis:names:tc:emergency:cap:1.1"
XMLDSIG_NS = "http://www.w3.org/2000/09/xmldsig#"

Status = Literal["Actual", "Exercise", "System", "Test", "Draft"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack", "Error"]
Scope = Literal["Public", "Restricted", "Private"]
Category = Literal[
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
    "Transport", "Infra", "CBRNE", "Other",
]
ResponseType = Literal[
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
    "AllClear", "None",
]
Urgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
Severity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
Certainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]

STATUSES: tuple[str, ...] = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES: tuple[str, ...] = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES: tuple[str, ...] = ("Public", "Restricted", "Private")
CATEGORIES: tuple[str, ...] = (
    "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env",
    "Transport", "Infra", "CBRNE", "Other",
)
RESPONSE_TYPES: tuple[str, ...] = (
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess",
    "AllClear", "None",
)
URGENCIES: tuple[str, ...] = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES: tuple[str, ...] = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES: tuple[str, ...] = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")


class _Struct(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=True):
    """Base: immutable, JSON keys are the CAP element names.

    msgspec applies ``kw_only`` only to the fields a class itself defines, so each
    subclass repeats ``kw_only=True`` (required fields may follow defaults), and
    ``frozen=True`` so type checkers see the same.
    """


class ValuePair(_Struct, frozen=True, kw_only=True):
    """A CAP ``valueName``/``value`` pair (eventCode, parameter, geocode)."""

    value_name: str
    value: str


class Reference(_Struct, frozen=True, kw_only=True):
    """One ``sender,identifier,sent`` triple of an alert's ``references``."""

    sender: str
    identifier: str
    sent: str

    def text(self) -> str:
        return f"{self.sender},{self.identifier},{self.sent}"


class Circle(_Struct, frozen=True, kw_only=True):
    """A CAP circle: centre ``lat,lon`` and radius in kilometres."""

    lat: float
    lon: float
    radius_km: float
    text: str  # the exact lexical form, e.g. "32.9525,-115.5527 0"


class Polygon(_Struct, frozen=True, kw_only=True):
    """A CAP polygon: points as (lat, lon) pairs, first == last when valid."""

    points: tuple[tuple[float, float], ...]
    text: str  # the exact lexical form


class Resource(_Struct, frozen=True, kw_only=True):
    resource_desc: str
    # Required in CAP 1.2; optional in CAP 1.1 (OASIS's own 1.1 example A.1 has none), so
    # None only for a resource read from CAP 1.1 (``Alert.source_version == "1.1"``).
    mime_type: str | None = None
    size: int | None = None
    uri: str | None = None
    deref_uri: str | None = None
    digest: str | None = None


class Area(_Struct, frozen=True, kw_only=True):
    area_desc: str
    polygon: tuple[Polygon, ...] = ()
    circle: tuple[Circle, ...] = ()
    geocode: tuple[ValuePair, ...] = ()
    altitude: float | None = None
    ceiling: float | None = None
    altitude_text: str | None = None  # exact lexical forms, kept for a lossless round trip
    ceiling_text: str | None = None


class Info(_Struct, frozen=True, kw_only=True):
    language: str = "en-US"
    language_given: bool = False  # whether <language> was present (CAP default is en-US)
    category: tuple[Category, ...] = ()
    event: str
    response_type: tuple[ResponseType, ...] = ()
    urgency: Urgency
    severity: Severity
    certainty: Certainty
    audience: str | None = None
    event_code: tuple[ValuePair, ...] = ()
    effective: str | None = None
    onset: str | None = None
    expires: str | None = None
    sender_name: str | None = None
    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None
    contact: str | None = None
    parameter: tuple[ValuePair, ...] = ()
    resource: tuple[Resource, ...] = ()
    area: tuple[Area, ...] = ()


class Alert(_Struct, frozen=True, kw_only=True):
    identifier: str
    sender: str
    sent: str
    status: Status
    msg_type: MsgType
    source: str | None = None
    scope: Scope
    restriction: str | None = None
    addresses: str | None = None
    code: tuple[str, ...] = ()
    note: str | None = None
    references: tuple[Reference, ...] = ()
    incidents: str | None = None
    info: tuple[Info, ...] = ()
    # Enveloped XML-DSig <Signature> elements, as exact serialised XML strings.
    # They carry no trust in Tocsin (the Ed25519 statement does); kept so that
    # reading and writing other producers' alerts loses nothing.
    signature: tuple[str, ...] = ()
    # "1.2", or "1.1" when read from a CAP 1.1 document and mapped to 1.2.
    source_version: str = "1.2"


def parse_cap_time(text: str) -> datetime:
    """Parse a CAP dateTime (``2024-05-01T12:00:00+03:00``; lenient: ``Z``, fractions)."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return parsed
