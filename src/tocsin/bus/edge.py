"""An edge process's followers: live events and checkpoints, read from the store.

An edge commits nothing. It learns of new events in two ways, both ending in a read from the
store: a doorbell (:mod:`tocsin.bus.doorbell`, milliseconds after the commit) or its own
poll every ``poll_secs`` (<= 2 s), which finds whatever a lost doorbell or a NATS outage
hid. Delivery then goes through the same :class:`~tocsin.delivery.fanout.Fanout` as in one
process, so resumption (``Last-Event-ID``) works identically on every edge: ids are the
store's, global to all processes.

Invariants: events reach the fan-out in id order, each once, and only once they are in the
store; ``lag`` is how many committed events the edge has not yet published (0: caught up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from tocsin.cap import parse_alert
from tocsin.cap.model import Area
from tocsin.delivery.fanout import Fanout
from tocsin.feed import EventFeed
from tocsin.store.base import Store, StreamEvent
from tocsin.tlog.checkpoint import CheckpointError, open_checkpoint
from tocsin.trust.note import Verifier

log = logging.getLogger("tocsin.edge")

#: Seconds between an edge's looks for a newer logged registry when no ring announced one
#: (the look reads back through the log's leaves, so it is not done on every poll).
REGISTRY_CHECK_SECS = 30.0


class CheckpointFollower:
    """The newest signed checkpoint in the store, verified with the log key before it is served.

    Has the reading side of :class:`tocsin.logserver.Checkpointer` (``state``, ``size``,
    ``note``): an edge serves checkpoints and proofs, but signs nothing.
    """

    def __init__(self, store: Store, verifier: Verifier, origin: str) -> None:
        self.store = store
        self.verifier = verifier
        self.origin = origin
        self.state: tuple[int, bytes | None] = (-1, None)
        self.refresh()

    @property
    def size(self) -> int:
        return self.state[0]

    @property
    def note(self) -> bytes | None:
        return self.state[1]

    def poke(self) -> None:
        """Nothing to sign here (the writer signs; :meth:`refresh` reads what it signed)."""

    def refresh(self) -> None:
        """Take the store's newest checkpoint if it is newer and verifies (blocking; small)."""
        latest = self.store.latest_checkpoint()
        if latest is None or latest[0] <= self.size:
            return
        try:
            open_checkpoint(latest[1], self.verifier, self.origin)
        except CheckpointError as exc:  # never serve what the log key did not sign
            log.error("the store's checkpoint of size %d does not verify with the log key: %s",
                      latest[0], exc)
            return
        self.state = (latest[0], latest[1])


class EdgeFollower:
    """Publishes every committed event to this edge's live subscribers, in order, once."""

    def __init__(self, *, store: Store, feed: EventFeed, fanout: Fanout,
                 checkpoints: CheckpointFollower, poll_secs: float,
                 on_published: Callable[[StreamEvent, int, float | None], None] | None = None,
                 registry: Callable[[], None] | None = None) -> None:
        """``registry``: takes a newer issuer registry the store logged (blocking), called on a
        registry ring and every :data:`REGISTRY_CHECK_SECS`."""
        self.store = store
        self.feed = feed
        self.fanout = fanout
        self.checkpoints = checkpoints
        self.poll_secs = poll_secs
        self.on_published = on_published
        self.registry = registry
        self._registry_checked = time.monotonic()
        self.store_last = store.last_event_id()  # the store's newest id at the last look
        self.doorbells_missed = 0  # looks that found events no doorbell had announced
        self.last_poll = time.monotonic()
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def lag(self) -> int:
        """Committed events (at the last look at the store) not yet published here.

        Never from a ring: a ring is a hint anyone on the bus can send, not a fact.
        """
        return max(0, self.store_last - self.fanout.last_published)

    def ring(self, subject: str, value: int) -> None:
        """A doorbell: event ``value`` is committed, or a checkpoint of that size (on the loop)."""
        from tocsin.bus.doorbell import EVENTS, REGISTRY

        if subject == EVENTS:
            self.feed.notify(value)
            return
        work = self._registry if subject == REGISTRY else self.checkpoints.refresh
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(asyncio.get_running_loop().create_task(self._off_loop(work)))

    async def _off_loop(self, work: Callable[[], None]) -> None:
        try:
            await asyncio.to_thread(work)
        except Exception:  # the next ring or poll tries again
            log.exception("following the store failed")

    def _registry(self) -> None:
        self._registry_checked = time.monotonic()
        if self.registry is not None:
            self.registry()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow()), loop.create_task(self._poll())]

    async def _follow(self) -> None:
        while True:  # the store away for a moment must not end delivery for good
            try:
                await self._publish_all()
            except Exception:
                log.exception("reading events from the store failed; resuming in %.1f s",
                              self.poll_secs)
                await asyncio.sleep(self.poll_secs)

    async def _publish_all(self) -> None:
        async for event in self.feed.follow(self.fanout.last_published):
            try:
                areas, received_ts = await asyncio.to_thread(self._facts, event)
            except Exception:  # without its shapes a point is matched by its hromada: still sent
                log.exception("reading alert %s of event %d failed", event.alert_id, event.id)
                areas, received_ts = (), None
            try:
                queued = self.fanout.publish(event, areas)
            except Exception:  # one bad event must never stop the others being delivered
                log.exception("publishing event %d failed", event.id)
                self.fanout.last_published = max(self.fanout.last_published, event.id)
                continue
            if self.on_published is not None:
                self.on_published(event, queued, received_ts)

    def _facts(self, event: StreamEvent) -> tuple[tuple[Area, ...], float | None]:
        """A new alert's CAP areas (points then match its shapes exactly, as in the writer)
        and when the writer received it."""
        record = self.store.get(event.alert_id)
        if record is None:
            return (), None
        if event.kind != "alert" or record.msg_type != "Alert":
            # An Update or Cancel reaches whoever got what it ends: by region codes.
            return (), record.received_ts
        alert = parse_alert(record.cap, strict=False).alert
        return tuple(area for info in alert.info for area in info.area), record.received_ts

    async def _poll(self) -> None:
        """Look at the store every ``poll_secs``: the bound on delay when doorbells fail."""
        while True:
            try:
                last = await asyncio.to_thread(self.store.last_event_id)
                await asyncio.to_thread(self.checkpoints.refresh)
                if time.monotonic() - self._registry_checked >= REGISTRY_CHECK_SECS:
                    await asyncio.to_thread(self._registry)
            except Exception:  # the store away for a moment: look again next period
                log.exception("looking at the store failed; retrying in %.1f s", self.poll_secs)
            else:
                self.last_poll = time.monotonic()
                self.store_last = last
                if last > self.fanout.last_published:  # behind, whatever the rings said
                    if last > self.feed.last_id:
                        self.doorbells_missed += 1
                    self.feed.notify(last)
            await asyncio.sleep(self.poll_secs)  # a polling period, not a wait for a result

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
