"""The records of an organisation: admins, people, groups, messages, answers, deliveries.

Invariants: every record carries its organisation's id and is only ever read with it
(:mod:`tocsin.org.store`); a person's places are kept exactly at the precision the person
chose (a region code, or a point with as many decimals as were given); nothing here holds
a secret in clear — tokens, recovery codes and sessions are kept as SHA-256 hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """What an admin may do. Owner ⊃ admin ⊃ viewer."""

    OWNER = "owner"  # everything, plus the audit log, admins and settings
    ADMIN = "admin"  # people, messages, check-ins
    VIEWER = "viewer"  # read the dashboard and people; change nothing

    def at_least(self, other: Role) -> bool:
        order = (Role.VIEWER, Role.ADMIN, Role.OWNER)
        return order.index(self) >= order.index(other)


class Answer(StrEnum):
    """A person's answer to a check-in."""

    SAFE = "safe"
    NEED_HELP = "need_help"
    AWAY = "away"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"  # handed to the channel
    DELIVERED = "delivered"  # only where the channel says so
    FAILED = "failed"


#: Channel names a person may have. ``email`` and ``webhook`` are served by the channel
#: implementations of their own branches (:mod:`tocsin.org.channels`).
CHANNEL_NAMES = ("push", "sms", "email", "webhook")
LANGUAGES = ("uk", "en")
MAX_POINT_DECIMALS = 6


@dataclass(frozen=True, slots=True)
class Place:
    """A home or work place: a region code, or a point as the person wrote it.

    ``text`` is the stored form: a canonical region code, or ``"lat,lon"`` with the
    decimals given (``50.45,30.52`` is ~1 km; the hub never adds precision).
    """

    label: str  # "home" or "work"
    text: str

    @property
    def point(self) -> tuple[float, float] | None:
        if "," not in self.text:
            return None
        lat, _, lon = self.text.partition(",")
        return float(lat), float(lon)


@dataclass(frozen=True, slots=True)
class Org:
    id: str
    name: str
    created: float
    key_name: str  # the note key name of the org's signing key
    public_vkey: str  # its C2SP verifier key text (public)
    retention_days: int | None = None  # answers and deliveries older than this are deleted
    rule_enabled: bool = False  # public threats covering a person's place -> check-in
    rule_text: str = ""
    reminder_minutes: int | None = None  # remind who has not answered a check-in after this
    escalate_minutes: int | None = None  # then tell their second contact (and flag them)


@dataclass(frozen=True, slots=True)
class Admin:
    id: str
    org_id: str
    email: str
    role: Role
    created: float
    enrolled: bool  # has at least one passkey


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    org_id: str
    ref: str  # the organisation's own id for the person (CSV ``id``), unique in the org
    name: str
    language: str
    channels: dict[str, str] = field(default_factory=dict)  # channel name -> address
    places: tuple[Place, ...] = ()
    groups: tuple[str, ...] = ()
    contact: str = ""  # a second contact (escalation), free text


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    org_id: str
    created: float
    author: str  # admin id, or "rule:<alert id>"
    text: str
    audience: str  # JSON of the audience as asked
    note: bytes  # the signed note (org key) recipients can check
    checkin: bool
    closed: float | None = None
    alert_id: str | None = None  # the public alert that triggered it (rule messages)
    recipients: int = 0


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    org_id: str
    at: float
    actor: str  # admin id, "rule", "cli" or "anonymous"
    action: str
    detail: str  # JSON; ids and counts, never a person's name or place
    chain: str  # hex SHA-256 over the previous chain value and this entry
