"""One polling loop per followed feed; a feed's faults are reported and never stop the loop.

Each poll of a feed:

* fetches the feed (:mod:`tocsin.follow.fetch`: SSRF rule, size cap, redirect limit) and
  reads it (:mod:`tocsin.follow.atom`: no DOCTYPE, no entities, bounded);
* for a **Tocsin hub** (``kind = "tocsin"``): fetches that hub's checkpoint (opened with the
  configured log key) and, when there is a new entry, its registry (verified against the
  configured root; an older version than one already adopted is refused), then for each
  new alert its exact CAP bytes, signed statement and proof bundle from the hub's API,
  and verifies them with :func:`tocsin.follow.verify.verify_hub_alert`;
* for a **CAP feed** (``kind = "cap"``): fetches each new entry's CAP document, reads it
  leniently (real producers' CAP 1.1 and 1.2), and if it carries an XML signature and the
  feed has certificates, verifies it (:mod:`tocsin.follow.xmldsig`); else it is relayed,
  unverified.

Accepted alerts go to :class:`~tocsin.follow.store.RelayStore` only; an alert of a Tocsin
hub that verified end to end (and only such an alert: never an unverified or XML-signed
relay) is then handed, in process, to :attr:`FollowService.on_verified` (the organisations'
rule engine, :meth:`tocsin.org.rules.RuleEngine.relayed`). A refused alert is
recorded once with its catalogued code and logged once at WARNING; a fault of the feed
itself (too large, malformed, redirect loop, entity bomb, refused address, unreachable)
is logged at WARNING with its code and counted, and the next poll comes at the interval.
An alert whose proof is not signed yet (``503``), or is short of the witness quorum, or
whose document could not be fetched, or that was refused with a registry that is not the one
the hub serves now, is tried again at the next poll: a refusal is final, so only a verdict on
what the hub really serves is one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from tocsin.cap import CapError, parse_alert
from tocsin.cap.model import Alert
from tocsin.delivery.outbound import Lookup, system_lookup
from tocsin.follow.atom import MAX_FEED_BYTES, FeedEntry, FeedError, read_feed
from tocsin.follow.config import FollowedFeed
from tocsin.follow.fetch import FetchRefused, fetch, new_client
from tocsin.follow.store import Relayed, RelayStore
from tocsin.follow.verify import HubVerified, Pending, Refused, Seen, verify_hub_alert
from tocsin.follow.xmldsig import XmlSignatureError, verify_xml_signature
from tocsin.issue import alert_id_for
from tocsin.ledger.limits import MAX_ALERT_BYTES
from tocsin.regions import RegionSet
from tocsin.tlog.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, open_checkpoint
from tocsin.tlog.proof import (
    MAX_PROOF_BUNDLE_BYTES,
    PolicyError,
    ProofBundleError,
    ProofVerificationError,
    parse_proof_bundle,
)
from tocsin.trust.registry import Registry, RegistryError, load_registry
from tocsin.trust.verify import MAX_STATEMENT_BYTES

if TYPE_CHECKING:
    from tocsin.config import Settings
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.follow")

MAX_REGISTRY_BYTES = 1 << 20
OnVerified = Callable[[str, str, Alert, int], Awaitable[None]]  # (feed name, alert id, alert, log index)
MAX_ENTRY_FAULTS = 10_000  # entry faults remembered for logging once (then forgotten, and logged again)
TOCSIN_CAP_URL = re.compile(r"/api/v1/alerts/([0-9a-f]{32})/cap$")


@dataclass(frozen=True, slots=True)
class RelayedAlert:
    """A relayed alert that verified as a followed hub's: the feed, its CAP bytes and its
    entry's index in that hub's log (what was logged before it cannot have ended it)."""

    feed: str
    cap: bytes
    index: int


class FollowMetrics:
    """Counters of the followers, in the hub's metrics registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.relayed = Counter("tocsin_follow_relayed", "Alerts taken from followed feeds",
                               ["feed", "trust"], registry=registry)
        self.refused = Counter("tocsin_follow_refused", "Alerts of followed feeds refused",
                               ["feed", "code"], registry=registry)
        self.feed_errors = Counter("tocsin_follow_feed_errors", "Polls of a followed feed that failed",
                                   ["feed", "code"], registry=registry)
        self.last_success = Gauge("tocsin_follow_last_success_timestamp_seconds",
                                  "When a followed feed was last read completely", ["feed"],
                                  registry=registry)


@dataclass
class FeedStatus:
    """What ``GET /api/v1/follows`` says about one feed."""

    polls: int = 0
    last_poll_ts: float | None = None
    last_ok_ts: float | None = None
    last_error: dict[str, Any] | None = None
    relayed: int = 0
    refused: int = 0
    pending: int = 0
    problems: list[str] = field(default_factory=list)


class FeedFollower:
    """Follows one feed (see the module docstring)."""

    def __init__(self, feed: FollowedFeed, *, store: RelayStore, regions: RegionSet,
                 allowed_hosts: frozenset[str], metrics: FollowMetrics, max_sent_age_secs: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.feed = feed
        self.store = store
        self.regions = regions
        self.allowed = allowed_hosts
        self.metrics = metrics
        self.max_sent_age_secs = max_sent_age_secs
        self.clock = clock
        #: How feed host names become addresses (a test gives a name that rebinds).
        self.lookup: Lookup = system_lookup
        self.status = FeedStatus()
        self._registry: Registry | None = None
        self._task: asyncio.Task[None] | None = None
        self._entry_faults: set[tuple[str, str]] = set()  # (entry, code) logged once
        self.on_verified: OnVerified | None = None  # set by FollowService; verified hub alerts only

    # -- loop --------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"follow:{self.feed.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        async with new_client() as client:
            while True:
                await self.poll(client)
                await asyncio.sleep(self.feed.interval_secs)  # the poll interval, not a wait for a result

    async def poll(self, client: httpx.AsyncClient) -> None:
        """One poll; never raises (a fault is logged, counted and shown in the status)."""
        now = self.clock()
        self.status.polls += 1
        self.status.last_poll_ts = now
        try:
            await self._poll(client)
        except FetchRefused as exc:
            self._feed_fault(exc.code, str(exc))
        except FeedError as exc:
            self._feed_fault("feed_malformed", f"{self.feed.url[:200]}: {exc}")
        except Exception as exc:  # a bug must not stop the follower; logged in full, once while it lasts
            if self.status.last_error is None or self.status.last_error["code"] != "internal":
                log.exception("follow %s: poll failed", self.feed.name)
            self._feed_fault("internal", f"{type(exc).__name__}: {exc}", logged=True)
        else:
            self.status.last_ok_ts = self.clock()
            self.status.last_error = None
            self.metrics.last_success.labels(self.feed.name).set(self.status.last_ok_ts)

    def _feed_fault(self, code: str, message: str, *, logged: bool = False) -> None:
        """Report a fault of the feed: logged when it first happens (not again every poll while
        it lasts, so a broken feed cannot flood the log), counted every time."""
        message = self.feed.redact(message)
        repeated = self.status.last_error is not None and self.status.last_error["code"] == code
        if not logged and not repeated:
            log.warning("follow %s: feed refused: %s: %s (retrying every %g s)", self.feed.name, code,
                        message, self.feed.interval_secs)
        self.status.last_error = {"code": code, "message": message[:1000], "at": self.clock()}
        self.metrics.feed_errors.labels(self.feed.name, code).inc()

    def _entry_fault(self, subject: str, exc: FetchRefused) -> None:
        """One entry's document could not be fetched (a dead link, an error answer, a timeout):
        skipped for this poll and tried again at the next, never the end of the poll — entries
        are taken oldest first, so one dead old link would keep every newer alert out. Logged
        once per entry and code (a permanently dead link does not flood the log), counted
        every time."""
        self.metrics.feed_errors.labels(self.feed.name, exc.code).inc()
        key = (subject, exc.code)
        if key not in self._entry_faults:
            if len(self._entry_faults) >= MAX_ENTRY_FAULTS:
                self._entry_faults.clear()
            self._entry_faults.add(key)
            log.warning("follow %s: entry %s skipped for now: %s: %s", self.feed.name,
                        self.feed.redact(subject[:200]), exc.code, self.feed.redact(str(exc)[:500]))

    async def _refuse(self, subject: str, code: str, reason: str) -> None:
        """Record (durably, off the event loop) and report a refused alert; logged the first time."""
        subject, reason = self.feed.redact(subject), self.feed.redact(reason)
        self.metrics.refused.labels(self.feed.name, code).inc()
        self.status.refused += 1
        if await asyncio.to_thread(self.store.refuse, self.feed.name, subject, code, reason, self.clock()):
            log.warning("follow %s: refused alert %s: %s: %s", self.feed.name, subject[:200], code,
                        reason[:500])

    async def _poll(self, client: httpx.AsyncClient) -> None:
        data = await fetch(client, self.feed.url, limit=MAX_FEED_BYTES, allowed=self.allowed,
                           lookup=self.lookup, accept="application/atom+xml, application/xml;q=0.9")
        entries, problems = await asyncio.to_thread(read_feed, data, self.feed.url)
        for problem in map(self.feed.redact, problems):
            if problem not in self.status.problems:
                log.warning("follow %s: %s", self.feed.name, problem)
                self.status.problems = [*self.status.problems[-9:], problem]
        if self.feed.kind == "tocsin":
            await self._poll_hub(client, entries)
        else:
            await self._poll_cap(client, entries)

    # -- a Tocsin hub --------------------------------------------------------

    async def _poll_hub(self, client: httpx.AsyncClient, entries: list[FeedEntry]) -> None:
        feed = self.feed
        seen_before = await asyncio.to_thread(self._seen)  # the checkpoints of earlier polls only
        checkpoint = await self._checkpoint(client)
        pending = 0
        fresh: list[str] = []
        for entry in entries:
            found = TOCSIN_CAP_URL.search(entry.cap_url.split("?")[0])
            if found is None:
                await self._refuse(entry.cap_url, "feed_malformed",
                             "a Tocsin hub's entry must link to /api/v1/alerts/{id}/cap")
                continue
            alert_id = found.group(1)
            # Held already, but relayed unverified (another feed carried the same bytes first):
            # taken again, so that the hub's verdict replaces the weaker one.
            held = self.store.trust_of(alert_id)
            if held != "verified" and not self.store.was_refused(feed.name, alert_id):
                fresh.append(alert_id)
        if fresh:
            registry, current = await self._current_registry(client)
            for alert_id in reversed(fresh):  # oldest first, as the hub logged them
                if not await self._take_hub_alert(client, alert_id, registry, current):
                    pending += 1
        self.status.pending = pending
        if checkpoint is not None and (seen_before is None or checkpoint.size >= seen_before.size):
            await asyncio.to_thread(self.store.save_checkpoint, feed.name, checkpoint.size, checkpoint.at)

    def _seen(self) -> Seen | None:
        _, size, at = self.store.state(self.feed.name)
        return Seen(size, at) if size is not None and at is not None else None

    async def _checkpoint(self, client: httpx.AsyncClient) -> Seen | None:
        """The followed log's current checkpoint, verified (None if it does not verify: reported)."""
        feed = self.feed
        assert feed.log_key is not None and feed.origin is not None
        at = self.clock()
        note = await fetch(client, f"{feed.api_base}/checkpoint", limit=MAX_CHECKPOINT_BYTES,
                           allowed=self.allowed, lookup=self.lookup)
        try:
            cp, opened = open_checkpoint(note, feed.log_key, feed.origin)
            if feed.witness_policy is not None:
                feed.witness_policy.check(opened)
        except (CheckpointError, PolicyError, ProofVerificationError) as exc:  # the last: below quorum
            await self._refuse("checkpoint", "not_logged", f"the log's checkpoint does not verify: {exc}")
            return None
        _, size, _ = await asyncio.to_thread(self.store.state, feed.name)
        if size is not None and cp.size < size:  # a log never shrinks: keep the larger one
            await self._refuse(f"checkpoint {cp.size}", "not_logged",
                               f"the log's checkpoint has size {cp.size}, smaller than size {size} "
                               "verified before (a rollback; run tocsin monitor)")
            return None
        return Seen(cp.size, at)

    async def _current_registry(self, client: httpx.AsyncClient) -> tuple[Registry | None, bool]:
        """The followed hub's registry: the newest version signed by the configured root, and
        whether it is the one the hub serves now (False: the fetch failed, did not verify, or
        was older — then the registry adopted before, if any, is given, and a refusal made
        with it is not final: a key added since would be unknown to it)."""
        feed = self.feed
        assert feed.registry_root is not None
        stored, _, _ = self.store.state(feed.name)
        if self._registry is None and stored is not None:
            try:
                self._registry = load_registry(stored, root=feed.registry_root)
            except RegistryError as exc:  # the root was replaced, or the file damaged: set aside
                await self._refuse("registry", "bad_registry", f"the registry kept for this feed does "
                                   f"not verify against the configured root; fetching the hub's: {exc}")
        try:
            data = await fetch(client, f"{feed.api_base}/api/v1/registry", limit=MAX_REGISTRY_BYTES,
                               allowed=self.allowed, lookup=self.lookup, accept="application/json")
            fetched = load_registry(data, root=feed.registry_root)
        except FetchRefused as exc:
            self._feed_fault(exc.code, f"registry: {exc}")
            return self._registry, False
        except RegistryError as exc:
            await self._refuse("registry", "bad_registry", f"the hub's registry does not verify against "
                         f"the configured root: {exc}")
            return self._registry, False
        if self._registry is not None and fetched.version < self._registry.version:
            await self._refuse(f"registry v{fetched.version}", "bad_registry",
                         f"registry version {fetched.version} is older than version "
                         f"{self._registry.version} already adopted (a rollback)")
            return self._registry, False
        if self._registry is None or fetched.version > self._registry.version:
            await asyncio.to_thread(self.store.save_registry, feed.name, data)
            self._registry = fetched
        return self._registry, True

    async def _take_hub_alert(self, client: httpx.AsyncClient, alert_id: str, registry: Registry | None,
                              current: bool) -> bool:
        """Fetch, verify and store one alert; False if it must be tried again (proof pending, or
        refused with a registry that is not the one the hub serves now: a refusal is final)."""
        feed = self.feed
        base = f"{feed.api_base}/api/v1/alerts/{alert_id}"
        try:
            cap = await fetch(client, f"{base}/cap", limit=MAX_ALERT_BYTES, allowed=self.allowed,
                              lookup=self.lookup)
            statement = await fetch(client, f"{base}/statement", limit=MAX_STATEMENT_BYTES,
                                    allowed=self.allowed, lookup=self.lookup)
            proof = await fetch(client, f"{base}/proof", limit=MAX_PROOF_BUNDLE_BYTES,
                                allowed=self.allowed, lookup=self.lookup)
        except FetchRefused as exc:
            if exc.status == 503:  # proof_pending: the checkpoint covering it is not signed yet
                return False
            if exc.code == "feed_too_large":
                await self._refuse(alert_id, "alert_too_large", str(exc))
                return True
            self._entry_fault(alert_id, exc)
            return False
        if registry is None:
            return False  # reported as a fault of the feed (or its registry refusal); tried again
        # Freshness is judged against the last checkpoint seen *without* this entry, not the
        # previous poll's: a feed listing a replayed entry late (once a checkpoint holding it
        # was seen) must not get it past the back-dating rule. The index is the bundle's own;
        # verify_hub_alert proves it, and a bundle that lies about it does not verify.
        seen: Seen | None = None
        with contextlib.suppress(ProofBundleError):
            found = await asyncio.to_thread(self.store.seen_without, feed.name,
                                            parse_proof_bundle(proof).index)
            seen = None if found is None else Seen(*found)
        verdict = await asyncio.to_thread(
            verify_hub_alert, alert_id, cap, statement, proof, feed=feed, registry=registry,
            regions=self.regions, now=self.clock(), seen=seen, max_sent_age_secs=self.max_sent_age_secs)
        if isinstance(verdict, Pending):
            self._entry_fault(alert_id, FetchRefused("not_logged", verdict.reason))
            return False
        if isinstance(verdict, Refused):
            if not current:
                return False
            await self._refuse(alert_id, verdict.code, verdict.reason)
            return True
        assert isinstance(verdict, HubVerified)
        witnesses = f", cosigned by {verdict.cosignatures} witness(es)" if verdict.cosignatures else ""
        detail = (f"{verdict.reason}; entry {verdict.index} of the log {feed.origin} "
                  f"(checkpoint size {verdict.checkpoint_size}{witnesses})")
        stored = await self._store(alert_id, verdict.alert, cap, f"{base}/cap", "verified",
                                   f"from hub {feed.name}, verified", detail, statement, proof)
        if stored and self.on_verified is not None:  # stored first: durable before it is acted on
            await self.on_verified(feed.name, alert_id, verdict.alert, verdict.index)
        return True

    # -- a plain CAP feed ----------------------------------------------------

    async def _poll_cap(self, client: httpx.AsyncClient, entries: list[FeedEntry]) -> None:
        for entry in reversed(entries):
            if self.store.has_source(self.feed.name, entry.cap_url) \
                    or self.store.was_refused(self.feed.name, self.feed.redact(entry.cap_url)):
                continue
            try:
                cap = await fetch(client, entry.cap_url, limit=MAX_ALERT_BYTES, allowed=self.allowed,
                                  lookup=self.lookup, accept="application/cap+xml, application/xml;q=0.9")
            except FetchRefused as exc:
                if exc.code in ("feed_too_large", "feed_redirect_loop", "feed_address_refused"):
                    await self._refuse(entry.cap_url, exc.code, str(exc))
                    continue
                self._entry_fault(entry.cap_url, exc)
                continue
            await self._take_cap_alert(entry.cap_url, cap)

    async def _take_cap_alert(self, url: str, cap: bytes) -> None:
        try:
            alert = (await asyncio.to_thread(parse_alert, cap, strict=False)).alert
        except CapError as exc:
            await self._refuse(url, "invalid_cap", str(exc)[:1000])
            return
        alert_id = alert_id_for(cap)
        if self.store.has(alert_id):
            return
        if alert.signature and self.feed.certificates:
            try:
                signed = await asyncio.to_thread(verify_xml_signature, cap, alert, self.feed.certificates)
            except XmlSignatureError as exc:
                await self._refuse(url, "bad_xml_signature", str(exc))
                return
            await self._store(alert_id, alert, cap, url, "xml-signature",
                        f"XML signature verified (certificate {signed.subject}); relayed from "
                        f"{self.feed.name}, not a Tocsin issuer, not in this hub's log",
                        f"enveloped XML-DSig over the whole alert verified with signxml against the "
                        f"certificate configured for {self.feed.name}: {signed.subject}")
            return
        why = ("it carries an XML signature, but no certificate is configured for this feed"
               if alert.signature else "nothing in it is signed by a key this hub trusts")
        await self._store(alert_id, alert, cap, url, "unverified", "relayed, unverified",
                    f"relayed from {self.feed.name} as fetched; {why}")

    # -- both ----------------------------------------------------------------

    async def _store(self, alert_id: str, alert: Alert, cap: bytes, url: str, trust: Any, words: str,
               detail: str, statement: bytes | None = None, proof: bytes | None = None) -> bool:
        """Store a relayed alert; True if it is new."""
        other = await asyncio.to_thread(self.store.same_identity, self.feed.name, alert.sender,
                                        alert.identifier)
        if other is not None and other != alert_id:
            await self._refuse(alert_id, "conflict", f"alert {other} from this feed already has sender "
                         f"{alert.sender!r} and identifier {alert.identifier!r}")
            return False
        info = alert.info[0] if alert.info else None
        record = Relayed(
            id=alert_id, feed=self.feed.name, trust=trust, words=words, detail=detail, source_url=url,
            cap=cap, statement=statement, proof=proof, sender=alert.sender, identifier=alert.identifier,
            sent=alert.sent, msg_type=alert.msg_type, status=alert.status,
            event=info.event if info else alert.msg_type,
            headline=(info.headline or "") if info else "",
            area_desc="; ".join(a.area_desc for i in alert.info for a in i.area)[:2000],
            received_ts=self.clock())
        if await asyncio.to_thread(self.store.add, record):  # fsync: never on the event loop
            self.status.relayed += 1
            self.metrics.relayed.labels(self.feed.name, trust).inc()
            log.info("follow %s: relayed alert %s (%s)", self.feed.name, alert_id, words)
            return True
        return False


class FollowService:
    """Every follower of one hub, the relay store they share, and their start and stop."""

    def __init__(self, store: RelayStore, followers: list[FeedFollower]) -> None:
        self.store = store
        self.followers = followers

    @property
    def on_verified(self) -> OnVerified | None:
        return self.followers[0].on_verified if self.followers else None

    @on_verified.setter
    def on_verified(self, hook: OnVerified | None) -> None:
        """Who is told of each newly stored alert of a followed Tocsin hub that verified."""
        for follower in self.followers:
            follower.on_verified = hook

    def verified_cap(self, alert_id: str) -> RelayedAlert | None:
        """A relayed alert that verified as a followed hub's (feed, CAP bytes, log index), else None."""
        row = self.store.get(alert_id)
        if row is None or row["trust"] != "verified":
            return None
        held = self.store.get_bytes(alert_id)
        if held is None or held[2] is None:
            return None
        return RelayedAlert(str(row["feed"]), held[0], parse_proof_bundle(held[2]).index)

    async def start(self) -> None:
        for follower in self.followers:
            follower.start()

    async def stop(self) -> None:
        for follower in self.followers:
            await follower.stop()
        self.store.close()

    def status(self) -> list[dict[str, Any]]:
        out = []
        for follower in self.followers:
            feed, status = follower.feed, follower.status
            out.append({
                "name": feed.name, "url": feed.public_url, "kind": feed.kind,
                "interval_secs": feed.interval_secs,
                "trust": ("registry root, log key" + (" and witness policy" if feed.witness_policy else "")
                          if feed.kind == "tocsin" else
                          f"{len(feed.certificates)} XML-DSig certificate(s)" if feed.certificates
                          else "nothing: alerts are relayed, unverified"),
                "polls": status.polls, "last_poll_ts": status.last_poll_ts,
                "last_ok_ts": status.last_ok_ts, "last_error": status.last_error,
                "relayed": status.relayed, "refused": status.refused, "pending": status.pending,
                "problems": status.problems,
                "refusals": self.store.refusals(feed.name, limit=20),
            })
        return out


def load_feeds(settings: Settings) -> list[FollowedFeed]:
    """The followed feeds from the settings' file; :class:`SettingsError` if it is unusable
    (the hub calls this before it writes anything, so a bad file leaves no trace)."""
    from tocsin.config import SettingsError
    from tocsin.follow.config import FollowConfigError, load_follows

    if settings.follows is not None and not settings.follows.exists():
        raise SettingsError(f"follows: {settings.follows}: no such file")
    try:
        return load_follows(settings.follows_path)
    except FollowConfigError as exc:
        raise SettingsError(f"follows: {exc}") from None


def follow_service_for(hub: Hub, feeds: list[FollowedFeed]) -> FollowService:
    """The hub's followers of ``feeds`` (from :func:`load_feeds`) and their relay store."""
    from tocsin.delivery.outbound import parse_allowed_hosts

    settings = hub.settings
    store = RelayStore(settings.data_dir / "relayed.sqlite3")
    metrics = FollowMetrics(hub.metrics.registry)
    allowed = parse_allowed_hosts(settings.follow_allowed_hosts)
    followers = [FeedFollower(feed, store=store, regions=hub.regions, allowed_hosts=allowed,
                              metrics=metrics, max_sent_age_secs=settings.max_sent_age_secs,
                              clock=hub.clock) for feed in feeds]
    return FollowService(store, followers)
