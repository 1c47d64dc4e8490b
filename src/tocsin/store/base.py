"""What the hub needs from durable storage, stated as a contract.

Contract every implementation keeps (the contract tests in ``tests/store``
run against each one):

* **Atomic**: :meth:`Store.append` writes the alert, its region targets, its
  effects on earlier alerts (ended by an update, cancel or all-clear) and its
  stream event in one transaction — all or nothing.
* **Durable before acknowledged**: when ``append`` returns, the transaction
  is on stable storage (SQLite ``synchronous=FULL`` in WAL mode; PostgreSQL
  commit). The HTTP layer answers 201 only after that.
* **Idempotent by content**: appending the exact bytes of an alert already
  stored returns the stored record with ``created=False``; the same
  ``sender`` + ``identifier`` with different bytes raises :class:`Conflict`.
* **Event ids** are positive, strictly increasing and never reused, so a
  subscriber can resume from the last id it saw, across restarts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tocsin.cap.model import Area

Coverage = Literal["full", "partial"]


class StoreError(Exception):
    """Base of storage errors the hub turns into catalogued API errors."""


class Conflict(StoreError):
    """Another alert with the same sender and identifier but different bytes exists."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"an alert with this sender and identifier already exists: {existing_id}")
        self.existing_id = existing_id


@dataclass(frozen=True, slots=True)
class NewAlert:
    """Everything the issuing path has established about an accepted alert."""

    id: str  # content id: hex SHA-256 prefix of the exact CAP bytes
    cap: bytes  # the exact bytes the issuer signed; never re-serialised
    statement: bytes  # the issuer's signed statement (a C2SP signed note)
    issuer_id: str
    key_id: str
    sender: str
    identifier: str
    sent: str  # exact lexical CAP time
    sent_ts: float  # POSIX seconds, for ordering and windows
    received_ts: float
    expires_ts: float | None  # latest <expires> of any info, None if open-ended
    msg_type: str
    status: str  # CAP status (Actual, Exercise, Test, ...)
    kinds: tuple[str, ...]
    event: str  # the first info's event text, for listings
    targets: dict[str, Coverage]  # region code -> full/partial (ancestors partial)
    references: tuple[tuple[str, str], ...] = ()  # (sender, identifier) pairs
    summary: bytes = b""  # JSON payload pushed to live subscribers (pre-encoded once)
    areas: tuple[Area, ...] = ()  # the CAP areas, for exact point matching (not stored)
    stream_kind: str = "alert"  # the stream event type: "alert", or "denial" (never to regions)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """A stored alert and what the hub knows about it now."""

    id: str
    cap: bytes
    statement: bytes
    issuer_id: str
    key_id: str
    sender: str
    identifier: str
    sent: str
    sent_ts: float
    received_ts: float
    expires_ts: float | None
    msg_type: str
    status: str
    kinds: tuple[str, ...]
    event: str
    event_id: int  # the stream event that announced it
    ended_ts: float | None  # when an update/cancel/all-clear ended it entirely
    ended_by: str | None
    targets: dict[str, Coverage] = field(default_factory=dict)  # still-active targets
    log_index: int | None = None  # position in the transparency log, when logged

    def active_at(self, now: float) -> bool:
        """An alert is active while it is Actual, not ended, not expired, and still targets somewhere."""
        if self.status != "Actual" or self.msg_type not in ("Alert", "Update"):
            return False
        if self.ended_ts is not None or "all-clear" in self.kinds:
            return False
        if self.expires_ts is not None and self.expires_ts <= now:
            return False
        return bool(self.targets)


@dataclass(frozen=True, slots=True)
class AppendResult:
    record: AlertRecord
    created: bool  # False when the exact same alert was already stored (idempotent retry)
    ended: tuple[str, ...] = ()  # ids of alerts this one ended entirely
    regions: tuple[str, ...] = ()  # codes its stream event was addressed to


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One event of the live stream, as stored for resumption."""

    id: int
    kind: str  # "alert" (new alert, update, cancel or all-clear) or "denial" (a denial)
    alert_id: str
    regions: tuple[str, ...]  # region codes it concerns (targets, with ancestors)
    data: bytes  # the JSON payload sent to subscribers


class Store(Protocol):
    """Durable storage for alerts and stream events (see the module docstring)."""

    def append(self, alert: NewAlert) -> AppendResult:
        """Store an accepted alert atomically and durably (see contract)."""
        ...

    def get(self, alert_id: str) -> AlertRecord | None: ...

    def find(self, sender: str, identifier: str) -> AlertRecord | None: ...

    def list_alerts(
        self,
        *,
        regions: Sequence[str] | None = None,
        active_at: float | None = None,
        since_ts: float | None = None,
        limit: int = 100,
        kinds_any: Sequence[str] | None = None,
        kinds_none: Sequence[str] | None = None,
    ) -> list[AlertRecord]:
        """Newest first. ``regions`` matches any target code; ``active_at`` keeps active ones;
        ``kinds_any``: declares at least one of these kinds; ``kinds_none``: declares none."""
        ...

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]:
        """Stream events with id > ``event_id``, oldest first."""
        ...

    def last_event_id(self) -> int: ...

    def close(self) -> None: ...


class StorageFull(Exception):
    """The disk is full: the write was rolled back whole, nothing was stored; retry later.

    Deliberately not a :class:`StoreError` (a refusal of *this* alert): it
    says nothing about the alert, and the hub answers it ``507`` with
    ``Retry-After``. The original error is the ``__cause__``.
    """


class StorageUnavailable(Exception):
    """The storage failed otherwise (an I/O error): rolled back, nothing stored; retry later."""
