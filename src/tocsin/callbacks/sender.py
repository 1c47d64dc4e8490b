"""The callback sender: webhooks and WebSub, one more follower of the committed event feed.

Each target (webhook endpoint or WebSub subscription) has its own worker, which follows
:class:`tocsin.feed.EventFeed` from the target's own durable cursor — the store is the
queue, so a receiver that is down for a day costs no memory and loses nothing. Invariants:

* **One reader.** A single relay task follows the hub's feed and keeps the newest
  :data:`RECENT_EVENTS` events in memory; a worker whose cursor is among them reads them
  there, and only a worker far behind (a receiver back after a long outage, a restart)
  reads the store — so a thousand targets cost one store read per commit, not a thousand
  jobs queued on the thread pool that API handlers use too.
* **In order, at least once, per target.** A worker sends one event at a time, in event
  order, and moves its cursor past an event only once the receiver took it (2xx) or it
  was given up; cursors are saved every :data:`FLUSH_EVERY_SECS` and on stop, so after
  a crash an event may come again (same ``webhook-id``), never be skipped.
* **Retries.** A failed attempt (network error, timeout, any non-2xx, a host that now
  resolves to a private address) is retried after 1 s, doubling per consecutive failure
  of that target, at most :data:`BACKOFF_MAX_SECS`, until :attr:`retry_secs` after the
  hub received the alert; then a webhook's event becomes a dead letter (its owner can
  read and replay them) and a WebSub distribution is dropped; the worker goes on with
  the next event; a WebSub subscriber that answers 410 Gone is unsubscribed at once.
  All waiting is in *callback time*: one second lasts ``time_scale``
  real seconds (1 in production; tests shrink a 10-minute outage).
* **A slow or failing receiver delays nobody else.** Workers are independent tasks; at
  most :attr:`max_in_flight` requests are open at once (one ``aiohttp`` session, each
  request bounded by :attr:`timeout`), at most :attr:`per_host` of them to one server —
  keyed by the address its name resolves to, not the name (:func:`share_key`), so one
  party's hanging endpoints under many names cannot hold every slot — and a worker holds a
  slot only while its request is open, never while it waits to retry. Live streams are
  published before the feed is woken, so no callback ever delays them. Verifications (a
  new webhook's challenge, a WebSub intent check — requests anyone can make the hub send,
  at no cost) have a pool of their own, :data:`MAX_VERIFYING` requests, and at most
  :data:`MAX_PENDING_VERIFICATIONS` WebSub checks wait: a stranger's slow callbacks can
  delay other verifications, never a delivery.
* **No SSRF.** Every URL passed :func:`tocsin.delivery.outbound.check_url` when it was
  registered; before sending, a host not in ``callback_allowed_hosts`` is re-resolved
  every :data:`~tocsin.delivery.outbound.RECHECK_SECS` and refused if any address is not
  public, and every connection (verifications too) resolves once and connects only to the
  addresses it checked (:class:`tocsin.delivery.pinning.CheckedResolver`, the seam is
  :attr:`CallbackSender.lookup`). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge
from yarl import URL

from tocsin.callbacks import webhooks, websub
from tocsin.callbacks.store import WEBHOOK, WEBSUB, CallbackStore, DeadLetter, Target
from tocsin.delivery.answers import read_capped
from tocsin.delivery.outbound import (
    RECHECK_SECS,
    Lookup,
    UrlRefused,
    addresses_now,
    check_url,
    origin_of,
    share_key,
    system_lookup,
)
from tocsin.delivery.pinning import AddressRefused, CheckedResolver
from tocsin.feed import EventFeed
from tocsin.store.base import StreamEvent

if TYPE_CHECKING:
    from tocsin.config import Settings
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.callbacks")

BACKOFF_FIRST_SECS = 1.0
BACKOFF_MAX_SECS = 300.0
FLUSH_EVERY_SECS = 0.2
RECENT_EVENTS = 2048  # events the relay keeps in memory for workers that are up to date
MAX_ANSWER_BYTES = 64 * 1024  # read (and drop) at most this much of a receiver's answer
DENIAL = "denial"
GONE = "http_410"  # a WebSub subscriber that answers 410 Gone is unsubscribed (WebSub §7)
MAX_VERIFYING = 8  # verification requests open at once (their own pool, never the deliveries')
MAX_PENDING_VERIFICATIONS = 256  # WebSub intent verifications waiting or running


class CallbackMetrics:
    """Counters of the callback sender, labelled by ``kind`` (webhook or websub)."""

    def __init__(self, registry: CollectorRegistry, targets: Callable[[], int]) -> None:
        self.sent = Counter("tocsin_callback_sent", "Callback messages a receiver took (2xx)",
                            ["kind"], registry=registry)
        self.retried = Counter("tocsin_callback_retried", "Callback attempts that failed and "
                               "will be retried", ["kind"], registry=registry)
        self.given_up = Counter("tocsin_callback_given_up", "Callback messages given up after "
                                "the retry window (webhooks: dead letters)", ["kind"],
                                registry=registry)
        gauge = Gauge("tocsin_callback_targets", "Webhook endpoints and WebSub subscriptions held",
                      registry=registry)
        gauge.set_function(targets)


@dataclass(eq=False)
class Worker:
    """One target in memory: its cursor, its failures in a row, its tasks."""

    target: Target
    cursor: int
    allowed: bool  # its host is in callback_allowed_hosts (no re-resolving)
    failures: int = 0
    checked_at: float | None = None
    refused: str | None = None
    share: str | None = None  # whose share of the pool: the server its name resolved to
    gone: bool = False
    task: asyncio.Task[None] | None = None
    replay: asyncio.Task[None] | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one request at a time


class CallbackSender:
    """Follows the feed for every target (see the module docstring)."""

    def __init__(self, *, store: CallbackStore, feed: EventFeed,
                 events_after: Callable[[int, int], list[StreamEvent]],
                 allowed_hosts: frozenset[str], base_url: str, registry: CollectorRegistry,
                 retry_secs: float = 86400.0, time_scale: float = 1.0,
                 max_in_flight: int = 64, per_host: int = 8, timeout: float = 10.0,
                 wall: Callable[[], float] = time.time) -> None:
        self.store = store
        self.feed = feed
        self._events_after = events_after
        self.allowed_hosts = allowed_hosts
        self.base_url = base_url
        self.hub_url = base_url + websub.HUB_PATH
        self.retry_secs = retry_secs
        self.time_scale = time_scale
        self.max_in_flight = max_in_flight
        self.per_host = per_host
        self._hosts: dict[str, asyncio.Semaphore] = {}  # server (share_key) -> its share
        self.timeout = timeout
        self.wall = wall
        self.lookup: Lookup = system_lookup  # name -> addresses (a test may give its own)
        self._workers: dict[str, Worker] = {}
        self._dirty: dict[str, int] = {}
        self._pool = asyncio.Semaphore(max_in_flight)
        self._verifying = asyncio.Semaphore(MAX_VERIFYING)
        self._client: aiohttp.ClientSession | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._relay_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._by_client: dict[str, int] = {}  # verifications pending per requester
        self._recent: list[StreamEvent] = []  # the newest events, in id order
        self._recent_ids: list[int] = []
        self._covered_from = feed.last_id  # _recent holds every event with a greater id
        self._newest = feed.last_id
        self._wake = asyncio.Event()
        self.metrics = CallbackMetrics(registry, lambda: len(self._workers))

    # -- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        """Load the targets (dropping expired leases) and start a worker for each."""
        # Every connection resolves once and connects only to addresses it checked
        # (tocsin.delivery.pinning: no DNS-rebinding window between a check and a connect).
        resolver = CheckedResolver(lambda host, port: self.lookup(host, port), self.allowed_hosts,
                                   what="callback host")
        self._client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_in_flight + MAX_VERIFYING,
                                           resolver=resolver),
            timeout=aiohttp.ClientTimeout(total=self.timeout), trust_env=False,
            skip_auto_headers=("User-Agent",))
        self._covered_from = self._newest = self.feed.last_id
        self._relay_task = asyncio.create_task(self._relay(), name="callback-relay")
        now = self.wall()
        for target in await asyncio.to_thread(self.store.all):
            if target.expires is not None and target.expires <= now:
                await asyncio.to_thread(self.store.delete, target.id)
                continue
            self.track(target)
        self._flusher = asyncio.create_task(self._flush_loop(), name="callback-flusher")

    async def stop(self) -> None:
        tasks = [t for w in self._workers.values() for t in (w.task, w.replay) if t is not None]
        tasks += [t for t in (self._flusher, self._relay_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._flush()
        if self._client is not None:
            await self._client.close()
        self.store.close()

    # -- targets ---------------------------------------------------------

    @property
    def target_count(self) -> int:
        return len(self._workers)

    def seconds(self, callback_secs: float) -> float:
        """Real seconds lasting ``callback_secs`` of callback time."""
        return callback_secs * self.time_scale

    def track(self, target: Target) -> None:
        """Serve a stored target (a renewed WebSub subscription keeps its worker and cursor)."""
        worker = self._workers.get(target.id)
        if worker is not None:
            worker.target = target
            return
        host = (URL(target.url).host or "").lower()
        worker = Worker(target, target.cursor, host in self.allowed_hosts)
        self._workers[target.id] = worker
        if self._client is not None:
            worker.task = asyncio.create_task(self._run(worker), name=f"callback-{target.id}")

    def untrack(self, target_id: str) -> None:
        """Stop serving a deleted target."""
        worker = self._workers.pop(target_id, None)
        if worker is not None:
            worker.gone = True
            for task in (worker.task, worker.replay):
                if task is not None:
                    task.cancel()
            self._dirty.pop(target_id, None)

    def cursor_of(self, target_id: str) -> int | None:
        worker = self._workers.get(target_id)
        return None if worker is None else worker.cursor

    # -- following -------------------------------------------------------

    def wants(self, target: Target, event: StreamEvent, view: Mapping[str, Any] | None) -> bool:
        """Whether ``target`` wants ``event`` (its regions and kinds; denials by kind only)."""
        if event.kind == DENIAL:
            if target.kinds:
                return DENIAL in target.kinds
            return not target.regions  # the all-alerts topic shows denials too
        if target.regions and not set(target.regions).intersection(event.regions):
            return False
        if target.kinds:
            kinds = (view or {}).get("kinds") or []
            return bool(set(target.kinds).intersection(kinds))
        return True

    async def _relay(self) -> None:
        """The one follower of the hub's feed for every target: the newest events, in memory."""
        async for event in self.feed.follow(self._covered_from):
            self._recent.append(event)
            self._recent_ids.append(event.id)
            if len(self._recent) > RECENT_EVENTS:
                half = RECENT_EVENTS // 2
                self._covered_from = self._recent_ids[half - 1]
                self._recent, self._recent_ids = self._recent[half:], self._recent_ids[half:]
            self._newest = event.id
            woken, self._wake = self._wake, asyncio.Event()
            woken.set()

    async def _events(self, after: int) -> AsyncIterator[StreamEvent]:
        """Every committed event after ``after``, in order, forever: from memory when the
        relay holds them, else (far behind) a batch at a time from the store."""
        while True:
            wake = self._wake
            batch: list[StreamEvent] | tuple[StreamEvent, ...] = ()
            if after < self._newest:
                if after >= self._covered_from:
                    batch = self._recent[bisect.bisect_right(self._recent_ids, after):]
                else:
                    batch = list(await self.feed.read(after))
            moved = False
            for event in batch:
                if event.id > after:
                    after, moved = event.id, True
                    yield event
            if not moved:
                await wake.wait()

    async def _run(self, worker: Worker) -> None:
        async for event in self._events(worker.cursor):
            target = worker.target
            if target.expires is not None and self.wall() >= target.expires:
                return  # the lease ended: nothing more; the flusher removes it (_expire)
            try:
                view: dict[str, Any] = msgspec.json.decode(event.data)
                if self.wants(target, event, view):
                    deadline = float(view.get("received") or self.wall()) + self.seconds(self.retry_secs)
                    failed = await self._deliver(worker, event, view, deadline)
                    if failed is not None and failed[0] == GONE and target.kind == WEBSUB:
                        log.info("websub subscription %s: the subscriber said 410 Gone", target.id)
                        await asyncio.to_thread(self.store.delete, target.id)
                        worker.gone = True
                        self._workers.pop(target.id, None)
                        return
                    if failed is not None:
                        await self._give_up(worker, event.id, *failed)
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad event must never stop the target's next ones
                log.exception("callback %s: event %d could not be handled", target.id, event.id)
            worker.cursor = event.id
            self._dirty[target.id] = event.id

    async def _give_up(self, worker: Worker, event_id: int, reason: str, attempts: int) -> None:
        self.metrics.given_up.labels(worker.target.kind).inc()
        log.warning("callback %s: event %d given up after %d attempts (%s)", worker.target.id,
                    event_id, attempts, reason)
        if worker.target.kind == WEBHOOK:
            await asyncio.to_thread(self.store.add_dead_letter, DeadLetter(
                worker.target.id, event_id, reason, attempts, self.wall()))

    def _request(self, target: Target, event: StreamEvent, view: dict[str, Any]
                 ) -> tuple[bytes, Callable[[], dict[str, str]]]:
        """The body of ``event`` for ``target`` and how to make an attempt's headers."""
        if target.kind == WEBHOOK:
            body = webhooks.event_body(event, view, self.base_url)
            msg_id = webhooks.message_id(target.id, event.id)
            secret = target.signing_secret or ""
            return body, lambda: webhooks.signed_headers(secret, msg_id, body, self.wall())
        body, headers = websub.distribution(event, view, topic=target.topic, hub_url=self.hub_url,
                                            base_url=self.base_url)
        if target.signing_secret:
            headers["x-hub-signature"] = websub.signature(target.signing_secret, body)
        return body, lambda: headers

    async def _deliver(self, worker: Worker, event: StreamEvent, view: dict[str, Any],
                       deadline: float) -> tuple[str, int] | None:
        """Send until taken (None) or ``deadline`` passed: ``(last failure, attempts)``."""
        body, headers = self._request(worker.target, event, view)
        attempts = 0
        while True:
            attempts += 1
            reason = await self._attempt(worker, body, headers)
            if reason is None:
                worker.failures = 0
                self.metrics.sent.labels(worker.target.kind).inc()
                return None
            worker.failures += 1
            left = deadline - self.wall()
            if left <= 0 or (reason == GONE and worker.target.kind == WEBSUB):
                return reason, attempts
            self.metrics.retried.labels(worker.target.kind).inc()
            backoff = min(BACKOFF_MAX_SECS, BACKOFF_FIRST_SECS * 2 ** (worker.failures - 1))
            await asyncio.sleep(min(self.seconds(backoff), left))  # the retry schedule itself

    async def _attempt(self, worker: Worker, body: bytes,
                       headers: Callable[[], dict[str, str]]) -> str | None:
        """One request: None if the receiver took it (2xx), else why not."""
        target = worker.target
        now = time.monotonic()
        if worker.checked_at is None or now - worker.checked_at > RECHECK_SECS:
            worker.checked_at = now
            url = URL(target.url)
            try:
                found = await asyncio.to_thread(addresses_now, url.host or "", url.port or 443,
                                                allowed=worker.allowed, what="callback host",
                                                lookup=self.lookup)
                worker.refused, worker.share = None, share_key(found)
            except UrlRefused as exc:
                worker.refused = str(exc)
        if worker.refused is not None:
            log.info("callback %s refused: %s", target.id, worker.refused)
            return "refused"
        assert self._client is not None
        key = worker.share or origin_of(target.url)[0]
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = asyncio.Semaphore(self.per_host)
        async with worker.lock, host, self._pool:
            try:
                async with self._client.post(URL(target.url, encoded=True), data=body,
                                             headers=headers(), allow_redirects=False) as response:
                    status = response.status
                    await read_capped(response, MAX_ANSWER_BYTES)
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, AddressRefused):  # re-pointed since it was checked
                    log.warning("callback %s refused: %s", target.id, exc.os_error)
                    worker.checked_at, worker.refused = time.monotonic(), str(exc.os_error)
                    return "refused"
                log.info("callback %s: %s", target.id, type(exc).__name__)
                return "network"
            except (aiohttp.ClientError, TimeoutError) as exc:
                log.info("callback %s: %s", target.id, type(exc).__name__)
                return "network"
        return None if 200 <= status < 300 else f"http_{status}"

    # -- replay ----------------------------------------------------------

    def replay(self, target_id: str, letters: list[DeadLetter]) -> None:
        """Send a webhook's dead letters again, oldest first, each with a fresh retry window.

        They keep their ``webhook-id``; one taken leaves the list, one not taken again
        stays (its attempts added up). Replays run beside the endpoint's live events.
        """
        worker = self._workers.get(target_id)
        if worker is None or not letters:
            return
        previous = worker.replay

        async def run() -> None:
            if previous is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await previous
            try:
                await replay_all()
            except asyncio.CancelledError:
                raise
            except Exception:  # the letters stay listed; the owner may replay again
                log.exception("callback %s: replaying dead letters failed", target_id)

        async def replay_all() -> None:
            for letter in letters:
                found = await asyncio.to_thread(self._events_after, letter.event_id - 1, 1)
                if not found or found[0].id != letter.event_id:
                    await asyncio.to_thread(self.store.remove_dead_letter, target_id, letter.event_id)
                    continue
                event = found[0]
                view: dict[str, Any] = msgspec.json.decode(event.data)
                deadline = self.wall() + self.seconds(self.retry_secs)
                failed = await self._deliver(worker, event, view, deadline)
                if failed is None:
                    await asyncio.to_thread(self.store.remove_dead_letter, target_id, event.id)
                else:
                    await self._give_up(worker, event.id, *failed)

        worker.replay = asyncio.create_task(run(), name=f"callback-replay-{target_id}")

    # -- endpoint and intent checks -------------------------------------

    async def _public(self, url: str, name: str) -> None:
        """The URL rule, resolving the host off the loop (UrlRefused)."""
        await asyncio.to_thread(check_url, url, self.allowed_hosts, name=name,
                                setting="callback_allowed_hosts", what="callback host",
                                lookup=self.lookup)

    async def verify_webhook(self, url: str, signing_secret: str) -> str | None:
        """Ask a new endpoint to echo a challenge: None if it did, else what went wrong."""
        await self._public(url, "url")
        msg_id, challenge, body = webhooks.verification_message(self.wall())
        headers = webhooks.signed_headers(signing_secret, msg_id, body, self.wall())
        assert self._client is not None
        try:
            async with self._verifying, self._client.post(URL(url, encoded=True), data=body,
                                                          headers=headers,
                                                          allow_redirects=False) as response:
                answer = await read_capped(response, webhooks.MAX_ANSWER_BYTES + 1)
                status = response.status
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):  # re-pointed since it was checked
                raise UrlRefused(str(exc.os_error)) from None
            return f"the endpoint could not be reached ({type(exc).__name__})"
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"the endpoint could not be reached ({type(exc).__name__})"
        if not 200 <= status < 300:
            return f"the endpoint answered {status}"
        if not webhooks.answered_challenge(answer, challenge):
            return "the endpoint's answer does not carry the challenge"
        return None

    async def verify_intent(self, callback: str, params: dict[str, str]) -> bool:
        """WebSub intent verification: a GET the subscriber must answer with the challenge."""
        try:
            await self._public(callback, "hub.callback")
        except UrlRefused as exc:
            log.info("websub callback refused at verification: %s", exc)
            return False
        assert self._client is not None
        try:
            async with self._verifying, self._client.get(URL(callback).extend_query(params),
                                                         allow_redirects=False) as response:
                answer = await read_capped(response, len(params["hub.challenge"]) + 1)
                status = response.status
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, AddressRefused):  # re-pointed since it was checked
                log.info("websub callback refused at verification: %s", exc.os_error)
            else:
                log.info("websub intent verification failed: %s", type(exc).__name__)
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("websub intent verification of a callback at %s failed: %s",
                     origin_of(callback)[0], type(exc).__name__)
            return False
        return 200 <= status < 300 and answer == params["hub.challenge"].encode()

    @property
    def verifications_full(self) -> bool:
        """Whether as many WebSub verifications wait as may (a new request is refused)."""
        return len(self._tasks) >= MAX_PENDING_VERIFICATIONS

    def verifying_for(self, client: str) -> int:
        """How many of ``client``'s requests (WebSub, webhook) are still being verified."""
        return self._by_client.get(client, 0)

    def _count(self, client: str, by: int) -> None:
        left = self._by_client.get(client, 0) + by
        if left > 0:
            self._by_client[client] = left
        else:
            self._by_client.pop(client, None)

    @contextlib.contextmanager
    def verifying(self, client: str) -> Iterator[None]:
        """Count one verification against ``client`` (the requester) while it runs."""
        self._count(client, 1)
        try:
            yield
        finally:
            self._count(client, -1)

    def spawn(self, coro: Any, client: str | None = None) -> None:
        """Run a background job (a WebSub verification) owned by the sender, counted
        against ``client`` (the requester) from now until it ends."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if client is not None:
            self._count(client, 1)
            task.add_done_callback(lambda _: self._count(client, -1))

    # -- cursors ---------------------------------------------------------

    async def _flush(self) -> None:
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, {}
        try:
            await asyncio.to_thread(self.store.save_cursors, list(dirty.items()))
        except Exception:  # the store is unavailable: keep them for the next save
            for target_id, event_id in dirty.items():
                self._dirty[target_id] = max(event_id, self._dirty.get(target_id, event_id))
            raise

    async def _expire(self) -> None:
        """Remove WebSub subscriptions whose lease has ended (they get nothing more)."""
        now = self.wall()
        for worker in list(self._workers.values()):
            expires = worker.target.expires
            if expires is not None and expires <= now:
                log.info("websub subscription %s expired", worker.target.id)
                self.untrack(worker.target.id)
                await asyncio.to_thread(self.store.delete, worker.target.id)

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECS)  # a periodic save, not a wait for a result
            try:
                await self._flush()
                await self._expire()
            except Exception:
                log.exception("callbacks: saving cursors or ending leases failed")


def callback_store_for(settings: Settings) -> CallbackStore:
    """Where the targets live: the hub's PostgreSQL database when ``settings.store`` names one
    (shared by a leading writer and its standby, so a failover keeps targets and cursors),
    else ``DATA_DIR/callbacks.sqlite3``."""
    from tocsin.callbacks.store import FILE_NAME, SqliteCallbackStore

    if settings.store.startswith(("postgresql://", "postgres://")):
        from tocsin.callbacks.pg_store import PostgresCallbackStore

        return PostgresCallbackStore(settings.store)
    return SqliteCallbackStore(settings.data_dir / FILE_NAME)


def callback_sender_for(hub: Hub) -> CallbackSender:
    """The hub's webhook and WebSub sender, its state where :func:`callback_store_for` says."""
    from tocsin.delivery.outbound import parse_allowed_hosts

    settings = hub.settings
    return CallbackSender(store=callback_store_for(settings), feed=hub.feed,
                          events_after=hub.store.events_after,
                          allowed_hosts=parse_allowed_hosts(settings.callback_allowed_hosts),
                          base_url=settings.base_url, registry=hub.metrics.registry,
                          retry_secs=settings.callback_retry_secs,
                          time_scale=settings.callback_time_scale)
