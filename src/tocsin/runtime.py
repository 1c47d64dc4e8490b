"""The running hub: the core parts wired together for one process.

:class:`Hub` owns the store, the registry, the region set, the fan-out and
the issuing service and the feed's followers. It holds no HTTP code and imports
no web framework: query parsing, errors and JSON shapes are :mod:`tocsin.api`'s
(:mod:`tocsin.api.places` for places), routes are mounted by :mod:`tocsin.assemble`.

Its role (``Settings.role``, docs/deploy.md) decides what it opens: ``all`` and ``writer``
open the store for writing, the issuer, the checkpointer and the senders (push, callbacks,
organisations, email; a writer also rings the NATS doorbell); an ``edge`` opens the store
read-only and follows it (:mod:`tocsin.bus.edge`) — it has no issuer, signer or sender, and
asking for one is a programming error (writes never reach it: :mod:`tocsin.bus.handover`
hands them over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from tocsin.bus.doorbell import CHECKPOINTS, EVENTS, REGISTRY, Doorbell
from tocsin.bus.edge import CheckpointFollower, EdgeFollower
from tocsin.bus.handover import advertise
from tocsin.bus.roles import edge_log_verifier, edge_registry_root, register_role_metrics
from tocsin.cap import parse_alert
from tocsin.cap.model import Alert
from tocsin.check.index import search_text
from tocsin.config import Settings, SettingsError
from tocsin.delivery.fanout import Fanout
from tocsin.demo import demo_witness
from tocsin.feed import EventFeed
from tocsin.issue import Issuer
from tocsin.ledger.effects import state_rules
from tocsin.logserver import (
    CHECKPOINT_FILE,
    Checkpointer,
    CheckpointWitness,
    LocalWitness,
    RemoteWitness,
    load_or_create_log_key,
)
from tocsin.regions import RegionSet, region_set_for
from tocsin.services.witness import Witness
from tocsin.store.backend import open_store
from tocsin.store.base import (
    AlertRecord,
    Leadership,
    SearchText,
    StorageUnavailable,
    Store,
    StoreError,
    StreamEvent,
)
from tocsin.store.integrity import StartupRefused, preflight
from tocsin.store.lease import LeaseKeeper
from tocsin.store.scan import IntegrityScan
from tocsin.store.sqlite import SqliteStore
from tocsin.tlog.proof import PolicyError, parse_policy
from tocsin.trust.note import NoteError, Signer, Verifier
from tocsin.trust.registry import Registry, RegistryError, load_registry

if TYPE_CHECKING:
    from tocsin.callbacks.sender import CallbackSender
    from tocsin.follow.follower import FollowService
    from tocsin.mail.sender import EmailSender
    from tocsin.org.hub import Organisations
    from tocsin.push.sender import PushSender

log = logging.getLogger("tocsin.hub")

FEED_RETRY_SECS = 0.5  # after the store failed to answer a follower


class WriterOnly(RuntimeError):
    """Asked an edge for what only the writer has (the issuer, a sender, the log key).

    A programming error on any request path: :mod:`tocsin.bus.handover` hands those requests
    to the writer before they reach the app. Route factories that need such a part are
    skipped on an edge (their paths are handed over).
    """


@dataclass
class Metrics:
    """Prometheus metrics of one hub (its own registry, so tests can run several hubs)."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.alerts_issued = Counter("tocsin_alerts_issued", "Alerts accepted and stored",
                                     registry=self.registry)
        self.subscribers = Gauge("tocsin_subscribers_connected", "Open live streams",
                                 registry=self.registry)
        self.delivery_lag = Histogram(
            "tocsin_delivery_lag_seconds", "From an alert's receipt to its publication to subscribers",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.events_delivered = Counter("tocsin_events_queued",
                                        "Events queued to live subscribers",
                                        registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class Hub:
    """Everything one hub process runs on."""

    def __init__(
        self,
        settings: Settings,
        *,
        registry_bytes: bytes | None = None,
        registry_path: Path | None = None,
        regions: RegionSet | None = None,
        clock: Callable[[], float] = time.time,
        checked: bool = False,
        store: Store | None = None,
    ) -> None:
        """Open the hub on ``settings.data_dir``; ``checked``: the caller ran :func:`preflight`.

        ``store``: a shared store a standby writer opened and now leads (:mod:`tocsin.bus.standby`).

        ``settings.role`` ``all``/``writer``: ``registry_bytes`` is the registry file. ``edge``:
        the registry is the newest the store has logged, and nothing is written anywhere.
        """
        self.settings = settings
        self.clock = clock
        self.regions = regions or region_set_for(settings.regions)
        self.registry_path = registry_path or settings.registry or settings.data_dir / "registry.json"
        self._registry_lock = asyncio.Lock()
        self._delivery: asyncio.Task[None] | None = None  # the writer's live fan-out
        self.local_witness: Witness | None = None
        self.metrics = Metrics()
        #: Set when the server begins to shut down: every live stream then ends its response.
        self.closing = asyncio.Event()
        self.lease: LeaseKeeper | None = None
        #: Called once if another writer's epoch supersedes this writer's (``tocsin serve``
        #: then shuts the process down: it writes, signs and sends nothing more).
        self.on_superseded: Callable[[], object] | None = None
        self._issuer: Issuer | None = None
        self._push: PushSender | None = None
        self._callbacks: CallbackSender | None = None
        self._orgs: Organisations | None = None
        self._follow: FollowService | None = None
        self.email: EmailSender | None = None  # None: no SMTP relay set, or an edge
        self._log_signer: Signer | None = None
        self.edge: EdgeFollower | None = None
        self.doorbell: Doorbell | None = None
        self.store_scan: IntegrityScan | None = None  # SQLite writer: the whole-file scan
        if settings.role == "edge":
            self._open_edge()
        else:
            if registry_bytes is None:
                raise SettingsError("a writer needs the issuer registry file")
            self._open_writer(registry_bytes, checked, store)
        register_role_metrics(self)

    def _open_writer(self, registry_bytes: bytes, checked: bool, opened: Store | None) -> None:
        settings, clock = self.settings, self.clock
        # Before anything is written: never continue a log the store does not hold (a fork).
        if not checked:
            preflight(settings.data_dir, settings.log_origin, shared_store=bool(settings.store))
        from tocsin.follow.follower import follow_service_for, load_feeds  # docs/federation.md

        feeds = load_feeds(settings)  # before anything is written: a bad file leaves no trace
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry_root = pinned_registry_root(settings.data_dir, registry_bytes)
        # SQLite in the data directory, or PostgreSQL (settings.store): opened, checked against
        # the log key's last checkpoint, and (PostgreSQL) led by this process as its writer.
        # ``text_of`` files the check's search text of alerts stored before it existed.
        self.store: Store = open_store(settings, state_rules(self._ancestor_codes),
                                       text_of=self._search_text, opened=opened)
        # A shared store: keep the writer lead this process took in open_store (re-taken by
        # itself after a PostgreSQL restart); commits are fenced by the store either way.
        self.lease = LeaseKeeper(self.store, on_superseded=self._superseded) \
            if isinstance(self.store, Leadership) else None
        self.registry_bytes, self.registry = self._registry_in_force(registry_bytes)
        self._open_delivery()
        self._issuer = Issuer(
            registry=self.registry, regions=self.regions, store=self.store, feed=self.feed,
            max_sent_age_secs=settings.max_sent_age_secs,
            max_sent_skew_secs=settings.max_sent_skew_secs, clock=clock,
        )
        self._log_signer = load_or_create_log_key(settings.data_dir / "log.key", settings.log_origin)
        self.log_verifier = self._log_signer.verifier()
        witnesses = self._witnesses()
        self.checkpointer: Checkpointer | CheckpointFollower = Checkpointer(
            self.store, self._log_signer, settings.log_origin, clock, witnesses,
            settings.data_dir / CHECKPOINT_FILE)
        if settings.bus:
            self.doorbell = Doorbell(settings.bus)
        from tocsin.push.sender import push_sender_for  # Web Push: one more feed follower

        self._push = push_sender_for(self)  # last: a hub refused above writes no push files
        self._follow = follow_service_for(self, feeds)  # followed CAP feeds, their own store
        from tocsin.callbacks.sender import callback_sender_for  # webhooks + WebSub: a follower

        self._callbacks = callback_sender_for(self)
        from tocsin.org.hub import organisations_for  # organisations (issue 17): their own store

        self._orgs = organisations_for(self)
        from tocsin.mail.sender import email_sender_for  # email alerts (docs/email.md)

        self.email = email_sender_for(self)  # None: no SMTP relay set

    def _open_edge(self) -> None:
        """An edge: reads the store the writer keeps, signs and writes nothing (docs/deploy.md)."""
        settings = self.settings
        self.store = self._open_readonly_store()
        logged = self.store.last_logged_registry()
        if logged is None:
            raise StartupRefused(f"{settings.db_path if not settings.store else 'the store'}: it "
                                 "holds no issuer registry yet; start the writer first")
        self.registry_root = edge_registry_root(settings.data_dir, logged)
        self.registry_bytes, self.registry = self._registry_in_force(logged)
        self.log_verifier = edge_log_verifier(settings.data_dir)
        self._open_delivery()
        self.checkpointer = CheckpointFollower(self.store, self.log_verifier, settings.log_origin)
        self.edge = EdgeFollower(store=self.store, feed=self.feed, fanout=self.fanout,
                                 checkpoints=self.checkpointer, poll_secs=settings.bus_poll_secs,
                                 on_published=self._edge_published,
                                 registry=self._adopt_logged_registry)
        if settings.bus:
            self.doorbell = Doorbell(settings.bus, on_ring=self.edge.ring)

    def _open_readonly_store(self) -> Store:
        """The store an edge reads: the writer's SQLite file (query-only), or PostgreSQL read-only
        (no DDL, read-only sessions: a SELECT-only role suffices; an edge never writes, so it
        neither leads nor needs the log key)."""
        settings = self.settings
        rules = state_rules(self._ancestor_codes)
        if settings.store:
            from tocsin.store.postgres import PostgresStore, redacted

            try:
                return PostgresStore(settings.store, rules=rules, readonly=True)
            except StorageUnavailable as exc:
                raise StartupRefused(f"the store {redacted(settings.store)} cannot be used "
                                     f"({exc})") from None
        from tocsin.store.sqlite import SqliteStore

        try:
            return SqliteStore(settings.db_path, rules=rules, readonly=True)
        except (sqlite3.DatabaseError, StoreError) as exc:
            raise StartupRefused(f"{settings.db_path}: cannot be opened ({exc})") from None

    def _open_delivery(self) -> None:
        settings = self.settings
        self.fanout = Fanout(queue_max=settings.subscriber_queue_max,
                             per_client_max=settings.max_subscriptions_per_client,
                             regions=self.regions)
        self.feed = EventFeed(self.store)
        self.fanout.last_published = self.feed.last_id

    @property
    def issuer(self) -> Issuer:
        """The issuing service (a writer's; an edge hands writes over before they get here)."""
        if self._issuer is None:
            raise WriterOnly("an edge issues nothing: tocsin.bus.handover hands writes over")
        return self._issuer

    @property
    def push(self) -> PushSender:
        """The Web Push sender (the writer's: one sender per log, or each alert goes twice)."""
        if self._push is None:
            raise WriterOnly("an edge sends no push: tocsin.bus.handover hands push calls over")
        return self._push

    @property
    def callbacks(self) -> CallbackSender:
        """The webhook and WebSub sender (the writer's, as :attr:`push`)."""
        if self._callbacks is None:
            raise WriterOnly("an edge sends no callbacks: tocsin.bus.handover hands them over")
        return self._callbacks

    @property
    def follow(self) -> FollowService:
        """Followed CAP feeds (the writer's: their own relay store; an edge hands them over)."""
        if self._follow is None:
            raise WriterOnly("an edge follows no feeds: tocsin.bus.handover hands them over")
        return self._follow

    @property
    def orgs(self) -> Organisations:
        """Organisations (the writer's: their own store; an edge hands their requests over)."""
        if self._orgs is None:
            raise WriterOnly("an edge holds no organisations: tocsin.bus.handover hands them over")
        return self._orgs

    @property
    def log_signer(self) -> Signer:
        if self._log_signer is None:
            raise WriterOnly("an edge signs no checkpoints")
        return self._log_signer

    def _witnesses(self) -> list[CheckpointWitness]:
        """Witnesses from the policy file; in demo mode, one local witness of our own."""
        found: list[CheckpointWitness] = []
        if self.settings.witness_policy is not None:
            try:
                policy = parse_policy(self.settings.witness_policy.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, PolicyError) as exc:
                raise SettingsError(f"witness policy {self.settings.witness_policy}: {exc}") from None
            found.extend(RemoteWitness(url, verifier)
                         for verifier, url in zip(policy.witnesses, policy.urls, strict=False) if url)
        if self.settings.demo:
            self.local_witness = demo_witness(self.settings.data_dir, self.log_signer,
                                              self.settings.log_origin)
            found.append(LocalWitness(self.local_witness, self.settings.log_origin))
        return found

    # -- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        """Log the registry version in force (if new) and publish a first checkpoint.

        An edge instead starts following the store (doorbell and poll).
        """
        if self.edge is not None:
            await asyncio.to_thread(self.edge.checkpoints.refresh)
            if self.doorbell is not None:
                await self.doorbell.start()
            await self.edge.start()
            return
        assert isinstance(self.checkpointer, Checkpointer)
        await self.issuer.writer.run(self.store.append_registry, self.registry_bytes)
        if isinstance(self.store, SqliteStore):  # start-up read O(log n); the rest, beside
            self.store_scan = IntegrityScan(self.store.path, self.store.refuse_writes)
            self.store_scan.start()
        if self.lease is not None:
            self.lease.leading = True  # taken in open_store, before anything was written
            self.lease.start()
        if self.doorbell is not None:
            await self.doorbell.start()
            doorbell, loop = self.doorbell, asyncio.get_running_loop()

            def ring_checkpoint(size: int) -> None:  # on the signing thread
                with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                    loop.call_soon_threadsafe(doorbell.ring, CHECKPOINTS, size)

            self.checkpointer.on_signed = ring_checkpoint
        self._delivery = asyncio.create_task(self._deliver(self.feed.last_id), name="fan-out")
        await self.checkpointer.start(self.feed)
        await self.push.start()
        await self.follow.start()
        await self.callbacks.start()
        await self.orgs.start()
        if self.email is not None:
            await self.email.start()
        if self.settings.role == "writer" or self.settings.workers or self.settings.bus:
            await asyncio.to_thread(advertise, self.settings.data_dir, self.listen_url)
        if self.lease is not None:  # edges on a shared store hand writes to the leader's URL
            self.lease.url = self.listen_url
            await self.lease.advertise()

    def _superseded(self) -> None:
        """Another writer leads now: stop (the store already refuses this one's writes)."""
        if self.on_superseded is not None:
            self.on_superseded()

    @property
    def listen_url(self) -> str:
        """This process's own address (where edges hand writes), never the public URL."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(  # noqa: S104
            self.settings.host, self.settings.host)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.settings.port}"

    def close_streams(self) -> None:
        """Shutdown begins: live streams end their responses properly (see api.server)."""
        self.closing.set()
        self.fanout.end_all()  # the SSE streams that wait on no task of their own

    async def stop(self) -> None:
        self.closing.set()
        self.fanout.end_all()
        if self.edge is not None:
            await self.edge.stop()
        if self.doorbell is not None:
            await self.doorbell.stop()
        if self._follow is not None:
            await self._follow.stop()
        if self._orgs is not None:
            await self._orgs.stop()
        if self.email is not None:
            await self.email.stop()
        if self._callbacks is not None:
            await self._callbacks.stop()
        if self._push is not None:
            await self._push.stop()
        if isinstance(self.checkpointer, Checkpointer):
            await self.checkpointer.stop()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        if self.local_witness is not None:
            self.local_witness.close()
        if self.store_scan is not None:
            await asyncio.to_thread(self.store_scan.stop)
        if self._issuer is not None:
            self._issuer.close()
        if self.lease is not None:
            await self.lease.stop()  # a standby may lead at once
        self.store.close()

    async def _deliver(self, after: int) -> None:
        """The live fan-out: a follower of the event feed, like every other consumer.

        Served from the feed's in-memory window while it keeps up (a loop turn after the
        commit, no store read); an event read back from the store carries no shapes and
        reaches point subscribers by their hromadas (:class:`~tocsin.delivery.fanout.Fanout`).
        """
        while True:
            try:
                async for event in self.feed.follow(after):
                    after = event.id
                    if self.doorbell is not None:  # committed: edges read it from the store
                        self.doorbell.ring(EVENTS, event.id)
                    try:
                        queued = self.fanout.publish(event, event.areas)
                    except Exception:  # one bad event must never stop the others' delivery
                        log.exception("publishing event %d failed", event.id)
                        self.fanout.last_published = max(self.fanout.last_published, event.id)
                        continue
                    self.metrics.events_delivered.inc(queued)
                    self.metrics.alerts_issued.inc()
                    if event.received_ts is not None:
                        self.metrics.delivery_lag.observe(
                            max(0.0, self.clock() - event.received_ts))
            except Exception:  # the store could not be read: resume from the last event
                log.exception("live fan-out: reading the event feed failed after %d", after)
                await asyncio.sleep(FEED_RETRY_SECS)

    def _adopt_logged_registry(self) -> None:
        """An edge takes a newer registry version the writer logged (blocking; verified first).

        Signed by the same root, newer, and in the log: exactly what the writer adopted.
        """
        logged = self.store.last_logged_registry()
        if logged is None or logged == self.registry_bytes:
            return
        registry = load_registry(logged, root=self.registry_root)
        if registry.version > self.registry.version:
            self.registry_bytes, self.registry = logged, registry
            log.info("edge: registry version %d in force", registry.version)

    def _edge_published(self, event: StreamEvent, queued: int, received_ts: float | None) -> None:
        """An edge published a committed event to its subscribers."""
        self.metrics.events_delivered.inc(queued)
        if received_ts is not None:  # the writer's clock: same machine, or NTP apart
            self.metrics.delivery_lag.observe(max(0.0, self.clock() - received_ts))

    async def replace_registry(self, data: bytes) -> Registry:
        """Adopt a newer registry version signed by the pinned root: log it, keep it, use it.

        Key revocations arrive this way: once the new version is logged, alerts
        signed with a revoked key are refused (the verifier judges them at the
        time the hub sees them). The log is the authority — at start the hub
        takes the newest registry it has logged — and the file is rewritten
        too, so an operator reading it sees what is in force.
        """
        registry = load_registry(data, root=self.registry_root)
        async with self._registry_lock:
            if registry.version <= self.registry.version:
                raise RegistryError(
                    f"registry version {registry.version} is not newer than {self.registry.version}")
            await self.issuer.writer.run(self.store.append_registry, data)
            await asyncio.to_thread(_write_atomically, self.registry_path, data)
            self.registry, self.registry_bytes = registry, data
            self.issuer.registry = registry
        if self.doorbell is not None:
            self.doorbell.ring(REGISTRY, registry.version)  # edges take it from the store
        # A registry leaf has no stream event for the checkpointer to follow: sign it here.
        checkpointer = self.checkpointer
        if not isinstance(checkpointer, Checkpointer):  # self.issuer above already refused
            raise WriterOnly("an edge signs no checkpoints")
        await asyncio.to_thread(checkpointer.sign_now)
        return registry

    def _registry_in_force(self, file_bytes: bytes) -> tuple[bytes, Registry]:
        """The newer of the registry file and the last registry the log holds."""
        from_file = load_registry(file_bytes, root=self.registry_root)
        logged = self.store.last_logged_registry()
        if logged is not None:
            from_log = load_registry(logged, root=self.registry_root)
            if from_log.version > from_file.version:
                return logged, from_log
        return file_bytes, from_file

    # -- alerts ----------------------------------------------------------

    def parse_stored(self, cap: bytes) -> Alert:
        """Parse bytes this hub already verified and stored (lenient: never refuses its own)."""
        return parse_alert(cap, strict=False).alert

    def _search_text(self, record: AlertRecord) -> SearchText:
        """The check's search text of an alert stored before the store filed it (migration).

        Only targets still in force are known for an older alert, so a region it no longer
        targets does not find it (its words still do).
        """
        return search_text(self.parse_stored(record.cap), issuer_id=record.issuer_id,
                           kinds=record.kinds, targets=record.targets, regions=self.regions)

    # -- regions ---------------------------------------------------------

    def _ancestor_codes(self, code: str) -> list[str]:
        return [r.code for r in self.regions.ancestors(code)]


def pinned_registry_root(data_dir: Path, registry_bytes: bytes) -> Verifier:
    """The registry root key this hub trusts: pinned in ``registry-root.pub`` on first use.

    A later registry signed by any other root is refused, so whoever can
    replace the registry file still cannot swap in their own issuers.
    """
    path = data_dir / "registry-root.pub"
    if path.exists():
        try:
            return Verifier.from_vkey(path.read_text(encoding="utf-8").strip())
        except NoteError as exc:
            raise RegistryError(f"{path}: not a verifier key ({exc})") from None
    root = load_registry(registry_bytes).root
    path.write_text(root.vkey + "\n", encoding="utf-8")
    return root


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_hub(settings: Settings, *, clock: Callable[[], float] = time.time) -> Hub:
    """Open a hub from settings: the registry file must exist (demo mode writes one)."""
    path: Path = settings.registry or settings.data_dir / "registry.json"
    data = path.read_bytes()
    return Hub(settings, registry_bytes=data, clock=clock)
