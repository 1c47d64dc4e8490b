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

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from tocsin.cap.model import Area
from tocsin.ledger.effects import Incoming, is_active
from tocsin.tlog.tree import HashReader

Coverage = Literal["full", "partial"]


class StoreError(Exception):
    """Base of storage errors the hub turns into catalogued API errors."""


class Refused(StoreError):
    """The rulebook refused the alert (``code`` is in the API error catalogue)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Conflict(StoreError):
    """Another alert with the same sender and identifier but different bytes exists."""

    def __init__(self, existing_id: str) -> None:
        super().__init__(f"an alert with this sender and identifier already exists: {existing_id}")
        self.existing_id = existing_id


@dataclass(frozen=True, slots=True)
class SearchText:
    """What the message check searches for one alert, prepared by the issuing path.

    Words are already in the check's normal form (:func:`tocsin.check.normalise.tokens`:
    letters and digits only, case-folded), so a store only files them; ``keys`` are opaque
    lookup keys (a region, the issuer, a hash a denial names) the check asks for the most
    recent alerts of. A store treats all of it as data: no rule and no scoring lives there.
    """

    infos: tuple[tuple[str, tuple[str, ...]], ...]  # (language, words) per CAP info
    keys: tuple[str, ...] = ()
    denial: bool = False  # a denial's words are searched apart from the alerts'
    denied: tuple[str, ...] = ()  # the words of the message a denial denies

    def words(self) -> frozenset[str]:
        """Every word of every info (what one alert counts once towards a word's frequency)."""
        return frozenset(w for _, words in self.infos for w in words)


@dataclass(frozen=True, slots=True)
class TextEntry:
    """A searchable alert as the check reads it back: its position and its text."""

    pos: int  # position in the search history; strictly increasing in append order
    id: str
    issuer_id: str
    sent_ts: float
    kinds: tuple[str, ...]
    text: SearchText


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
    text: SearchText | None = None  # what the check searches (None: not searchable)


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
        """Whether it is in force at ``now`` (the rulebook's one definition, :func:`is_active`)."""
        return is_active(status=self.status, msg_type=self.msg_type, kinds=self.kinds,
                         ended=self.ended_ts is not None, expires_ts=self.expires_ts,
                         has_targets=bool(self.targets), now=now)


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
    # Known only in the process that accepted the alert, handed to followers with the event
    # (tocsin.feed); never stored, so an event read back from the store has neither:
    areas: tuple[Area, ...] = ()  # CAP areas whose shapes may match points exactly
    received_ts: float | None = None  # when the hub received the alert


class Store(Protocol):
    """Durable storage for alerts, stream events and the transparency log (module docstring).

    Writes (:meth:`append_batch`, :meth:`append`, :meth:`append_registry`) come from ONE
    writer thread; reads may come from any thread and see committed data only.
    """

    # -- writes ---------------------------------------------------------------

    def append_batch(self, alerts: Sequence[NewAlert]) -> list[AppendResult | StoreError]:
        """Store several alerts with one commit (one fsync), each atomic on its own.

        MUST ask the rulebook (the ``rules`` the store was built with) what each alert
        ends, over a view of its own transaction, and persist exactly that answer together
        with the alert, its targets, its stream event and its log leaf — all or nothing for
        that alert. A refusal (:class:`Refused`, :class:`Conflict`, or any failure of that
        alert alone) is returned in its place and leaves no trace; the others still commit.
        A failure of the storage itself (disk full, I/O) fails the whole batch and stores
        nothing. When it returns, everything it reports stored is durable.
        """
        ...

    def append(self, alert: NewAlert) -> AppendResult:
        """:meth:`append_batch` of one alert; raises what it would return as a refusal."""
        ...

    def append_registry(self, registry: bytes) -> int | None:
        """Log a registry version unless it is the newest logged; its leaf index, or None."""
        ...

    def save_checkpoint(self, size: int, note: bytes, created_ts: float) -> None:
        """Keep a signed checkpoint of size ``size`` (idempotent; may run beside the writer)."""
        ...

    # -- reads ----------------------------------------------------------------

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

    def log_size(self) -> int:
        """Number of leaves in the log (alerts and registry versions)."""
        ...

    def log_entries(self, start: int, end: int) -> list[bytes]:
        """The exact leaf entries ``start <= index < end``; :class:`StoreError` if any is missing."""
        ...

    def hash_reader(self) -> HashReader:
        """The log's stored hashes (RFC 6962 tree), for roots, proofs and tiles."""
        ...

    def last_logged_registry(self) -> bytes | None:
        """The exact bytes of the newest registry version in the log."""
        ...

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(size, signed note) of the largest checkpoint kept, or None."""
        ...

    # -- the check's search history (on disk: memory does not grow with history) -------

    def text_stats(self, words: Collection[str]) -> tuple[int, dict[str, int]]:
        """(searchable alerts stored, {word: non-denial alerts whose text has it}).

        Words no non-denial alert has are left out of the dict.
        """
        ...

    def text_postings(self, word: str, *, denial: bool = False) -> list[int]:
        """Positions of the non-denial (``denial``: the denial) alerts having ``word``, ascending."""
        ...

    def text_entries(self, positions: Collection[int]) -> dict[int, TextEntry]:
        """The searchable alerts at ``positions`` (unknown positions are left out)."""
        ...

    def text_recent(self, key: str | None, limit: int) -> list[int]:
        """The newest ``limit`` positions filed under ``key`` (None: all), newest first."""
        ...

    def close(self) -> None: ...


def incoming(alert: NewAlert) -> Incoming:
    """The facts the state rules judge, from an alert about to be stored."""
    return Incoming(id=alert.id, issuer_id=alert.issuer_id, msg_type=alert.msg_type,
                    status=alert.status, kinds=frozenset(alert.kinds), targets=alert.targets,
                    references=alert.references, received_ts=alert.received_ts)


class StorageFull(Exception):
    """The disk is full: the write was rolled back whole, nothing was stored; retry later.

    Deliberately not a :class:`StoreError` (a refusal of *this* alert): it
    says nothing about the alert, and the hub answers it ``507`` with
    ``Retry-After``. The original error is the ``__cause__``.
    """


class StorageUnavailable(Exception):
    """The storage failed otherwise (an I/O error): rolled back, nothing stored; retry later."""


class StoreDamaged(StorageUnavailable):
    """The store was found damaged (:mod:`tocsin.store.scan`): no write is accepted until an
    operator restores it; retrying does not help. Answered ``503 store_damaged``."""


class NotLeader(StorageUnavailable):
    """This store does not lead the writers (never did, or another writer took over): nothing
    was stored. The fencing check of a shared store (PostgreSQL) raises it inside the commit's
    own transaction, so a stale leader's write can never land; the hub answers ``503``."""


@runtime_checkable
class Leadership(Protocol):
    """Writer leadership of a store several processes share (PostgreSQL; SQLite has one writer).

    Exactly one store instance leads at a time; only the leader's writes commit. Taking the lead
    increments a fencing token (an epoch) that every write transaction checks, so a stale
    leader's commit is refused with :class:`NotLeader` even while it still believes it leads.
    """

    def acquire_leadership(self, wait_secs: float = 0.0) -> bool:
        """Try to lead (waiting up to ``wait_secs`` for the current leader to go); True if leading."""
        ...

    def is_leader(self) -> bool:
        """Whether this instance leads now (re-takes its own lock after a server restart)."""
        ...

    def release_leadership(self) -> None:
        """Stop leading (e.g. on shutdown), so a standby takes over at once."""
        ...

    @property
    def fencing_token(self) -> int | None:
        """The epoch this instance writes under; None when it does not lead."""
        ...

    def current_leader(self) -> tuple[int, str | None]:
        """(epoch, holder ``host:pid``) of the newest leader, whoever it is."""
        ...

    def advertise_writer(self, url: str) -> None:
        """Say where this leader takes writes (fenced: refused with :class:`NotLeader` unless
        it leads); a new leader's epoch starts with no address."""
        ...

    def leader_url(self) -> str | None:
        """Where the current leader takes writes; None until it said (readable by anyone)."""
        ...

    def hold_log_at_least(self, size: int) -> None:
        """Refuse every later write while the store holds fewer than ``size`` log entries (the
        largest tree this writer's key signed): a store that came back behind it would fork."""
        ...
