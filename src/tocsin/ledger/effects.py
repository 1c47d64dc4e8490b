"""What an accepted alert does to the alerts before it: the state rules, decided once, pure.

Given an authorised alert and a read-only view of what is in force, :func:`effects` either
refuses (a catalogued code) or says exactly what changes. The store only carries the answer
out; the hub, ``tocsin monitor`` (replaying the log) and the tests all call this one function.

The rules (also in ``docs/hub.md``):

* **References** (``Update`` / ``Cancel``) must name an alert this ledger accepted
  (``unknown_reference``), of the same issuer (``foreign_reference``) and the same CAP
  status (``status_mismatch``: a Test or Exercise never ends an Actual alert). The alerts
  referenced end entirely; everyone who was told about them is told again.
* **All-clear** ends, among the same issuer's alerts of the same status still in force (not
  expired when the all-clear is received: an expired alert has nothing left to end), the *leaf* targets
  (those with no other target below them: hromadas, for Ukraine) that it covers *fully*.
  Coverage then follows the hierarchy rule of :mod:`tocsin.regions.targeting` again: a
  region that was ``full`` but now has a cleared region below it becomes ``partial``; a
  region with no leaf in force below it ends; an alert left with no leaf ends entirely.
* **Announcements** (all-clear, ``Cancel``, ``Ack``, ``Error``) hold no active targets of
  their own: their targets only address the delivery.

Invariants (checked by property tests): after :func:`apply_ending`, every region left in
force is a leaf or stands above a leaf in force; no ``full`` region has a cleared leaf below
it; no cleared leaf stays in force; nothing outside the cleared set and its ancestors changes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from tocsin.kinds import KindClass, kind_class

Coverage = Literal["full", "partial"]
ANNOUNCEMENT_TYPES = frozenset({"Cancel", "Ack", "Error"})


@dataclass(frozen=True, slots=True)
class Prior:
    """What the rules need to know of an alert already accepted."""

    id: str
    issuer_id: str
    status: str  # CAP status: Actual, Exercise, System, Test, Draft
    ended: bool  # ended entirely (by a reference or by all-clears)
    targets: Mapping[str, Coverage]  # its targets still in force
    reached: frozenset[str] = frozenset()  # every region it was ever addressed to


@dataclass(frozen=True, slots=True)
class Incoming:
    """The facts of the alert being decided (already authenticated and authorised)."""

    id: str
    issuer_id: str
    msg_type: str
    status: str
    kinds: frozenset[str]
    targets: Mapping[str, Coverage]
    references: tuple[tuple[str, str], ...] = ()  # (sender, identifier)
    received_ts: float | None = None  # when the hub accepts it (alerts expired by then are not in force)


class LedgerView(Protocol):
    """The read-only state :func:`effects` consults (a store's transaction implements it)."""

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        """The accepted alert with this CAP sender and identifier, or None."""
        ...

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> Sequence[Prior]:
        """The issuer's alerts of ``status`` with a target in force on any of ``codes``.

        ``at``: alerts expired by then (``expires_ts <= at``) are not in force (as in
        :func:`is_active`) and are left out; None leaves out nothing.
        """
        ...


@dataclass(frozen=True, slots=True)
class Ending:
    """How one earlier alert changes: targets that end, targets downgraded to partial."""

    alert_id: str
    ended: frozenset[str]  # target codes that end now
    downgraded: frozenset[str] = frozenset()  # full -> partial
    entirely: bool = False  # the alert as a whole ends now


@dataclass(frozen=True, slots=True)
class Effects:
    """What accepting the alert changes, for the store to persist in the same transaction."""

    endings: tuple[Ending, ...] = ()
    touched: frozenset[str] = frozenset()  # regions of referenced alerts, to be told again
    holds_targets: bool = True  # False for announcements: their targets address delivery only

    @property
    def ended_entirely(self) -> tuple[str, ...]:
        return tuple(e.alert_id for e in self.endings if e.entirely)


@dataclass(frozen=True, slots=True)
class StateRefusal:
    code: str  # unknown_reference | foreign_reference | status_mismatch
    reason: str


@dataclass(frozen=True, slots=True)
class _Pending:
    endings: list[Ending] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    seen: set[str] = field(default_factory=set)


StateRules = Callable[[Incoming, LedgerView], "Effects | StateRefusal"]
"""The state rules as a store applies them: what an incoming alert ends, or a refusal."""


def state_rules(ancestors: Callable[[str], Sequence[str]]) -> StateRules:
    """:func:`effects` bound to a region hierarchy (what a store is given)."""

    def rules(alert: Incoming, view: LedgerView) -> Effects | StateRefusal:
        return effects(alert, view, ancestors)

    return rules


def is_active(*, status: str, msg_type: str, kinds: Collection[str], ended: bool,
              expires_ts: float | None, has_targets: bool, now: float) -> bool:
    """Whether an alert is in force at ``now`` — the one definition every surface uses.

    In force: an Actual Alert or Update, not ended, not expired, not itself an all-clear,
    still targeting somewhere — except a denial, which is about a message, not a place, and
    is in force without any target.
    """
    if status != "Actual" or msg_type not in ("Alert", "Update"):
        return False
    if ended or "all-clear" in kinds:
        return False
    if expires_ts is not None and expires_ts <= now:
        return False
    return has_targets or kind_class(frozenset(kinds)) is KindClass.DENIAL


def is_announcement(msg_type: str, kinds: Collection[str]) -> bool:
    """All-clears, cancels, acks and errors end or answer others; they threaten nothing."""
    return msg_type in ANNOUNCEMENT_TYPES or "all-clear" in kinds


def effects(alert: Incoming, view: LedgerView,
            ancestors: Callable[[str], Sequence[str]]) -> Effects | StateRefusal:
    """Decide what ``alert`` ends; refuse a reference the rules do not allow.

    ``ancestors(code)`` lists the regions above ``code`` (nearest first or any order).
    """
    pending = _Pending()
    if alert.msg_type in ("Update", "Cancel"):
        for sender, identifier in alert.references:
            ref = view.by_reference(sender, identifier)
            if ref is None:
                return StateRefusal("unknown_reference",
                                    f"references an alert this hub never accepted: {sender},{identifier}")
            if ref.issuer_id != alert.issuer_id:
                return StateRefusal("foreign_reference",
                                    f"references alert {ref.id} of issuer {ref.issuer_id}; "
                                    "an issuer may update or cancel only its own alerts")
            if ref.status != alert.status:
                return StateRefusal("status_mismatch",
                                    f"a {alert.status} {alert.msg_type} cannot end {ref.status} alert "
                                    f"{ref.id}; tests and exercises never touch real alerts")
            pending.touched.update(ref.reached or ref.targets)
            if not ref.ended and ref.id not in pending.seen:
                pending.seen.add(ref.id)
                pending.endings.append(Ending(ref.id, frozenset(ref.targets), entirely=True))
    if "all-clear" in alert.kinds and alert.msg_type != "Cancel":
        full = {code for code, cov in alert.targets.items() if cov == "full"}
        if full:
            for prior in view.in_force(alert.issuer_id, alert.status, full, at=alert.received_ts):
                if prior.ended or prior.id in pending.seen or prior.id == alert.id:
                    continue
                ending = apply_ending(prior.id, prior.targets, full, ancestors)
                if ending is not None:
                    pending.seen.add(prior.id)
                    pending.endings.append(ending)
    return Effects(
        endings=tuple(pending.endings),
        touched=frozenset(pending.touched),
        holds_targets=not is_announcement(alert.msg_type, alert.kinds),
    )


def apply_ending(alert_id: str, targets: Mapping[str, Coverage], cleared: Collection[str],
                 ancestors: Callable[[str], Sequence[str]]) -> Ending | None:
    """How an alert with ``targets`` in force changes when ``cleared`` regions are cleared.

    The alert's *leaves* are its targets with no other target below them (hromadas, for
    Ukraine's data); the others only summarise the leaves under them. ``cleared`` (the codes an
    all-clear covers fully) ends the leaves it names, whatever their coverage. Then a summary
    region stays only above a leaf still in force, and stays ``full`` only if it was and no
    leaf below it ended; with no leaf left the alert ends entirely. Returns None when nothing
    changes.
    """
    above = {code: set(ancestors(code)) for code in targets}
    summaries = {a for ups in above.values() for a in ups if a in targets}
    leaves = [code for code in targets if code not in summaries]
    cleared_set = set(cleared)
    ended = {code for code in leaves if code in cleared_set}
    if not ended:
        return None
    remaining = [code for code in leaves if code not in ended]
    if not remaining:
        return Ending(alert_id, frozenset(targets), entirely=True)
    still_above = {a for code in remaining for a in above[code]}
    above_ended = {a for code in ended for a in above[code]}
    downgraded: set[str] = set()
    for code in summaries:
        if code not in still_above:
            ended.add(code)
        elif targets[code] == "full" and code in above_ended:
            downgraded.add(code)
    return Ending(alert_id, frozenset(ended), frozenset(downgraded))


def targets_after(targets: Mapping[str, Coverage], ending: Ending) -> dict[str, Coverage]:
    """The targets still in force after ``ending`` (what a store keeps)."""
    if ending.entirely:
        return {}
    return {code: ("partial" if code in ending.downgraded else cov)
            for code, cov in targets.items() if code not in ending.ended}
