"""A followed Tocsin hub's alert, verified exactly as if it were issued here.

:func:`verify_hub_alert` is pure (bytes in, verdict out). In this order, the first failure
refusing the alert with the code ``POST /api/v1/alerts`` would give, or ``not_logged``:

1. the statement and the CAP bytes, against *that hub's* registry, itself verified against
   the registry root configured for it: :func:`tocsin.trust.verify.verify_alert`, which
   applies :func:`tocsin.ledger.authorise` — registry-bound sender, kinds, cost budget,
   jurisdiction by effect — the same function this hub, ``tocsin verify`` and the monitor
   apply (``forged``, ``altered``, ``unauthorised``, ``sender_not_allowed``, ...);
   keys revoked by now are refused (the follower judges what it sees now, as the hub does);
2. the alert id in the feed names these exact bytes (``altered`` otherwise);
3. the C2SP tlog-proof bundle shows the alert's log entry in that hub's log, under a
   checkpoint signed by the configured log key for its origin, cosigned by the configured
   witness quorum if a policy is given (``not_logged``) — an alert that hub never logged
   (a captured signed message replayed, a statement lifted from elsewhere) is refused here;
4. freshness, the monitor's back-dating rule: if this follower verified, at time ``T``, a
   checkpoint of that log that did not yet hold the entry, the alert was logged after
   ``T``, so its ``sent`` may not be earlier than ``T - max_sent_age - CLOCK_SKEW_SECS``
   (``stale_alert``) — a hub accepting an old alert (a replay) is caught. The caller gives
   the *last* checkpoint it saw without the entry (:meth:`RelayStore.seen_without`), so a
   feed listing the entry late does not move ``T`` past it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from tocsin.cap.model import Alert, parse_cap_time
from tocsin.follow.config import FollowedFeed
from tocsin.issue import alert_id_for
from tocsin.regions import RegionSet
from tocsin.tlog.entry import EntryError, alert_entry
from tocsin.tlog.proof import (
    PolicyError,
    ProofBundleError,
    ProofVerificationError,
    verify_proof_bundle,
)
from tocsin.trust.registry import Registry
from tocsin.trust.verify import VerifyInputError, verify_alert

CLOCK_SKEW_SECS = 300.0


@dataclass(frozen=True, slots=True)
class Refused:
    """Why the alert is refused; ``code`` is in the API error catalogue."""

    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Pending:
    """Not decided yet: the alert is in the log under its key, but the checkpoint served with
    it lacks the witness quorum (a hub never stops for a witness that is down). Tried again
    until a checkpoint with the quorum covers it; never a final refusal."""

    reason: str


@dataclass(frozen=True, slots=True)
class HubVerified:
    """A followed hub's alert that verified end to end."""

    alert: Alert
    issuer_id: str
    reason: str
    index: int
    checkpoint_size: int
    cosignatures: int


@dataclass(frozen=True, slots=True)
class Seen:
    """A checkpoint of the followed log this follower verified, and when (for freshness)."""

    size: int
    at: float


def verify_hub_alert(
    alert_id: str, cap: bytes, statement: bytes, proof: bytes, *, feed: FollowedFeed,
    registry: Registry, regions: RegionSet, now: float, seen: Seen | None, max_sent_age_secs: float,
) -> HubVerified | Refused | Pending:
    """Verify one alert of the followed hub ``feed`` (steps above)."""
    assert feed.log_key is not None and feed.origin is not None  # kind "tocsin" (config checks)
    try:
        verdict = verify_alert(cap, statement, registry, regions=regions,
                               at=datetime.fromtimestamp(now, UTC))
    except VerifyInputError as exc:
        return Refused("bad_statement", str(exc))
    if not verdict.authentic or verdict.alert is None:
        return Refused(verdict.code or verdict.status, verdict.reason)
    if not hmac.compare_digest(alert_id_for(cap), alert_id):
        return Refused("altered", f"the feed names alert {alert_id[:40]!r}, but the bytes served "
                       f"are alert {alert_id_for(cap)}")
    try:
        proven = verify_proof_bundle(proof, origin=feed.origin, entry=alert_entry(statement, cap),
                                     log_verifier=feed.log_key, policy=feed.witness_policy)
    except (ProofBundleError, ProofVerificationError, PolicyError, EntryError) as exc:
        if feed.witness_policy is not None and isinstance(exc, ProofVerificationError):
            try:  # in the log under its key, short of the quorum only: wait for the witnesses
                verify_proof_bundle(proof, origin=feed.origin, entry=alert_entry(statement, cap),
                                    log_verifier=feed.log_key)
            except (ProofBundleError, ProofVerificationError, PolicyError, EntryError):
                pass
            else:
                return Pending(f"the checkpoint covering it lacks the witness quorum: {exc}")
        return Refused("not_logged", f"the proof does not show the alert in {feed.origin}: {exc}")
    alert = verdict.alert
    if seen is not None and proven.index >= seen.size:
        floor = seen.at - max_sent_age_secs - CLOCK_SKEW_SECS
        sent = parse_cap_time(alert.sent).timestamp()  # verify_alert parsed it already
        if sent < floor:
            return Refused("stale_alert", f"sent {alert.sent} is more than "
                           f"{max_sent_age_secs + CLOCK_SKEW_SECS:.0f} s before {feed.origin} logged it "
                           f"(entry {proven.index} was not in the log of size {seen.size} seen at "
                           f"{datetime.fromtimestamp(seen.at, UTC).isoformat(timespec='seconds')}): "
                           "a replayed alert")
    return HubVerified(alert, verdict.issuer_id or "", verdict.reason, proven.index,
                       proven.checkpoint.size, len(proven.cosignatures))
