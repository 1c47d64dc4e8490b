"""In-process fan-out: region code -> live subscribers, each with a bounded queue.

Failure model (after ntfy's topic and zulip's event queues):

* ``publish`` never awaits and never blocks: it appends to each matching
  subscriber's queue and wakes it. A slow or stuck subscriber therefore never
  delays the others.
* A queue holds at most ``queue_max`` events. When it would overflow, the
  subscriber is marked *overflowed*, its queue is dropped, and its stream
  tells the client to resume from the last id it delivered (the store keeps
  every event, so resuming loses nothing).
* The wire frames of an event are encoded once per event, not per subscriber.

All methods run on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable

from tocsin.store.base import StreamEvent

QUEUE_MAX_EVENTS = 256


class Frame:
    """One stream event with its encodings, computed at most once."""

    __slots__ = ("_sse", "event")

    def __init__(self, event: StreamEvent) -> None:
        self.event = event
        self._sse: bytes | None = None

    @property
    def id(self) -> int:
        return self.event.id

    @property
    def sse(self) -> bytes:
        """The Server-Sent Events frame (``data`` is single-line JSON)."""
        if self._sse is None:
            self._sse = b"id: %d\nevent: %s\ndata: %s\n\n" % (
                self.event.id,
                self.event.kind.encode(),
                self.event.data,
            )
        return self._sse


class Subscriber:
    """One live subscription: which regions it wants, and what waits for it."""

    __slots__ = ("client", "overflowed", "queue", "queue_max", "regions", "wakeup")

    def __init__(self, regions: frozenset[str] | None, client: str, queue_max: int) -> None:
        self.regions = regions  # None: every region
        self.client = client
        self.queue: deque[Frame] = deque()
        self.queue_max = queue_max
        self.wakeup = asyncio.Event()
        self.overflowed = False

    def wants(self, event: StreamEvent) -> bool:
        return self.regions is None or not self.regions.isdisjoint(event.regions)

    def push(self, frame: Frame) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= self.queue_max:
            self.overflowed = True
            self.queue.clear()
        else:
            self.queue.append(frame)
        self.wakeup.set()


class TooManySubscriptions(Exception):
    """A client asked for more live subscriptions than it may hold."""


class Fanout:
    """Routes each published event to the subscribers of its regions."""

    def __init__(self, *, queue_max: int = QUEUE_MAX_EVENTS, per_client_max: int = 64) -> None:
        self.queue_max = queue_max
        self.per_client_max = per_client_max
        self._by_region: dict[str, set[Subscriber]] = {}
        self._everything: set[Subscriber] = set()
        self._per_client: dict[str, int] = {}
        self.last_published = 0
        self.delivered_total = 0

    @property
    def subscriber_count(self) -> int:
        return sum(self._per_client.values())

    def subscribe(self, regions: Iterable[str] | None, client: str) -> Subscriber:
        held = self._per_client.get(client, 0)
        if held >= self.per_client_max:
            raise TooManySubscriptions(
                f"{client} already holds {held} live subscriptions (limit {self.per_client_max})"
            )
        wanted = None if regions is None else frozenset(regions)
        sub = Subscriber(wanted, client, self.queue_max)
        if wanted is None:
            self._everything.add(sub)
        else:
            for code in wanted:
                self._by_region.setdefault(code, set()).add(sub)
        self._per_client[client] = held + 1
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub.regions is None:
            self._everything.discard(sub)
        else:
            for code in sub.regions:
                subs = self._by_region.get(code)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._by_region[code]
        left = self._per_client.get(sub.client, 0) - 1
        if left > 0:
            self._per_client[sub.client] = left
        else:
            self._per_client.pop(sub.client, None)

    def publish(self, event: StreamEvent) -> int:
        """Queue ``event`` for every subscriber of its regions; return how many."""
        frame = Frame(event)
        targets: set[Subscriber] = set(self._everything)
        by_region = self._by_region
        for code in event.regions:
            subs = by_region.get(code)
            if subs:
                targets |= subs
        for sub in targets:
            sub.push(frame)
        self.last_published = max(self.last_published, event.id)
        self.delivered_total += len(targets)
        return len(targets)
