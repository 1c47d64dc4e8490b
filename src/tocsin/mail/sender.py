"""The email sender: one more follower of committed events (:class:`tocsin.feed.EventFeed`).

It reads events from the store after the position it saved, matches each to confirmed
subscriptions with :class:`~tocsin.delivery.fanout.PlaceIndex` (the live streams' matcher,
by region code), and queues one message per subscription per event for the SMTP relay.
Invariants, as :mod:`tocsin.push.sender`:

* **Order per subscription.** A subscription's messages go one at a time, in event order, so
  an all-clear never overtakes the alert it ends.
* **A down or slow relay delays nobody else.** The follower never awaits the relay; live
  streams are published before the feed is even woken; at most ``workers`` connections to
  the relay are open (:class:`~tocsin.mail.smtp.Mailer` each), every SMTP step has a timeout.
* **Bounded.** At most ``max_pending`` messages queued; beyond that the follower waits (the
  store keeps the events; nothing is lost).
* **At least once, resumable.** The saved position is the newest event every subscription has
  been served (handed over, refused for good, expired or unsubscribed); each subscription's
  last event handed over is saved with it, so a restart resumes without gap and skips a
  subscription already served a replayed event.
* **Retries.** A temporary failure (4xx, relay unreachable) is retried with exponential
  backoff — 1 s, doubling, at most 5 minutes — until the message is :data:`MAX_AGE_SECS` old;
  while the relay itself is down every worker waits out one shared backoff instead of each
  message spending its own attempts. A permanent failure (5xx) drops that one message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import html
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge

from tocsin.api.views import stored_alert
from tocsin.cap.model import Alert
from tocsin.delivery.fanout import PlaceIndex
from tocsin.delivery.progress import DeliveryProgress, references_threat
from tocsin.feed import EventFeed
from tocsin.mail.addresses import from_address_of
from tocsin.mail.messages import Rendered, alert_mail, confirmation_mail, mail_kind
from tocsin.mail.smtp import Mailer, Relay, SmtpFailure, build_message
from tocsin.mail.store import EmailSubscription, Request, SqliteEmailStore
from tocsin.mail.tokens import LinkKey
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord, StreamEvent

if TYPE_CHECKING:
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.email")

MAX_AGE_SECS = 12 * 3600  # a message not handed over in 12 hours is dropped; the page has it
BACKOFF_FIRST_SECS = 1.0
BACKOFF_MAX_SECS = 300.0
FLUSH_EVERY_SECS = 0.2
PRUNE_EVERY_SECS = 600.0
ENQUEUE_SLICE = 2000
CONFIRM_TIMEOUT_SECS = 10.0  # each SMTP step of a confirmation, sent while its request waits
#: A whole confirmation (waiting for a connection slot included), in step timeouts: a relay
#: answering each step just in time must not hold a person's request for all of them added up.
CONFIRM_DEADLINE_STEPS = 3
DENIAL = "denial"
UNSUBSCRIBE_PATH = "/api/v1/email/unsubscribe"
CONFIRM_PATH = "/api/v1/email/confirm"
#: Stands for the person's unsubscribe link in a rendering shared by many (XML, so CAP, has no NUL).
UNSUBSCRIBE_MARK = "\x00unsubscribe\x00"

PlaceKey = tuple[str, str]  # (subscription id, region code)


class EmailMetrics:
    """Counters of the email sender, in the hub's metrics registry."""

    def __init__(self, registry: CollectorRegistry, queue_age: Callable[[], float],
                 subscriptions: Callable[[], int]) -> None:
        self.sent = Counter("tocsin_email_sent", "Emails handed over to the SMTP relay",
                            ["what"], registry=registry)
        self.failed = Counter("tocsin_email_failed", "Emails given up", ["reason"], registry=registry)
        self.retried = Counter("tocsin_email_retried", "Emails retried after a temporary failure",
                               registry=registry)
        age = Gauge("tocsin_email_queue_age_seconds",
                    "Age of the oldest alert email not yet handed over", registry=registry)
        age.set_function(queue_age)
        count = Gauge("tocsin_email_subscriptions", "Confirmed email subscriptions",
                      registry=registry)
        count.set_function(subscriptions)


@dataclass(slots=True)
class Job:
    """One message for one subscription."""

    event_id: int
    rendered: Rendered
    deadline: float  # monotonic: past it the message is dropped
    attempts: int = 0


@dataclass(slots=True, eq=False)
class SubState:
    sub: EmailSubscription
    last_event: int
    queue: deque[Job] = field(default_factory=deque)
    scheduled: bool = False
    deleted: bool = False


class EmailSender:
    """Follows the feed and hands messages to the relay (see the module docstring)."""

    def __init__(self, *, store: SqliteEmailStore, feed: EventFeed, relay: Relay, from_address: Address,
                 link_key: LinkKey, base_url: str, regions: RegionSet,
                 get_alert: Callable[[str], AlertRecord | None],
                 find_alert: Callable[[str, str], AlertRecord | None],
                 registry: CollectorRegistry, demo: bool = False, workers: int = 4,
                 max_pending: int = 1_000_000, max_age_secs: float = MAX_AGE_SECS) -> None:
        self.store = store
        self.feed = feed
        self.relay = relay
        self.from_address = from_address
        self.link_key = link_key
        self.base_url = base_url
        self.regions = regions
        self._get_alert = get_alert
        self._find_alert = find_alert
        self.demo = demo
        self.workers = workers
        self.max_pending = max_pending
        self.max_age_secs = max_age_secs
        self.index: PlaceIndex[PlaceKey] = PlaceIndex(regions)
        self._subs: dict[str, SubState] = {}
        self._ready: asyncio.Queue[SubState] = asyncio.Queue()
        self.progress = DeliveryProgress(
            max_pending=max_pending, save=lambda position, served: self.store.save_progress(position, served),
            failed=lambda reason: self.metrics.failed.labels(reason).inc())
        self._relay_failures = 0
        self._relay_back_at = 0.0  # monotonic: the relay is not tried before this
        self._tasks: list[asyncio.Task[Any]] = []
        self._confirming = asyncio.Semaphore(workers)  # confirmation connections open at once
        self.metrics = EmailMetrics(registry, self.progress.queue_age, lambda: len(self._subs))

    # -- lifecycle -------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.store.prune, time.time())
        for sub in await asyncio.to_thread(self.store.confirmed):
            self.track(sub)
        position = await asyncio.to_thread(self.store.position)
        self.progress.handled = self.feed.last_id if position is None else position
        follow = self.progress.follow(self.feed, self.progress.handled, self._handle, "email")
        self._tasks = [asyncio.create_task(follow, name="email-follower"),
                       asyncio.create_task(self._flush_loop(), name="email-flusher"),
                       *(asyncio.create_task(self._work(), name=f"email-worker-{n}")
                         for n in range(self.workers))]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self.progress.flush()
        self.store.close()

    # -- subscriptions ---------------------------------------------------

    @property
    def subscription_count(self) -> int:
        return len(self._subs)

    def track(self, sub: EmailSubscription) -> None:
        """Serve a confirmed subscription; one served already keeps its queue with its new places.

        The same :class:`SubState` is kept for a subscription whose places or language changed,
        so a message queued or in flight for it is neither lost nor sent out of order.
        """
        state = self._subs.get(sub.id)
        if state is None:
            state = self._subs[sub.id] = SubState(sub=sub, last_event=sub.last_event)
        else:
            for code in state.sub.regions:
                self.index.remove((sub.id, code))
            state.sub = sub
            state.last_event = max(state.last_event, sub.last_event)
        for code in sub.regions:
            self.index.add((sub.id, code), (code,))
        self._schedule(state)

    def _forget(self, state: SubState) -> None:
        state.deleted = True
        for code in state.sub.regions:
            self.index.remove((state.sub.id, code))
        if self._subs.get(state.sub.id) is state:
            del self._subs[state.sub.id]

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

    def unsubscribe_url(self, sub_id: str) -> str:
        query = urlencode({"id": sub_id, "token": self.link_key.unsubscribe_token(sub_id)})
        return f"{self.base_url}{UNSUBSCRIBE_PATH}?{query}"

    # -- confirmation ----------------------------------------------------

    async def send_confirmation(self, request: Request, address: str, expires: float) -> None:
        """Send the confirmation email now, on a connection of its own (raises SmtpFailure)."""
        when = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%d %H:%M")
        url = f"{self.base_url}{CONFIRM_PATH}?{urlencode({'id': request.id, 'token': request.token})}"
        rendered = confirmation_mail(language=request.language,
                                     place_names=self.place_names(request.regions, request.language),
                                     confirm_url=url, expires_utc=when, demo=self.demo)
        # No display name: whoever asked chose it, and they need not own the address.
        message = build_message(sender=self.from_address, to=Address("", addr_spec=address),
                                subject=rendered.subject, text=rendered.text, html=rendered.html,
                                headers={"Auto-Submitted": "auto-generated"})
        relay = dataclasses.replace(self.relay, timeout=min(self.relay.timeout, CONFIRM_TIMEOUT_SECS))
        try:
            async with asyncio.timeout(CONFIRM_DEADLINE_STEPS * relay.timeout), self._confirming, \
                    Mailer(relay) as mailer:  # a person is waiting for the answer
                await mailer.send(message)
        except TimeoutError:
            raise SmtpFailure("the relay did not take the confirmation in time", temporary=True,
                              relay_down=True, timed_out=True) from None
        self.metrics.sent.labels("confirmation").inc()

    def place_names(self, codes: tuple[str, ...] | list[str], language: str) -> list[str]:
        names: list[str] = []
        for code in codes:
            region = self.regions.get(code)
            name = code if region is None else (region.name_uk_full if language == "uk" else region.name_en)
            if name not in names:
                names.append(name)
        return names

    # -- following -------------------------------------------------------

    async def _handle(self, event: StreamEvent) -> None:
        if event.kind == DENIAL or not self._subs:
            return
        view: dict[str, Any] = msgspec.json.decode(event.data)
        refs_threat = False
        if view.get("msgType") in ("Update", "Cancel"):
            refs_threat = await asyncio.to_thread(references_threat, view, self._find_alert)
        kind = mail_kind(view, refs_threat)
        if kind is None:
            return
        record = await asyncio.to_thread(self._get_alert, event.alert_id)
        if record is None:
            return
        alert = stored_alert(record)
        matched: dict[str, set[str]] = {}
        for sub_id, code in self.index.match(event.regions):
            matched.setdefault(sub_id, set()).add(code)
        await self._enqueue(event, view, alert, kind, matched)

    async def _enqueue(self, event: StreamEvent, view: dict[str, Any], alert: Alert, kind: str,
                       matched: dict[str, set[str]]) -> None:
        rendered: dict[tuple[str, tuple[str, ...]], Rendered] = {}
        deadline = time.monotonic() + self.max_age_secs
        entry = self.progress.outstanding[event.id] = [1, time.monotonic()]  # a guard until all are queued
        for n, (sub_id, hit) in enumerate(matched.items(), start=1):
            if n % ENQUEUE_SLICE == 0:
                await asyncio.sleep(0)  # let live streams and requests run between slices
            state = self._subs.get(sub_id)
            if state is None or state.last_event >= event.id:
                continue  # already served this event before a restart
            places = tuple(p for p in state.sub.regions if p in hit)
            lang = state.sub.language
            key = (lang, places)
            message = rendered.get(key)
            if message is None:  # one rendering per language and places; the link is added per person
                message = rendered[key] = alert_mail(
                    view=view, alert=alert, kind=kind, language=lang,
                    place_names=self.place_names(places, lang), base_url=self.base_url,
                    unsubscribe_url=UNSUBSCRIBE_MARK, demo=self.demo)
            state.queue.append(Job(event.id, message, deadline))
            entry[0] += 1
            self.progress.pending += 1
            self._schedule(state)
        self.progress.settle(event.id, entry)

    # -- sending ---------------------------------------------------------

    def _schedule(self, state: SubState) -> None:
        if state.scheduled or not state.queue:
            return
        if state.deleted:
            self._drop_queue(state)
            return
        state.scheduled = True
        self._ready.put_nowait(state)

    def _requeue(self, state: SubState) -> None:
        state.scheduled = False
        self._schedule(state)

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        mailer = Mailer(self.relay)
        try:
            while True:
                state = await self._ready.get()
                wait = self._relay_back_at - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # the relay is down: wait out its backoff
                try:
                    delay = await self._send_head(state, mailer)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("email: sending to subscription %s failed", state.sub.id)
                    if state.queue:
                        self.progress.fail(state, "error")
                    delay = None
                if delay is not None and not state.deleted:
                    loop.call_later(delay, self._requeue, state)
                else:
                    self._requeue(state)
        finally:
            with contextlib.suppress(Exception):  # a hung relay must not hold up shutdown
                async with asyncio.timeout(2.0):
                    await mailer.close()

    async def _send_head(self, state: SubState, mailer: Mailer) -> float | None:
        """Send the subscription's oldest message; seconds until a retry, or None."""
        if state.deleted or not state.queue:
            self._drop_queue(state)
            return None
        job = state.queue[0]
        if job.deadline <= time.monotonic():
            self.progress.fail(state, "expired")
            return None
        sub = state.sub
        url = self.unsubscribe_url(sub.id)
        message = build_message(
            sender=self.from_address, to=Address(sub.name, addr_spec=sub.address),
            subject=job.rendered.subject, text=job.rendered.text.replace(UNSUBSCRIBE_MARK, url),
            html=job.rendered.html.replace(UNSUBSCRIBE_MARK, html.escape(url, quote=True)),
            headers={"List-Unsubscribe": f"<{url}>",
                     "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                     "Auto-Submitted": "auto-generated"})
        try:
            await mailer.send(message)
        except SmtpFailure as exc:
            if state.deleted:
                self._drop_queue(state)
                return None
            if exc.relay_down:
                self._relay_failures += 1
                wait = _backoff(self._relay_failures)
                self._relay_back_at = max(self._relay_back_at, time.monotonic() + wait)
                log.warning("email: relay %s:%d: %s; next try in %.0f s", self.relay.host,
                            self.relay.port, exc, wait)
                self.metrics.retried.inc()
                return 0.0  # the worker that takes it next waits out the relay's backoff
            if not exc.temporary:
                log.info("email to subscription %s refused for good: %s", sub.id, exc.code)
                self.progress.fail(state, f"smtp_{exc.code}" if exc.code else "refused")
                return None
            job.attempts += 1
            wait = _backoff(job.attempts)
            if time.monotonic() + wait >= job.deadline:
                self.progress.fail(state, "gave_up")
                return None
            self.metrics.retried.inc()
            return wait
        self._relay_failures = 0
        if state.queue and state.queue[0] is job:
            state.queue.popleft()
            state.last_event = max(state.last_event, job.event_id)
            self.progress.served.append((sub.id, job.event_id))
            self.metrics.sent.labels("alert").inc()
            self.progress.complete(job)
        return None

    async def _flush_loop(self) -> None:
        pruned = time.monotonic()
        while True:
            await asyncio.sleep(FLUSH_EVERY_SECS)  # a periodic save, not a wait for a result
            try:
                await self.progress.flush()
                if time.monotonic() - pruned > PRUNE_EVERY_SECS:
                    pruned = time.monotonic()
                    await asyncio.to_thread(self.store.prune, time.time())
            except Exception:
                log.exception("email: saving the position failed")


def _backoff(attempts: int) -> float:
    wait = min(BACKOFF_MAX_SECS, BACKOFF_FIRST_SECS * 2.0 ** (attempts - 1))
    return min(BACKOFF_MAX_SECS, wait * (0.75 + random.random() / 2))  # noqa: S311 (jitter)


def email_sender_for(hub: Hub) -> EmailSender | None:
    """The hub's email sender, or None when no relay is configured (email is then off)."""
    from tocsin.mail.store import FILE_NAME

    settings = hub.settings
    relay = Relay.from_settings(settings)
    if relay is None:
        return None
    from_address = from_address_of(settings.email_from)
    key = LinkKey.load_or_create(settings.data_dir)
    return EmailSender(store=SqliteEmailStore(settings.data_dir / FILE_NAME), feed=hub.feed, relay=relay,
                       from_address=from_address, link_key=key, base_url=settings.base_url,
                       regions=hub.regions, get_alert=hub.store.get, find_alert=hub.store.find,
                       registry=hub.metrics.registry, demo=settings.demo,
                       workers=settings.email_workers)

