"""The running hub: the core parts wired together for one process.

:class:`Hub` owns the store, the registry, the region set, the fan-out and
the issuing service, and answers the region questions the HTTP handlers ask.
It holds no HTTP code itself; :mod:`tocsin.api.app` wraps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.requests import Request
from starlette.routing import BaseRoute, Mount

from tocsin.api.errors import ApiError
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
from tocsin.regions import Region, RegionSet, region_set_for
from tocsin.services.witness import Witness, witness_app
from tocsin.store.base import AlertRecord, SearchText
from tocsin.store.integrity import StartupRefused, preflight
from tocsin.store.sqlite import SqliteStore
from tocsin.tlog.proof import PolicyError, parse_policy
from tocsin.trust.note import NoteError, Verifier
from tocsin.trust.registry import Registry, RegistryError, load_registry

log = logging.getLogger("tocsin.hub")


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
        registry_bytes: bytes,
        registry_path: Path | None = None,
        regions: RegionSet | None = None,
        clock: Callable[[], float] = time.time,
        checked: bool = False,
    ) -> None:
        """Open the hub on ``settings.data_dir``; ``checked``: the caller ran :func:`preflight`."""
        self.settings = settings
        self.clock = clock
        self.regions = regions or region_set_for(settings.regions)
        # Before anything is written: never continue a log the store does not hold (a fork).
        if not checked:
            preflight(settings.data_dir, settings.log_origin)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry_root = pinned_registry_root(settings.data_dir, registry_bytes)
        self.registry_path = registry_path or settings.registry or settings.data_dir / "registry.json"
        self._registry_lock = asyncio.Lock()
        try:
            self.store = SqliteStore(settings.db_path, rules=state_rules(self._ancestor_codes),
                                     text_of=self._search_text)
        except sqlite3.DatabaseError as exc:
            raise StartupRefused(f"{settings.db_path}: cannot be opened ({exc}); run `tocsin store "
                                 f"check {settings.data_dir}`") from None
        self.registry_bytes, self.registry = self._registry_in_force(registry_bytes)
        self.fanout = Fanout(queue_max=settings.subscriber_queue_max,
                             per_client_max=settings.max_subscriptions_per_client,
                             regions=self.regions)
        self.feed = EventFeed(self.store)
        self.fanout.last_published = self.feed.last_id
        self._delivery: asyncio.Task[None] | None = None
        self.metrics = Metrics()
        self.issuer = Issuer(
            registry=self.registry, regions=self.regions, store=self.store, feed=self.feed,
            max_sent_age_secs=settings.max_sent_age_secs,
            max_sent_skew_secs=settings.max_sent_skew_secs, clock=clock,
        )
        self._route_factories: list[Callable[[Hub], list[BaseRoute]]] = []
        self.log_signer = load_or_create_log_key(settings.data_dir / "log.key", settings.log_origin)
        self.local_witness: Witness | None = None
        witnesses = self._witnesses()
        self.checkpointer = Checkpointer(self.store, self.log_signer, settings.log_origin, clock,
                                         witnesses, settings.data_dir / CHECKPOINT_FILE)
        from tocsin.push.sender import push_sender_for  # Web Push: one more feed follower

        self.push = push_sender_for(self)  # last: a hub refused above writes no push files

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
        """Log the registry version in force (if new) and publish a first checkpoint."""
        await self.issuer.writer.run(self.store.append_registry, self.registry_bytes)
        self._delivery = asyncio.create_task(self._deliver(self.feed.last_id), name="fan-out")
        await self.checkpointer.start(self.feed)
        await self.push.start()

    async def stop(self) -> None:
        await self.push.stop()
        await self.checkpointer.stop()
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
        if self.local_witness is not None:
            self.local_witness.close()
        self.issuer.close()
        self.store.close()

    async def _deliver(self, after: int) -> None:
        """The live fan-out: a follower of the event feed, like every other consumer.

        Served from the feed's in-memory window while it keeps up (a loop turn after the
        commit, no store read); an event read back from the store carries no shapes and
        reaches point subscribers by their hromadas (:class:`~tocsin.delivery.fanout.Fanout`).
        """
        async for event in self.feed.follow(after):
            try:
                queued = self.fanout.publish(event, event.areas)
            except Exception:  # one bad event must never stop the others being delivered
                log.exception("publishing event %d failed", event.id)
                self.fanout.last_published = max(self.fanout.last_published, event.id)
                continue
            self.metrics.events_delivered.inc(queued)
            self.metrics.alerts_issued.inc()
            if event.received_ts is not None:
                self.metrics.delivery_lag.observe(max(0.0, self.clock() - event.received_ts))

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
        # A registry leaf has no stream event for the checkpointer to follow: sign it here.
        await asyncio.to_thread(self.checkpointer.sign_now)
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

    def add_routes(self, factory: Callable[[Hub], list[BaseRoute]]) -> None:
        """Let an adapter (the web page) add its routes."""
        self._route_factories.append(factory)

    def extra_routes(self) -> list[BaseRoute]:
        routes = [route for factory in self._route_factories for route in factory(self)]
        if self.local_witness is not None:
            routes.append(Mount("/witness", app=witness_app(self.local_witness)))
        return routes

    # -- alerts ----------------------------------------------------------

    def parse_stored(self, cap: bytes) -> Alert:
        """Parse bytes this hub already verified and stored (lenient: never refuses its own)."""
        return parse_alert(cap, strict=False).alert

    def base_url(self, request: Request | None = None) -> str:
        """The configured public URL, else the listen address; never the request's Host header."""
        return self.settings.base_url

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

    def require_region(self, raw: str) -> str:
        code = self.regions.canonical(raw.strip())
        if code is None:
            raise ApiError("unknown_region", f"{raw[:60]!r} is not a region code of this hub")
        return code

    def region_params(self, regions: str | None, lat: str | None, lon: str | None
                      ) -> list[str] | None:
        """Parse ``regions=A,B`` and/or ``lat=&lon=`` into canonical codes (None: everything)."""
        codes: list[str] = []
        if regions:
            parts = [p.strip() for p in regions.split(",") if p.strip()]
            if len(parts) > self.settings.max_regions_per_subscription:
                raise ApiError("too_many_regions",
                               f"{len(parts)} regions named; the limit is "
                               f"{self.settings.max_regions_per_subscription}")
            codes.extend(self.require_region(p) for p in parts)
        point = self.point_param(lat, lon)
        if point is not None:
            codes.extend(r.code for r in self.locate(*point))
        if not regions and lat is None:
            return None
        # Targets are stored with everything below a named region as *full* and
        # everything above as *partial*, so a place's own codes are enough to
        # find alerts for it, for areas containing it and for areas inside it.
        return sorted(set(codes))

    def point_param(self, lat: str | None, lon: str | None) -> tuple[float, float] | None:
        """Parse ``lat``/``lon`` query values into a point inside the region set (or None)."""
        if lat is None and lon is None:
            return None
        if lat is None or lon is None:
            raise ApiError("bad_parameter", "give both lat and lon")
        try:
            lat_f, lon_f = float(lat), float(lon)
        except ValueError:
            raise ApiError("bad_parameter", "lat and lon must be numbers") from None
        self.locate(lat_f, lon_f)  # validates: range, swapped, outside (precise errors)
        return lat_f, lon_f

    def locate(self, lat: float, lon: float) -> list[Region]:
        from tocsin.regions.geometry import CoordinateError, OutsideRegionsError

        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise ApiError("bad_parameter", "lat and lon must be finite numbers")
        try:
            found = self.regions.locate_strict(lat, lon)
        except CoordinateError as exc:
            raise ApiError("bad_parameter", str(exc)) from None
        except OutsideRegionsError as exc:
            raise ApiError("unknown_region", str(exc)) from None
        if not found:
            raise ApiError("unknown_region", f"({lat}, {lon}) is outside every region of this hub")
        return found

    def region_json(self, code: str, *, with_children: bool = False) -> dict[str, Any]:
        region = self.regions.require(code)
        data: dict[str, Any] = {
            "code": region.code,
            "level": region.level,
            "name_uk": region.name_uk_full,
            "name_en": region.name_en,
            "parent": region.parent,
            "oblast": region.oblast,
        }
        if with_children:
            data["children"] = [
                {"code": c.code, "level": c.level, "name_uk": c.name_uk_full, "name_en": c.name_en}
                for c in self.regions.children(code)
            ]
        return data

    def region_status(self, code: str) -> dict[str, Any]:
        """Whether a region is under a threat (all of it or part), its threats, and apart, its notices.

        Only threats count in ``coverage`` and ``alerts`` (the class is
        :func:`tocsin.kinds.kind_class`): an embassy closing its doors is a notice, never
        "under alert"; a denial is about a message, not a place, and is not listed.
        """
        from tocsin.api.views import Views, record_class
        from tocsin.kinds import KindClass

        now = self.clock()
        records = self.store.list_alerts(regions=[code], active_at=now, limit=1000)
        views = Views(now=now, regions=self.regions, registry=self.registry, get=self.store.get,
                      log_size=self.checkpointer.size)
        coverage = "none"
        threats: list[dict[str, Any]] = []
        notices: list[dict[str, Any]] = []
        for record in records:
            cov = record.targets.get(code)
            klass = record_class(record)
            if cov is None or klass not in (KindClass.THREAT, KindClass.NOTICE):
                continue
            view = views.one(record)
            del view["targets"]  # hundreds of codes for an oblast alert; ``coverage`` says it here
            view["coverage"] = cov
            view["url"] = f"/api/v1/alerts/{record.id}"
            if klass is KindClass.NOTICE:
                notices.append(view)
                continue
            if cov == "full":
                coverage = "full"
            elif coverage == "none":
                coverage = "partial"
            threats.append(view)
        return {"region": self.region_json(code), "coverage": coverage, "alerts": threats,
                "notices": notices}


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
