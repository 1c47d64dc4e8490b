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
* A denial event (``kind == "denial"``) is about a message, not a place: it goes
  to denial subscribers only, never to a region, point or everything subscriber.

All methods run on the event loop thread.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from tocsin.store.base import StreamEvent

if TYPE_CHECKING:
    from tocsin.cap.model import Area
    from tocsin.regions import RegionSet
    from tocsin.regions.subscriptions import PointIndex

QUEUE_MAX_EVENTS = 256
DENIAL = "denial"  # the stream event type of a signed denial


class Frame:
    """One stream event with its encodings, computed at most once."""

    __slots__ = ("_chunk", "_sse", "event")

    def __init__(self, event: StreamEvent) -> None:
        self.event = event
        self._sse: bytes | None = None
        self._chunk: bytes | None = None

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

    @property
    def sse_chunk(self) -> bytes:
        """The SSE frame as one HTTP/1.1 chunk, for writing straight to a transport."""
        if self._chunk is None:
            sse = self.sse
            self._chunk = b"%x\r\n%s\r\n" % (len(sse), sse)
        return self._chunk


#: Above this many unsent bytes on a connection, frames go through the subscriber's queue.
DIRECT_WRITE_MAX_BUFFER = 64 * 1024


class Sink(Protocol):
    """A connection publishing may write finished HTTP chunks to (an asyncio transport)."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...


class Subscriber:
    """One live subscription: which regions it wants, and what waits for it."""

    __slots__ = ("busy", "client", "denials", "last_id", "overflowed", "point", "queue",
                 "queue_max", "regions", "sink", "wakeup")

    def __init__(self, regions: frozenset[str] | None, client: str, queue_max: int,
                 point: tuple[float, float] | None = None, last_id: int = 0,
                 denials: bool = False) -> None:
        self.regions = regions  # None: every region (for a point: its hromadas)
        self.denials = denials  # also (or, with no regions, only) denial events
        self.point = point
        self.last_id = last_id  # the newest event id delivered (or skipped as already sent)
        # Set by the transport once the stream is live (replay done): publishing then writes
        # straight to the connection -- no task wake-up, no ASGI layers -- while the
        # subscriber keeps up. ``busy`` is true while its task is sending, to keep order.
        self.sink: Sink | None = None
        self.busy = False
        self.client = client
        self.queue: deque[Frame] = deque()
        self.queue_max = queue_max
        self.wakeup = asyncio.Event()
        self.overflowed = False

    def wants(self, event: StreamEvent) -> bool:
        if event.kind == DENIAL:
            return self.denials
        return self.regions is None or not self.regions.isdisjoint(event.regions)

    def push(self, frame: Frame) -> None:
        """Queue ``frame`` for the subscriber's task (the slow path; see :meth:`Fanout.publish`)."""
        if self.overflowed or frame.id <= self.last_id:
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
    """Routes each published event to the subscribers of its regions, or at its points.

    Point subscribers live in a :class:`~tocsin.regions.subscriptions.PointIndex`
    (pre-computed hromada membership plus a vectorised point-in-shape test), so
    a polygon alert reaches exactly the points inside it without scanning every
    subscriber. Events replayed from the store carry no shapes; they reach a
    point subscriber by its hromada (never fewer alerts than live, possibly one
    more for a shape that only grazes its hromada).
    """

    def __init__(self, *, queue_max: int = QUEUE_MAX_EVENTS, per_client_max: int = 64,
                 regions: RegionSet | None = None) -> None:
        self.queue_max = queue_max
        self.per_client_max = per_client_max
        self._regions = regions
        self._points: PointIndex[Subscriber] | None = None
        self._by_region: dict[str, set[Subscriber]] = {}
        self._everything: set[Subscriber] = set()
        self._denials: set[Subscriber] = set()
        self._per_client: dict[str, int] = {}
        self.last_published = 0
        self.delivered_total = 0

    @property
    def subscriber_count(self) -> int:
        return sum(self._per_client.values())

    def points(self) -> PointIndex[Subscriber]:
        """The point index, built on first use (it loads the region geometry)."""
        if self._points is None:
            from tocsin.regions.subscriptions import PointIndex

            self._points = PointIndex(self._regions)
        return self._points

    def subscribe(self, regions: Iterable[str] | None, client: str,
                  point: tuple[float, float] | None = None, denials: bool = False) -> Subscriber:
        """Register a subscriber for region codes and/or a point (``(lat, lon)``).

        ``regions=None`` means every region's alerts (never denials). ``denials`` adds the
        denial events; with ``regions=()`` and no point the subscriber gets denials only.
        A point outside every region raises the region module's errors
        (``CoordinateError``, ``OutsideRegionsError``) and registers nothing.
        """
        held = self._per_client.get(client, 0)
        if held >= self.per_client_max:
            raise TooManySubscriptions(
                f"{client} already holds {held} live subscriptions (limit {self.per_client_max})"
            )
        codes = frozenset(regions) if regions is not None else None
        sub = Subscriber(codes, client, self.queue_max, point, last_id=self.last_published,
                         denials=denials)
        if point is not None:
            leaves = self.points().add(sub, *point)
            sub.regions = (codes or frozenset()) | frozenset(leaves)
        if sub.regions is None:
            self._everything.add(sub)
        else:
            for code in codes or ():
                self._by_region.setdefault(code, set()).add(sub)
        if denials:
            self._denials.add(sub)
        self._per_client[client] = held + 1
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._denials.discard(sub)
        if sub.point is not None and self._points is not None:
            self._points.remove(sub)
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

    def publish(self, event: StreamEvent, areas: Sequence[Area] = ()) -> int:
        """Queue ``event`` for every subscriber of its regions or at its points; return how many.

        ``areas`` are the alert's CAP areas (for exact point matching); without
        them points are matched by their hromadas in ``event.regions``.
        """
        frame = Frame(event)
        if event.kind == DENIAL:
            targets: set[Subscriber] = set(self._denials)
        else:
            targets = set(self._everything)
            by_region = self._by_region
            for code in event.regions:
                subs = by_region.get(code)
                if subs:
                    targets |= subs
        if event.kind != DENIAL and self._points is not None and len(self._points):
            if areas:
                for area in areas:
                    targets |= self._points.match(area)
            else:
                targets |= {s for s in self._points.match(event.regions) if s.wants(event)}
        # The hot loop: at 10,000 subscribers every call per subscriber shows. A subscriber
        # that keeps up (live, nothing queued, its task not mid-send, its connection's buffer
        # small) gets the pre-chunked frame written straight to its connection; any other
        # goes through its queue and task, which keeps order and flow control.
        fid = event.id
        chunk = frame.sse_chunk
        limit = DIRECT_WRITE_MAX_BUFFER
        for sub in targets:
            sink = sub.sink
            if (sink is not None and fid > sub.last_id and not sub.queue and not sub.busy
                    and not sub.overflowed and sink.get_write_buffer_size() <= limit
                    and not sink.is_closing()):
                sink.write(chunk)
                sub.last_id = fid
            else:
                sub.push(frame)
        self.last_published = max(self.last_published, event.id)
        self.delivered_total += len(targets)
        return len(targets)
