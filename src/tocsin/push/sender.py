"""The push sender: one more follower of committed events (:class:`tocsin.feed.EventFeed`).

It never hooks the fan-out. It reads events from the store after the last position it
saved, matches each to push subscriptions with :class:`~tocsin.delivery.fanout.PlaceIndex`
(the live streams' matcher, points included), and queues one message per subscription
per place met per event (``tocsin.push.messages.place_groups``). Invariants:

* **Order per subscription.** A subscription's messages are sent one at a time, in event
  order, so an all-clear can never overtake the alert it replaces (same ``Topic``).
* **A slow push service delays nobody else.** Each push service origin has its own
  workers, and at most ``per_service`` requests are in flight to one *server* — counted
  by the address its name resolves to (:func:`tocsin.delivery.outbound.share_key`), so
  endpoints anyone subscribes under many names of one slow server share one share and
  cannot take every connection; the follower never awaits a request; live streams are
  published before the feed is even woken.
* **Bounded.** At most ``max_connections`` connections in all (one ``aiohttp`` session),
  at most ``max_pending`` messages queued (the follower waits beyond that).
* **At least once, resumable.** The saved position is the newest event every
  subscription has been served (handed over, refused for good, expired or deleted); each
  subscription's last event handed over is saved with it, so a restart resumes without
  gap and skips a subscription already served a replayed event.
* **Retries.** 429 and 5xx (and network errors) are retried with exponential backoff,
  honouring ``Retry-After``, while the message's TTL lasts; 404 and 410 delete the
  subscription; any other answer is a failure that is not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
from cryptography.hazmat.primitives.asymmetric import ec
from prometheus_client import CollectorRegistry, Counter, Gauge
from yarl import URL

from tocsin.api.views import stored_alert
from tocsin.cap.model import Alert, Area
from tocsin.delivery.answers import read_capped
from tocsin.delivery.fanout import PlaceIndex
from tocsin.delivery.outbound import addresses_now, share_key
from tocsin.delivery.progress import DeliveryProgress, references_threat
from tocsin.feed import EventFeed
from tocsin.push.crypto import check_keys, encrypt
from tocsin.push.endpoints import (
    RECHECK_SECS,
    EndpointRefused,
    Lookup,
    origin_of,
    system_lookup,
)
from tocsin.push.messages import Loudness, build_payload, loudness, place_groups, topic_for
from tocsin.push.pinning import AddressRefused, CheckedResolver
from tocsin.push.store import PushStore, PushSubscription
from tocsin.push.vapid import VapidSigner
from tocsin.regions import Region, RegionSet
from tocsin.store.base import AlertRecord, StreamEvent

if TYPE_CHECKING:
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.push")

MAX_ATTEMPTS = 8
BACKOFF_FIRST_SECS = 1.0
BACKOFF_MAX_SECS = 120.0
FLUSH_EVERY_SECS = 0.2
ENQUEUE_SLICE = 2000  # subscriptions queued between two yields to the event loop
DENIAL = "denial"

PlaceKey = tuple[str, str]  # (subscription id, place: a region code or "lat,lon")


class PushMetrics:
    """Counters of the push sender, in the hub's metrics registry."""

    def __init__(self, registry: CollectorRegistry, queue_age: Callable[[], float],
                 subscriptions: Callable[[], int]) -> None:
        self.sent = Counter("tocsin_push_sent", "Push messages handed over to a push service",
                            registry=registry)
        self.failed = Counter("tocsin_push_failed", "Push messages given up", ["reason"],
                              registry=registry)
        self.deleted = Counter("tocsin_push_deleted",
                               "Push subscriptions deleted because the push service said 404/410",
                               registry=registry)
        self.retried = Counter("tocsin_push_retried", "Push requests retried (429, 5xx, network)",
                               registry=registry)
        age = Gauge("tocsin_push_queue_age_seconds",
                    "Age of the oldest push message not yet handed over", registry=registry)
        age.set_function(queue_age)
        count = Gauge("tocsin_push_subscriptions", "Push subscriptions held", registry=registry)
        count.set_function(subscriptions)


@dataclass(slots=True)
class Job:
    """One message for one subscription."""

    event_id: int
    payload: bytes
    how: Loudness
    topic: str
    deadline: float  # monotonic: after this its TTL has passed; it is not sent
    last: bool = True  # the event's last message for this subscription (then it is served)
    attempts: int = 0
    body: bytes | None = None


@dataclass(slots=True, eq=False)
class SubState:
    """A subscription in memory with its queue (one request in flight at a time)."""

    sub: PushSubscription
    ua_key: ec.EllipticCurvePublicKey
    url: URL  # the endpoint, parsed once
    origin: str
    places: tuple[str, ...]
    last_event: int
    queue: deque[Job] = field(default_factory=deque)
    scheduled: bool = False
    deleted: bool = False


@dataclass(slots=True, eq=False)
class Origin:
    """One push service (scheme://host[:port]) and its workers."""

    name: str
    host: str
    port: int
    allowed: bool
    ready: deque[SubState] = field(default_factory=deque)
    workers: int = 0
    checked_at: float | None = None
    refused: str | None = None
    share: str | None = None  # the server it resolved to (tocsin.delivery.outbound.share_key)
    checking: asyncio.Lock = field(default_factory=asyncio.Lock)  # one check at a time


def place_of(point: tuple[float, float]) -> str:
    return f"{point[0]:.6f},{point[1]:.6f}"


def retry_after_secs(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


class PushSender:
    """Follows the feed and hands messages to push services (see the module docstring)."""

    def __init__(self, *, store: PushStore, feed: EventFeed, get_alert: Callable[[str], AlertRecord | None],
                 find_alert: Callable[[str, str], AlertRecord | None], regions: RegionSet,
                 shapes_inside: Callable[[AlertRecord, Alert], bool] = lambda record, alert: True,
                 signer: VapidSigner, allowed_hosts: frozenset[str], registry: CollectorRegistry,
                 demo: bool = False, per_service: int = 64, max_connections: int = 256,
                 max_pending: int = 1_000_000, timeout: float = 10.0) -> None:
        self.store = store
        self.feed = feed
        self._get_alert = get_alert
        self._find_alert = find_alert
        self._shapes_inside = shapes_inside
        self.regions = regions
        self.signer = signer
        self.allowed_hosts = allowed_hosts
        self.demo = demo
        self.per_service = per_service
        self.max_connections = max_connections
        self.max_pending = max_pending
        self.timeout = timeout
        self.lookup: Lookup = system_lookup  # name -> addresses (a test may give its own)
        self.index: PlaceIndex[PlaceKey] = PlaceIndex(regions)
        self._subs: dict[str, SubState] = {}
        self._endpoints: set[str] = set()
        self._point_regions: dict[str, Region | None] = {}  # a point's hromada, looked up once
        self._origins: dict[str, Origin] = {}
        # per server (the address an origin's name resolves to), at most per_service requests
        self._shares: dict[str, asyncio.Semaphore] = {}
        self.progress = DeliveryProgress(
            max_pending=max_pending, save=lambda position, served: self.store.save_progress(position, served),
            failed=lambda reason: self.metrics.failed.labels(reason).inc())
        self._client: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._follower: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.metrics = PushMetrics(registry, self.progress.queue_age, lambda: len(self._subs))

    # -- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        """Load the subscriptions, then follow the feed from the saved position."""
        subs = await asyncio.to_thread(self.store.all)
        for sub in subs:
            try:
                self._track(sub)
            except Exception:  # a row that no longer matches (a region removed): keep the rest
                log.exception("push subscription %s cannot be tracked", sub.id)
        position = await asyncio.to_thread(self.store.position)
        self.progress.handled = self.feed.last_id if position is None else position
        # aiohttp, not httpx: at 64 requests in flight httpx's pool costs ~2 ms of CPU a
        # request here, aiohttp ~60 us (docs/benchmarks.md) -- the difference between
        # 300 and thousands of messages a second.
        # Every connection resolves once and connects only to addresses it checked
        # (tocsin.push.pinning: no DNS-rebinding window between a check and a connect).
        resolver = CheckedResolver(lambda host, port: self.lookup(host, port), self.allowed_hosts)
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_connections, limit_per_host=self.per_service,
                                           resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False,
            skip_auto_headers=("User-Agent",))
        follow = self.progress.follow(self.feed, self.progress.handled, self._handle, "push")
        self._follower = asyncio.create_task(follow, name="push-follower")
        self._flusher = asyncio.create_task(self._flush_loop(), name="push-flusher")

    async def stop(self) -> None:
        for task in (self._follower, self._flusher, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._follower, self._flusher, *list(self._tasks)):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.progress.flush()
        if self._client is not None:
            await self._client.close()
        self.store.close()

    # -- subscriptions ---------------------------------------------------

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    def has_endpoint(self, endpoint: str) -> bool:
        return endpoint in self._endpoints

    def track(self, sub: PushSubscription) -> None:
        """Start (or, for a re-posted endpoint, re-start) serving a stored subscription."""
        old = self._subs.get(sub.id)
        if old is not None:  # messages queued for the old keys are dropped (never re-encrypted)
            self.untrack(sub.id)
            sub = dataclasses.replace(sub, last_event=max(sub.last_event, old.last_event))
        self._track(sub)

    def _track(self, sub: PushSubscription) -> None:
        origin_name, host = origin_of(sub.endpoint)
        places = (*sub.regions, *(place_of(p) for p in sub.points))
        state = SubState(sub=sub, ua_key=check_keys(sub.p256dh, sub.auth), url=URL(sub.endpoint),
                         origin=origin_name,
                         places=places, last_event=sub.last_event)
        for code in sub.regions:
            self.index.add((sub.id, code), (code,))
        for point in sub.points:
            self.index.add((sub.id, place_of(point)), None, point)
        if origin_name not in self._origins:
            port = state.url.port or (443 if state.url.scheme == "https" else 80)
            self._origins[origin_name] = Origin(origin_name, host, port, host in self.allowed_hosts)
        self._subs[sub.id] = state
        self._endpoints.add(sub.endpoint)

    def _forget(self, state: SubState) -> None:
        state.deleted = True
        for place in state.places:
            self.index.remove((state.sub.id, place))
        if self._subs.get(state.sub.id) is state:
            del self._subs[state.sub.id]
            self._endpoints.discard(state.sub.endpoint)

    def untrack(self, sub_id: str) -> None:
        """Stop serving a deleted subscription (its queued messages are dropped)."""
        state = self._subs.get(sub_id)
        if state is not None:
            self._forget(state)
            if not state.scheduled:
                self._drop_queue(state)

    def _drop_queue(self, state: SubState) -> None:
        while state.queue:
            self.progress.complete(state.queue.popleft())

    # -- following -------------------------------------------------------

    async def _handle(self, event: StreamEvent) -> None:
        if event.kind == DENIAL or not self._subs:
            return
        view: dict[str, Any] = msgspec.json.decode(event.data)
        refs_threat = False
        if view.get("msgType") in ("Update", "Cancel"):
            refs_threat = await asyncio.to_thread(references_threat, view, self._find_alert)
        how = loudness(view, refs_threat)
        if how is None:
            return
        record = await asyncio.to_thread(self._get_alert, event.alert_id)
        if record is None:
            return
        alert = stored_alert(record)
        # As live streams (Hub._deliver): a new alert's shapes match points exactly only
        # if they stay inside the issuer's jurisdiction (tocsin.ledger); else, and for an
        # Update or Cancel, points are matched by the targets.
        areas: tuple[Area, ...] = ()
        if alert.msg_type == "Alert":
            areas = tuple(a for info in alert.info for a in info.area)
            if any(a.polygon or a.circle for a in areas) and not await asyncio.to_thread(
                    self._shapes_inside, record, alert):
                areas = ()
        matched: dict[str, set[str]] = {}
        for sub_id, place in self.index.match(event.regions, areas):
            matched.setdefault(sub_id, set()).add(place)
        await self._enqueue(event, view, alert, how, matched)

    async def _enqueue(self, event: StreamEvent, view: dict[str, Any], alert: Alert, how: Loudness,
                       matched: dict[str, set[str]]) -> None:
        """Queue the event for every matched subscription, yielding to the loop in slices.

        The event is held open (a guard count of one) until every job is queued, so the
        position cannot pass it while early jobs complete.
        """
        payloads: dict[tuple[str, tuple[str, ...]], bytes] = {}
        deadline = time.monotonic() + how.ttl
        entry = self.progress.outstanding[event.id] = [1, time.monotonic()]
        for n, (sub_id, hit) in enumerate(matched.items(), start=1):
            if n % ENQUEUE_SLICE == 0:
                await asyncio.sleep(0)  # let live streams and requests run between slices
            state = self._subs.get(sub_id)
            if state is None or state.last_event >= event.id:
                continue  # already served this event before a restart
            lang = state.sub.language
            groups = place_groups(tuple(p for p in state.places if p in hit))
            for i, group in enumerate(groups, start=1):  # one message per place met
                key = (lang, group)
                payload = payloads.get(key)
                if payload is None:
                    payload = build_payload(view=view, alert=alert, language=lang, places=list(group),
                                            place_names=self._names(group, lang),
                                            how=how, event_id=event.id, demo=self.demo)
                    payloads[key] = payload
                state.queue.append(Job(event.id, payload, how, topic_for(group[0]), deadline,
                                       last=i == len(groups)))
                entry[0] += 1
                self.progress.pending += 1
            self._schedule(state)
        self.progress.settle(event.id, entry)

    def _names(self, places: tuple[str, ...], lang: str) -> list[str]:
        """The places' names: a region's own, a point's hromada (never the coordinates)."""
        names: list[str] = []
        for place in places:
            region = self.regions.get(place)
            if region is None and "," in place:
                region = self._point_regions.get(place)
                if region is None:
                    lat, _, lon = place.partition(",")
                    found = self.regions.locate(float(lat), float(lon))
                    region = self._point_regions[place] = found[0] if found else None
            name = place if region is None else (region.name_uk_full if lang == "uk" else region.name_en)
            if name not in names:
                names.append(name)
        return names

    # -- sending ---------------------------------------------------------

    def _schedule(self, state: SubState) -> None:
        if state.scheduled or not state.queue:
            return
        if state.deleted:
            self._drop_queue(state)
            return
        state.scheduled = True
        origin = self._origins[state.origin]
        origin.ready.append(state)
        if origin.workers < self.per_service:
            origin.workers += 1
            task = asyncio.create_task(self._work(origin))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _requeue(self, state: SubState) -> None:
        state.scheduled = False
        self._schedule(state)

    async def _work(self, origin: Origin) -> None:
        loop = asyncio.get_running_loop()
        try:
            while origin.ready:
                state = origin.ready.popleft()
                try:
                    delay = await self._send_head(state, origin)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("push: sending to subscription %s failed", state.sub.id)
                    self.progress.fail(state, "error")
                    delay = None
                if delay is not None and not state.deleted:
                    loop.call_later(delay, self._requeue, state)
                else:
                    state.scheduled = False
                    self._schedule(state)
        finally:
            origin.workers -= 1

    async def _send_head(self, state: SubState, origin: Origin) -> float | None:
        """Send the subscription's oldest message; seconds until a retry, or None."""
        if state.deleted:
            self._drop_queue(state)
            return None
        job = state.queue[0]
        now = time.monotonic()
        if job.deadline <= now:
            self.progress.fail(state, "expired")
            return None
        if origin.checked_at is None or now - origin.checked_at > RECHECK_SECS:
            async with origin.checking:  # the origin's other workers wait for this check
                if origin.checked_at is None or now - origin.checked_at > RECHECK_SECS:
                    try:
                        found = await asyncio.to_thread(addresses_now, origin.host, origin.port,
                                                        allowed=origin.allowed,
                                                        what="push service host", lookup=self.lookup)
                        origin.refused, origin.share = None, share_key(found)
                    except EndpointRefused as exc:
                        origin.refused = str(exc)
                    origin.checked_at = now
        if origin.refused is not None:
            self.progress.fail(state, "refused")
            return None
        if job.body is None:
            job.body = encrypt(job.payload, state.sub.p256dh, state.sub.auth, ua_key=state.ua_key)
        headers = {
            "TTL": str(max(0, int(job.deadline - now))),
            "Urgency": job.how.urgency,
            "Topic": job.topic,
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Authorization": self.signer.authorization(origin.name),
        }
        assert self._client is not None
        status: int | None
        retry_after: str | None = None
        share = self._shares.get(origin.share or origin.name)
        if share is None:
            share = self._shares[origin.share or origin.name] = asyncio.Semaphore(self.per_service)
        try:
            async with share, self._client.post(state.url, data=job.body, headers=headers,
                                                allow_redirects=False) as response:
                status = response.status
                retry_after = response.headers.get("retry-after")
                # the answer's body, bounded: a small one is drained (the connection is kept
                # for the next message), an endless or huge one is cut (tocsin.delivery.answers)
                await read_capped(response)
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):  # re-pointed since it was checked
                log.warning("push to %s refused: %s", origin.name, exc.os_error)
                origin.checked_at, origin.refused = time.monotonic(), str(exc.os_error)
                self.progress.fail(state, "refused")
                return None
            log.info("push to %s: %s", origin.name, type(exc).__name__)
            status = None
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("push to %s: %s", origin.name, type(exc).__name__)
            status = None
        if state.deleted:
            self._drop_queue(state)
            return None
        if status is not None and 200 <= status < 300:
            state.queue.popleft()
            if job.last:  # every place's message of the event handed over: served
                state.last_event = max(state.last_event, job.event_id)
                self.progress.served.append((state.sub.id, job.event_id))
            self.metrics.sent.inc()
            self.progress.complete(job)
            return None
        if status in (404, 410):
            await self._delete(state)
            return None
        if status is None or status == 429 or status >= 500:
            job.attempts += 1
            left = job.deadline - time.monotonic()
            wait = retry_after_secs(retry_after, time.time())
            if wait is None:
                wait = min(BACKOFF_MAX_SECS, BACKOFF_FIRST_SECS * 2 ** (job.attempts - 1))
                wait *= 0.5 + random.random()  # noqa: S311  (jitter, not a secret)
            if job.attempts >= MAX_ATTEMPTS or wait >= left:
                self.progress.fail(state, "gave_up")
                return None
            self.metrics.retried.inc()
            return wait
        self.progress.fail(state, f"http_{status}")
        return None

    async def _delete(self, state: SubState) -> None:
        self._forget(state)
        self._drop_queue(state)
        self.metrics.deleted.inc()
        await asyncio.to_thread(self.store.delete, state.sub.id)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECS)  # a periodic save, not a wait for a result
            try:
                await self.progress.flush()
            except Exception:
                log.exception("push: saving the position failed")


def push_sender_for(hub: Hub) -> PushSender:
    """The hub's push sender: VAPID key in its data directory; subscriptions and position in
    the hub's PostgreSQL database when ``store`` names one (shared by every writer, so a standby
    that takes over serves them all, from the shared position), else ``push.sqlite3`` there."""
    from tocsin.ledger.reach import Reach, judge_reach
    from tocsin.push.endpoints import parse_allowed_hosts
    from tocsin.push.store import FILE_NAME, SqlitePushStore
    from tocsin.push.vapid import load_or_create_vapid_key
    from tocsin.store.backend import is_postgres

    def shapes_inside(record: AlertRecord, alert: Alert) -> bool:
        """The ledger's own rule, as the issuing path applied it (unknown issuer now: no)."""
        issuer = hub.registry.issuer(record.issuer_id)
        if issuer is None:
            return False
        reach = judge_reach(alert, issuer, hub.regions)
        return isinstance(reach, Reach) and reach.shapes_inside

    settings = hub.settings
    key = load_or_create_vapid_key(settings.data_dir)  # first: a refused key writes nothing
    signer = VapidSigner(key, settings.push_contact)
    store: PushStore
    if settings.store and is_postgres(settings.store):
        from tocsin.push.pgstore import PostgresPushStore

        store = PostgresPushStore(settings.store)
        store.adopt(settings.data_dir / FILE_NAME)  # an upgrade: push.sqlite3 moves in once
    else:
        store = SqlitePushStore(settings.data_dir / FILE_NAME)
    return PushSender(store=store, feed=hub.feed,
                      get_alert=hub.store.get, find_alert=hub.store.find, regions=hub.regions,
                      shapes_inside=shapes_inside,
                      signer=signer, allowed_hosts=parse_allowed_hosts(settings.push_allowed_hosts),
                      registry=hub.metrics.registry, demo=settings.demo)
