"""The offline verifier: given CAP bytes, the issuer's signed statement and a registry,
say whether the alert is ``authentic``, ``altered``, ``forged`` or ``unauthorised``.

The order is the security argument: nothing is read from the statement until
its signature verifies against a registry key; nothing is read from the CAP
until its exact bytes hash to what the statement says. Only then are the
alert's own claims (sender, kind, areas and what they reach) held against the
issuer's registry entry by the ledger's rules (:func:`tocsin.ledger.authorise`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from tocsin.cap.errors import CapError
from tocsin.cap.model import Alert, parse_cap_time
from tocsin.cap.parse import parse_alert
from tocsin.ledger.rules import Decision, Refusal, authorise
from tocsin.regions import RegionSet, default_region_set
from tocsin.trust.note import (
    AmbiguousKeyError,
    InvalidSignatureError,
    MalformedNoteError,
    NoteError,
    UnverifiedNoteError,
    open_note,
)
from tocsin.trust.registry import Registry, format_time
from tocsin.trust.statement import Statement, StatementError, parse_statement

Status = Literal["authentic", "altered", "forged", "unauthorised"]
MAX_STATEMENT_BYTES = 64 * 1024  # a statement is a few hundred bytes plus signatures


class VerifyInputError(ValueError):
    """The signature file is not a usable signed statement (truncated, bad base64, ...)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome, why, and what was learnt on the way (None where not reached)."""

    status: Status
    reason: str
    issuer_id: str | None = None
    key_id: int | None = None
    alert: Alert | None = None
    statement: Statement | None = None
    #: For ``unauthorised``: the catalogued refusal code (``sender_not_allowed``,
    #: ``alert_too_complex``, ``invalid_cap``, else ``unauthorised``).
    code: str | None = None
    #: For ``authentic``: the ledger's decision (kinds, every region reached).
    decision: Decision | None = None

    @property
    def authentic(self) -> bool:
        return self.status == "authentic"


def signed_by_registry(cap_bytes: bytes, statement: bytes, registry: Registry) -> bool:
    """Whether ``statement`` is signed by a registry key and names exactly ``cap_bytes``.

    Cheap (one Ed25519 verification and one SHA-256, no CAP parsing): the hub uses it to tell
    an issuer's alert from the flood of another client behind the same address, never to
    accept one. Requiring the CAP's hash means a statement copied from the public log cannot
    carry other bytes past the limit.
    """
    try:
        note = open_note(statement, registry.verifiers(), max_bytes=MAX_STATEMENT_BYTES)
        claim = parse_statement(note.text)
    except (NoteError, StatementError):
        return False
    return hmac.compare_digest(hashlib.sha256(cap_bytes).hexdigest(), claim.sha256)


def verify_alert(
    cap_bytes: bytes,
    statement: bytes,
    registry: Registry,
    *,
    regions: RegionSet | None = None,
    at: datetime | None = None,
    with_targets: bool = False,
) -> Verdict:
    """Verify one alert offline.

    Key validity is judged at the alert's ``sent`` time; ``at`` (for example
    the time the log accepted the alert) additionally refuses a key revoked by
    then, because a stolen key can backdate ``sent``. Without ``regions`` the
    default region set is used. Authorisation is :func:`tocsin.ledger.authorise`,
    the same function the hub and the monitor apply; ``with_targets`` also returns
    every region the alert reaches in ``Verdict.decision`` (the hub stores them).
    Raises :class:`VerifyInputError`
    when the statement is not even a well-formed signed note.
    """
    try:
        note = open_note(statement, registry.verifiers(), max_bytes=MAX_STATEMENT_BYTES)
    except MalformedNoteError as exc:
        raise VerifyInputError(f"signature is not a valid signed note: {exc}") from None
    except UnverifiedNoteError as exc:
        names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in exc.note.unverified_sigs)
        return Verdict("forged", f"signed only by key(s) not in the registry: {names}")
    except InvalidSignatureError as exc:
        return Verdict("forged", f"bad signature by registry key {exc.name}+{exc.key_id:08x}",
                       issuer_id=exc.name, key_id=exc.key_id)
    except AmbiguousKeyError as exc:
        return Verdict("forged", f"registry key is ambiguous: {exc}")

    try:
        claim = parse_statement(note.text)
    except StatementError as exc:
        raise VerifyInputError(f"signed text is not an alert statement: {exc}") from None
    signers = {(s.name, s.key_id) for s in note.verified_sigs}
    if (claim.issuer, claim.key_id) not in signers:
        return Verdict(
            "forged",
            f"statement claims key {claim.issuer}+{claim.key_id:08x} but was signed by "
            + ", ".join(f"{n}+{k:08x}" for n, k in sorted(signers)),
            statement=claim,
        )
    issuer = registry.issuer(claim.issuer)
    key = issuer.key(claim.key_id) if issuer is not None else None
    if issuer is None or key is None:  # impossible: the key verified from this registry
        return Verdict("forged", "signing key is not in the registry", statement=claim)

    def verdict(status: Status, reason: str, alert: Alert | None = None) -> Verdict:
        return Verdict(status, reason, issuer.id, key.key_id, alert, claim)

    digest = hashlib.sha256(cap_bytes).hexdigest()
    if not hmac.compare_digest(digest, claim.sha256):
        return verdict("altered", f"SHA-256 of the CAP bytes is {digest}, the statement "
                       f"signed {claim.sha256}")
    try:
        alert = parse_alert(cap_bytes, strict=False).alert
    except CapError as exc:
        return verdict("unauthorised", f"the signed document is not a valid CAP alert: {exc}")
    for name in ("identifier", "sender", "sent"):
        if getattr(alert, name) != getattr(claim, name):
            return verdict("altered", f"statement {name} {getattr(claim, name)!r} differs "
                           f"from the CAP's {getattr(alert, name)!r}", alert)

    try:
        sent = parse_cap_time(alert.sent)
    except ValueError as exc:
        return verdict("unauthorised", f"sent time is unusable: {exc}", alert)
    reason = key.invalid_reason(sent)
    if reason is not None:
        return verdict("unauthorised", f"{reason}; the alert was sent {alert.sent}", alert)
    if at is not None and key.revoked_at is not None and at >= key.revoked_at:
        return verdict("unauthorised", f"key was revoked at {format_time(key.revoked_at)}, "
                       f"before the alert was seen at {format_time(at)}", alert)

    decision = authorise(alert, issuer, regions or default_region_set(),
                         with_targets=with_targets)
    if isinstance(decision, Refusal):
        return Verdict("unauthorised", decision.reason, issuer.id, key.key_id, alert, claim,
                       code=decision.code)
    return Verdict("authentic", f"signed by {issuer.id} ({issuer.name_en}) with key "
                   f"{key.key_id:08x}; {decision.summary}", issuer.id, key.key_id, alert, claim,
                   decision=decision)
