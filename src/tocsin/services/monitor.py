"""A log monitor: follows a hub's log, re-verifies every entry, and catches a lying log.

Each :meth:`Monitor.poll`:

1. fetches ``/checkpoint`` and opens it with the pinned log key and origin
   (and, given a :class:`~tocsin.tlog.proof.WitnessPolicy`, requires its
   quorum of witness cosignatures: otherwise *unwitnessed*);
2. compares it with the last checkpoint it stored: a smaller size is a
   *rollback*, the same size with another root is *equivocation* (a split
   view), otherwise a consistency proof is computed from tiles verified
   against the new root and must lead to the stored root (else the log
   *rewrote* history: an entry altered, deleted or reordered);
3. fetches the new entries and checks each leaf hash against the verified
   tiles, then checks each entry (below, "the rules");
4. only if everything holds, stores the new checkpoint, the time it was first
   seen, the registry and the (sender, identifier) set, in one transaction.

The rules for a new entry at index ``i``:

* a registry entry must be signed by the pinned registry root (``--registry``
  file's root, else the root named by the first registry entry in the log)
  and raise the version (or repeat the current version byte for byte in
  meaning); it becomes the registry for all later entries;
* an alert must be ``authentic`` under :func:`tocsin.trust.verify.verify_alert`
  with the registry current at that point of the log — which applies the
  ledger's rules (:func:`tocsin.ledger.authorise`: registry-bound sender,
  kinds, cost budget, jurisdiction by effect), the very function the hub
  applies, so a hub that skipped a rule is caught here; a detached entry's CAP
  is fetched from the hub and must hash to what the statement signed (a hub
  that withholds it is reported); a key that registry
  marks revoked is refused outright (revocation is ordered by the log, so a
  back-dated ``sent`` cannot get round it);
* no two alerts share (sender, identifier);
* every ``references`` triple must name an alert earlier in the log;
* back-dating: ``sent`` may not be earlier than the last time this monitor
  verified a checkpoint that did not hold the alert, minus
  :data:`CLOCK_SKEW_SECS` (which also absorbs a checkpoint served a little
  stale by a cache), nor later than now plus the same skew. Checkpoints carry
  no time, so the bound comes from the monitor's own observations; on the
  very first poll there is no lower bound.

Any failure raises :class:`MisbehaviourError` carrying portable evidence
(:attr:`MisbehaviourError.evidence`, JSON-ready): the signed checkpoints
involved and the proof that shows the problem, so a third party holding the
log key can check it without trusting this monitor.
"""

from __future__ import annotations

import base64
import re
import sqlite3
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tocsin.cap.model import parse_cap_time
from tocsin.kinds import alert_kinds
from tocsin.ledger.effects import Incoming, LedgerView, Prior, StateRefusal, effects
from tocsin.ledger.limits import MAX_ALERT_BYTES
from tocsin.regions import RegionSet
from tocsin.services.log_client import LogClient, LogNotFoundError
from tocsin.tlog.checkpoint import Checkpoint, CheckpointError, open_checkpoint
from tocsin.tlog.entry import TYPE_REGISTRY, EntryError, alert_entry, decode_entry
from tocsin.tlog.proof import ProofVerificationError, WitnessPolicy
from tocsin.tlog.tiles import TileError
from tocsin.tlog.tree import (
    ProofError,
    TlogError,
    TreeError,
    consistency_roots,
    leaf_hash,
    prove_consistency,
    prove_inclusion,
    subtree_hash,
    verify_consistency,
    verify_inclusion,
)
from tocsin.trust.note import KeyFormatError, Verifier
from tocsin.trust.registry import Registry, RegistryError, load_registry
from tocsin.trust.verify import VerifyInputError, verify_alert

__all__ = [
    "CLOCK_SKEW_SECS",
    "EVIDENCE_FORMAT",
    "EvidenceError",
    "MisbehaviourError",
    "Monitor",
    "MonitorConfigError",
    "PollResult",
    "confirm_evidence",
]

_STATEMENT_SHA256 = re.compile(rb"^sha256 ([0-9a-f]{64})$", re.MULTILINE)

CLOCK_SKEW_SECS = 300
"""Allowed disagreement between an issuer's clock and the monitor's, in seconds."""
EVIDENCE_FORMAT = "tocsin/log-evidence/v1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS seen (
    sender TEXT NOT NULL, identifier TEXT NOT NULL, leaf INTEGER NOT NULL,
    issuer_id TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (sender, identifier)
);
"""


class _SeenView(LedgerView):
    """The rulebook's view of what the monitor has seen in the log (for the reference rules).

    The monitor judges refusals, not trimming: :meth:`in_force` answers nothing, so an
    all-clear is never refused here (it never is by the hub either). A row seen before the
    monitor kept issuers and statuses (empty columns) cannot be judged on them: it is taken
    to agree with the alert that refers to it.
    """

    def __init__(self, db: sqlite3.Connection, issuer_id: str, status: str) -> None:
        self._db = db
        self._unknown_as = (issuer_id, status)

    def by_reference(self, sender: str, identifier: str) -> Prior | None:
        row = self._db.execute("SELECT leaf, issuer_id, status FROM seen WHERE sender = ? "
                               "AND identifier = ?", (sender, identifier)).fetchone()
        if row is None:
            return None
        issuer_id, status = (str(row[1]), str(row[2])) if row[1] else self._unknown_as
        return Prior(f"leaf {row[0]}", issuer_id, status, False, {})

    def in_force(self, issuer_id: str, status: str, codes: Collection[str],
                 at: float | None = None) -> Sequence[Prior]:
        return ()


class MonitorConfigError(TlogError):
    """The monitor cannot start: no log key, a key or origin differing from the pinned one, bad state."""


class MisbehaviourError(TlogError):
    """The log misbehaved (or served something unverifiable); ``evidence`` says what and proves it."""

    def __init__(self, kind: str, reason: str, evidence: dict[str, Any]) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason
        self.evidence = evidence


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one successful poll verified."""

    old_size: int
    size: int
    root_hash: bytes
    alerts: int
    registries: int


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class Monitor:
    """Follows one log; state lives in ``state_dir/monitor.sqlite`` (created if missing)."""

    def __init__(
        self,
        client: LogClient,
        state_dir: Path | str,
        *,
        log_verifier: Verifier | None = None,
        origin: str | None = None,
        registry: bytes | None = None,
        regions: RegionSet | None = None,
        policy: WitnessPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._policy = policy
        self._clock = clock
        self._regions = regions
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(directory / "monitor.sqlite"), isolation_level=None)
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(seen)")}
            for column in ("issuer_id", "status"):  # state written before the rule columns
                if column not in columns:
                    self._db.execute(f"ALTER TABLE seen ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
            self._log = self._pin_log(log_verifier, origin)
        except (sqlite3.Error, KeyFormatError, UnicodeDecodeError) as exc:
            raise MonitorConfigError(f"monitor state in {directory} is unusable: {exc}") from None
        self._origin = self._meta_text("origin")
        self._registry_root: Verifier | None = None
        self._registry: Registry | None = None
        self._registry_bytes = b""
        stored = self._meta("registry")
        try:
            if stored is not None:
                self._registry = load_registry(stored)
                self._registry_root, self._registry_bytes = self._registry.root, stored
            if registry is not None:
                given = load_registry(registry)
                if self._registry_root is not None and given.root != self._registry_root:
                    raise MonitorConfigError("the --registry root differs from the root pinned in the state")
                self._registry_root = given.root
                if self._registry is None or given.version > self._registry.version:
                    self._registry, self._registry_bytes = given, registry
        except RegistryError as exc:
            raise MonitorConfigError(f"registry: {exc}") from None

    def close(self) -> None:
        self._db.close()

    # ----------------------------------------------------------------- state

    def _meta(self, key: str) -> bytes | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def _meta_text(self, key: str) -> str:
        value = self._meta(key)
        if value is None:
            raise MonitorConfigError(f"state has no {key}")
        return value.decode()

    def _set(self, key: str, value: bytes | str) -> None:
        data = value.encode() if isinstance(value, str) else value
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, data))

    def _pin_log(self, given: Verifier | None, origin: str | None) -> Verifier:
        stored = self._meta("log_key")
        if stored is None:
            if given is None:
                raise MonitorConfigError("no log key: give the log's vkey on the first run (--log-key)")
            self._set("log_key", given.vkey)
            self._set("origin", origin or given.name)
            return given
        pinned = Verifier.from_vkey(stored.decode())
        if given is not None and given != pinned:
            raise MonitorConfigError(f"log key {given.vkey} differs from the pinned {pinned.vkey}")
        pinned_origin = self._meta_text("origin")
        if origin is not None and origin != pinned_origin:
            raise MonitorConfigError(f"origin {origin!r} differs from the pinned {pinned_origin!r}")
        return pinned

    @property
    def size(self) -> int:
        """Size of the last verified checkpoint (0 before the first poll)."""
        value = self._meta("size")
        return int(value) if value is not None else 0

    @property
    def checkpoint(self) -> bytes | None:
        """The last verified signed checkpoint."""
        return self._meta("checkpoint")

    # ----------------------------------------------------------------- polling

    def poll(self) -> PollResult:
        """Fetch, verify and store the log's current checkpoint and every new entry.

        Raises :class:`MisbehaviourError` (with evidence) on any inconsistency,
        :class:`~tocsin.services.log_client.LogClientError` if the log cannot be read.
        """
        new_bytes = self._client.checkpoint()
        old_bytes = self.checkpoint
        evidence: dict[str, Any] = {
            "format": EVIDENCE_FORMAT, "origin": self._origin, "log_key": self._log.vkey,
            "old_checkpoint": old_bytes.decode() if old_bytes else None,
            "new_checkpoint": new_bytes.decode("utf-8", "replace"),
        }

        def fail(kind: str, reason: str, **extra: Any) -> MisbehaviourError:
            return MisbehaviourError(kind, reason, {"kind": kind, "reason": reason, **evidence, **extra})

        try:
            new, note = open_checkpoint(new_bytes, self._log, self._origin)
        except CheckpointError as exc:
            raise fail("bad-checkpoint", str(exc)) from None
        if self._policy is not None:
            try:
                self._policy.check(note)
            except ProofVerificationError as exc:
                raise fail("unwitnessed", str(exc)) from None
        old = self._old_checkpoint()
        if old is not None and new.size < old.size:
            raise fail("rollback", f"log shrank from size {old.size} to {new.size}")
        if old is not None and new.size == old.size and new.root_hash != old.root_hash:
            raise fail("equivocation", f"two different roots signed for tree size {new.size}")
        try:
            reader = self._client.hash_reader(new.size, new.root_hash)
        except TileError as exc:  # only an empty tree is judged up front: its root is fixed
            raise fail("bad-checkpoint", str(exc)) from None
        if old is not None and old.size not in (0, new.size):
            try:
                proof = prove_consistency(new.size, old.size, reader)
                prefix = subtree_hash(0, old.size, reader)  # the new tree's own view of the old size
            except (TileError, TreeError) as exc:
                raise fail("bad-tiles", f"tiles do not match the new checkpoint: {exc}") from None
            try:
                verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)
            except ProofError as exc:
                raise fail("inconsistent", f"new checkpoint does not extend the stored one: {exc}",
                           consistency_proof=[_b64(h) for h in proof], prefix_hash=_b64(prefix)) from None
        start = old.size if old is not None else 0
        try:
            entries = self._client.entries(reader, start, new.size)
        except (TileError, TreeError) as exc:
            raise fail("bad-entries", f"entries do not match the checkpoint's tiles: {exc}") from None
        previous_seen = self._meta("seen_at")
        lower = (datetime.fromtimestamp(int(previous_seen), UTC) - timedelta(seconds=CLOCK_SKEW_SECS)
                 if previous_seen is not None and old is not None and old.size < new.size else None)
        now = self._clock()
        saved = (self._registry, self._registry_root, self._registry_bytes)
        self._db.execute("BEGIN IMMEDIATE")
        try:
            alerts = registries = 0
            for offset, entry in enumerate(entries):
                index = start + offset
                problem = self._check_entry(index, entry, lower, now)
                if problem is not None:
                    raise fail("bad-entry", problem, leaf_index=index, entry=_b64(entry),
                               inclusion_proof=[_b64(h) for h in prove_inclusion(new.size, index, reader)])
                if entry[1] == TYPE_REGISTRY:
                    registries += 1
                else:
                    alerts += 1
            self._set("checkpoint", new_bytes)
            self._set("size", str(new.size))
            self._set("seen_at", str(int(now.timestamp())))  # the log had exactly these entries then
            if self._registry is not None:
                self._set("registry", self._registry_bytes)
        except BaseException:
            self._db.execute("ROLLBACK")
            self._registry, self._registry_root, self._registry_bytes = saved  # uncommitted entries
            raise
        self._db.execute("COMMIT")
        return PollResult(start, new.size, new.root_hash, alerts, registries)

    def _old_checkpoint(self) -> Checkpoint | None:
        stored = self.checkpoint
        if stored is None:
            return None
        try:
            return open_checkpoint(stored, self._log, self._origin)[0]
        except CheckpointError as exc:
            raise MonitorConfigError(f"stored checkpoint no longer verifies: {exc}") from None

    # ----------------------------------------------------------------- entry rules

    def _check_entry(self, index: int, data: bytes, lower: datetime | None, now: datetime) -> str | None:
        """Apply the rules (module docstring) to one entry; return what is wrong, or None."""
        try:
            entry = decode_entry(data)
        except EntryError as exc:
            return f"entry {index} is malformed: {exc}"
        if entry.type == "registry":
            try:
                registry = load_registry(entry.registry, root=self._registry_root)
            except RegistryError as exc:
                return f"registry entry {index} is not signed by the pinned registry root: {exc}"
            current = self._registry
            if current is not None and (registry.version < current.version or (
                    registry.version == current.version and registry.document() != current.document())):
                return (f"registry entry {index} (version {registry.version}) neither raises nor "
                        f"repeats the current version {current.version}")
            self._registry, self._registry_root = registry, registry.root
            self._registry_bytes = entry.registry
            return None
        if self._registry is None:
            return f"alert entry {index} comes before any issuer registry"
        cap = entry.cap
        if entry.detached:
            found = _STATEMENT_SHA256.search(entry.statement)
            if found is None:
                return f"detached alert entry {index} names no sha256 of its CAP"
            alert_id = found.group(1).decode()[:32]
            try:
                cap = self._client.get(f"api/v1/alerts/{alert_id}/cap", MAX_ALERT_BYTES)
            except LogNotFoundError:
                return (f"detached alert entry {index} commits to CAP {alert_id}, which the "
                        "hub does not serve: the logged alert cannot be checked")
            if alert_entry(entry.statement, cap) != data:
                return (f"detached alert entry {index} is not the canonical entry for its "
                        "statement and CAP (it would fit inline, or the CAP differs)")
        try:
            verdict = verify_alert(cap, entry.statement, self._registry,
                                   regions=self._regions, at=lower)
        except VerifyInputError as exc:
            return f"alert entry {index}: {exc}"
        if not verdict.authentic or verdict.alert is None or verdict.statement is None:
            code = f" ({verdict.code})" if verdict.code and verdict.code != verdict.status else ""
            return f"alert entry {index} is {verdict.status}{code}: {verdict.reason}"
        alert, claim = verdict.alert, verdict.statement
        issuer = self._registry.issuer(claim.issuer)
        key = issuer.key(claim.key_id) if issuer is not None else None
        if key is not None and key.revoked_at is not None:
            return (f"alert entry {index} is signed with key {claim.issuer}+{claim.key_id:08x}, revoked "
                    f"by registry version {self._registry.version} earlier in the log")
        seen = self._db.execute("SELECT leaf FROM seen WHERE sender = ? AND identifier = ?",
                                (alert.sender, alert.identifier)).fetchone()
        if seen is not None:
            return (f"alert entry {index} repeats sender {alert.sender!r} identifier "
                    f"{alert.identifier!r} of entry {seen[0]}")
        # The state rules (references, status) are the hub's own: the same function, replayed.
        decision = effects(
            Incoming(id=f"leaf {index}", issuer_id=claim.issuer, msg_type=alert.msg_type,
                     status=alert.status, kinds=alert_kinds(alert), targets={},
                     references=tuple((r.sender, r.identifier) for r in alert.references)),
            _SeenView(self._db, claim.issuer, alert.status), ancestors=lambda code: ())
        if isinstance(decision, StateRefusal):
            return f"alert entry {index} breaks the rule {decision.code}: {decision.reason}"
        try:
            sent = parse_cap_time(alert.sent)
        except ValueError:  # verify_alert already refused unusable times; keep mypy and readers calm
            return f"alert entry {index} has an unusable sent time {alert.sent!r}"
        if lower is not None and sent < lower:
            return (f"alert entry {index} is back-dated: sent {alert.sent}, but a checkpoint without it "
                    f"was already seen at {(lower + timedelta(seconds=CLOCK_SKEW_SECS)).isoformat()}")
        if sent > now + timedelta(seconds=CLOCK_SKEW_SECS):
            return f"alert entry {index} is sent in the future: {alert.sent} (now {now.isoformat()})"
        self._db.execute("INSERT INTO seen (sender, identifier, leaf, issuer_id, status) "
                         "VALUES (?, ?, ?, ?, ?)",
                         (alert.sender, alert.identifier, index, claim.issuer, alert.status))
        return None



# ------------------------------------------------------------------ evidence


class EvidenceError(TlogError):
    """An evidence document does not prove what it claims (or is malformed)."""


def confirm_evidence(evidence: dict[str, Any], log_verifier: Verifier) -> str:
    """Check a monitor's evidence offline; return what it proves, or raise :class:`EvidenceError`.

    * ``equivocation``: two checkpoints, both signed by the log, same size, different roots.
    * ``inconsistent``: the proof hashes fold to the *new* signed root, and the
      same hashes put a different root at the old size than the old signed
      checkpoint: the log signed two trees that cannot both be true.
    * ``rollback``: the log signed both; the newer-seen one is smaller (a stale
      view, which a cache can also cause: proven, but weaker).
    * ``bad-entry``: the log's signed tree holds exactly this entry at this
      index; why the entry is bad is the monitor's ``reason``, to be re-checked
      against the registry by whoever receives it.
    """
    try:
        kind, origin = str(evidence["kind"]), str(evidence["origin"])
        new, _ = open_checkpoint(str(evidence["new_checkpoint"]).encode(), log_verifier, origin)
        old = None
        if evidence.get("old_checkpoint"):
            old, _ = open_checkpoint(str(evidence["old_checkpoint"]).encode(), log_verifier, origin)
        if kind == "equivocation" and old is not None:
            if old.size == new.size and old.root_hash != new.root_hash:
                return f"the log signed two different roots for tree size {new.size}"
        elif kind == "rollback" and old is not None:
            if new.size < old.size:
                return f"the log served size {new.size} after signing size {old.size}"
        elif kind == "inconsistent" and old is not None and 0 < old.size < new.size:
            proof = [base64.b64decode(h, validate=True) for h in evidence["consistency_proof"]]
            seed = base64.b64decode(str(evidence["prefix_hash"]), validate=True)
            fr, sr = consistency_roots(old.size, new.size, proof, seed)
            if sr == new.root_hash and fr != old.root_hash:
                return (f"the log's tree of size {new.size} does not contain its own tree of size "
                        f"{old.size}: history was rewritten")
        elif kind == "bad-entry":
            index, entry = int(evidence["leaf_index"]), base64.b64decode(evidence["entry"], validate=True)
            proof = [base64.b64decode(h, validate=True) for h in evidence["inclusion_proof"]]
            verify_inclusion(index, new.size, leaf_hash(entry), proof, new.root_hash)
            return f"the log holds this entry at index {index}: {evidence.get('reason', '')}"
    except (KeyError, TypeError, ValueError, CheckpointError, ProofError) as exc:
        raise EvidenceError(f"evidence is malformed or does not verify: {exc}") from None
    raise EvidenceError(f"evidence of kind {evidence.get('kind')!r} does not prove misbehaviour")
