"""The acceptance rules for one authenticated alert: may this issuer send it, and where does it reach?

:func:`authorise` is the one function the hub (``tocsin.issue``), the offline
verifier (``tocsin verify``, through :func:`tocsin.trust.verify.verify_alert`)
and the log monitor (``tocsin monitor``) apply, so an alert a misbehaving hub
accepted is refused by anyone, offline, for the same reason. It runs after the
signature, the exact bytes and the key window have been checked, and in this
order, cheapest first:

1. **sender** — the registry binds CAP senders to issuers
   (:meth:`tocsin.trust.registry.Issuer.may_send_as`) → ``sender_not_allowed``;
2. **notices without info** — a bare Cancel/Ack/Error may only reference the
   sender's own alerts → ``unauthorised``; an Update or Cancel may only reference
   senders the registry binds to the issuer → ``foreign_reference``;
3. **kinds** — at least one declared, all allowed for the issuer → ``unauthorised``;
4. **cost budget** (:func:`tocsin.ledger.limits.cost_refusal`), before any
   geometry → ``alert_too_complex``;
5. **reach** (:func:`tocsin.ledger.reach.judge_reach`): jurisdiction by
   effect, geocodes and shapes alike → ``unauthorised`` (or ``invalid_cap``
   for an area that cannot be resolved).

Pure: no I/O; the region set is data handed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.cap.model import Alert
from tocsin.kinds import alert_kinds
from tocsin.ledger.limits import cost_refusal
from tocsin.ledger.reach import ReachRefusal, judge_reach
from tocsin.regions import RegionSet
from tocsin.regions.targeting import Coverage
from tocsin.trust.registry import Issuer


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the alert may not be accepted; ``code`` is in the API error catalogue."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """An authorised alert: its kinds and every region it reaches (empty for a bare notice
    or an area-less denial)."""

    kinds: frozenset[str]
    targets: dict[str, Coverage] = field(default_factory=dict)
    summary: str = ""
    #: False if a shape meets a unit outside the jurisdiction (see ``Reach.shapes_inside``):
    #: points are then matched by ``targets``, not by the shapes.
    shapes_inside: bool = True


def authorise(alert: Alert, issuer: Issuer, regions: RegionSet, *,
              with_targets: bool = True) -> Decision | Refusal:
    """Apply the rules above to an authenticated ``alert`` of ``issuer``.

    ``with_targets=False`` gives the same verdict without computing every region reached
    (``Decision.targets`` is then empty): what an offline verifier or a monitor needs.
    """
    if not issuer.may_send_as(alert.sender):
        return Refusal("sender_not_allowed", f"issuer {issuer.id!r} may not use the CAP sender "
                       f"{alert.sender!r}; the registry binds it to: {issuer.sender_rule()}")
    kinds = alert_kinds(alert)
    if not alert.info and alert.msg_type in ("Cancel", "Ack", "Error"):
        # A bare notice targets no area and declares no kind; it may only refer to the
        # sender's own alerts (the hub checks the referenced alerts exist and are its).
        foreign = [r.text() for r in alert.references if r.sender != alert.sender]
        if not alert.references or foreign:
            return Refusal("unauthorised", f"a {alert.msg_type} without info must reference "
                           "only the sender's own alerts"
                           + (f" (not {foreign[0]})" if foreign else ""))
        return Decision(kinds, {}, f"{alert.msg_type} of the sender's own alert(s)")
    if alert.msg_type in ("Update", "Cancel"):
        # An issuer updates or cancels only its own alerts; the registry says whose a sender
        # is, so this holds offline too (the hub also checks the referenced alert's issuer).
        foreign = [r.text() for r in alert.references if not issuer.may_send_as(r.sender)]
        if foreign:
            return Refusal("foreign_reference", f"issuer {issuer.id!r} may not {alert.msg_type.lower()} "
                           f"{foreign[0]!r}: its sender is not one the registry binds to this issuer")
    if not kinds:
        return Refusal("unauthorised",
                       "the alert declares no warning kind (eventCode valueName TOCSIN)")
    forbidden = sorted(kinds - issuer.kinds)
    if forbidden:
        return Refusal("unauthorised",
                       f"issuer {issuer.id!r} may not send kind(s) {', '.join(forbidden)}")
    over = cost_refusal(alert)
    if over is not None:
        return Refusal(over.code, f"the alert exceeds the cost budget: {over.reason}")
    reach = judge_reach(alert, issuer, regions, with_targets=with_targets)
    if isinstance(reach, ReachRefusal):
        return Refusal(reach.code, reach.reason)
    return Decision(kinds, reach.targets, f"kinds {', '.join(sorted(kinds))}",
                    reach.shapes_inside)
