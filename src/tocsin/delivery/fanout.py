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
from collections.abc import Hashable, Iterable, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar

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
    """One live subscription: which regions it wants, and what waits for it.

    Kept small, because a hub holds one per connected client (``__slots__``; the queue is
    made on first use; the wake-up is one future while the stream waits, not an
    ``asyncio.Event`` with its own deque): at 100,000 subscribers every hundred bytes here
    is ten megabytes.
    """

    __slots__ = ("_queue", "_waiter", "busy", "client", "denials", "ended", "last_id",
                 "overflowed", "point", "queue_max", "regions", "sink")

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
        self._queue: deque[Frame] | None = None
        self.queue_max = queue_max
        self._waiter: asyncio.Future[bool] | None = None
        self.overflowed = False
        self.ended = False  # the connection is gone or the server is closing: stop streaming

    @property
    def queue(self) -> deque[Frame]:
        """Frames waiting for the subscriber's task, oldest first (made on first use)."""
        if self._queue is None:
            self._queue = deque()
        return self._queue

    @property
    def pending(self) -> bool:
        """Whether any frame waits in the queue."""
        return bool(self._queue)

    def wants(self, event: StreamEvent) -> bool:
        if event.kind == DENIAL:
            return self.denials
        return self.regions is None or not self.regions.isdisjoint(event.regions)

    def push(self, frame: Frame) -> None:
        """Queue ``frame`` for the subscriber's task (the slow path; see :meth:`Fanout.publish`)."""
        if self.overflowed or frame.id <= self.last_id:
            return
        queue = self.queue
        if len(queue) >= self.queue_max:
            self.overflowed = True
            self._queue = None  # dropped whole: the stream tells the client to resume
        else:
            queue.append(frame)
        self.wake()

    def end(self) -> None:
        """The stream must stop (its connection is gone, or the server is closing)."""
        self.ended = True
        self.sink = None
        self.wake()

    def wake(self) -> None:
        """Wake the subscriber's task if it waits in :meth:`wait`."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    async def wait(self, timeout: float) -> bool:
        """Wait until woken (True) or ``timeout`` seconds pass (False).

        One future and one timer handle while waiting, nothing while not.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(timeout, _time_up, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _time_up(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class TooManySubscriptions(Exception):
    """A client asked for more live subscriptions than it may hold."""


K = TypeVar("K", bound=Hashable)


class PlaceIndex(Generic[K]):
    """Who an event reaches by place: region codes, points, or everything.

    The one matcher of live delivery, shared by the fan-out (live streams) and the push
    sender, so both reach exactly the same places. Keys are anything hashable (a live
    :class:`Subscriber`, a push subscription id). A key holds region codes (``None``:
    every region) and at most one point; a point is matched exactly against an alert's
    shapes when the areas are given, else by the hromadas holding it.
    """

    def __init__(self, regions: RegionSet | None = None) -> None:
        self._regions = regions
        self._points: PointIndex[K] | None = None
        self._by_region: dict[str, set[K]] = {}
        self._everything: set[K] = set()
        self._codes: dict[K, frozenset[str]] = {}  # own codes plus a point's hromadas
        self._point_keys: set[K] = set()

    def __len__(self) -> int:
        return len(self._codes) + len(self._everything)

    def points(self) -> PointIndex[K]:
        """The point index, built on first use (it loads the region geometry)."""
        if self._points is None:
            from tocsin.regions.subscriptions import PointIndex

            self._points = PointIndex(self._regions)
        return self._points

    def add(self, key: K, codes: Iterable[str] | None,
            point: tuple[float, float] | None = None) -> frozenset[str] | None:
        """Index ``key``; returns the codes it matches by (None: everything).

        A point outside every region raises the region module's errors and adds nothing.
        """
        own = frozenset(codes) if codes is not None else None
        matched = own
        if point is not None:
            leaves = self.points().add(key, *point)
            matched = (own or frozenset()) | frozenset(leaves)
            self._point_keys.add(key)
        if matched is None:
            self._everything.add(key)
            return None
        for code in own or ():
            self._by_region.setdefault(code, set()).add(key)
        self._codes[key] = matched
        return matched

    def remove(self, key: K) -> None:
        self._everything.discard(key)
        if key in self._point_keys and self._points is not None:
            self._points.remove(key)
            self._point_keys.discard(key)
        for code in self._codes.pop(key, ()):
            keys = self._by_region.get(code)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_region[code]

    def match(self, regions: Sequence[str], areas: Sequence[Area] = ()) -> set[K]:
        """Every key an event for ``regions`` (its targets) reaches.

        ``areas`` are the alert's CAP areas (exact point matching); without them points
        are matched by their hromadas among ``regions``.
        """
        found: set[K] = set(self._everything)
        by_region = self._by_region
        for code in regions:
            keys = by_region.get(code)
            if keys:
                found |= keys
        if self._points is not None and len(self._points):
            if areas:
                for area in areas:
                    found |= self._points.match(area)
            else:
                codes = self._codes
                found |= {k for k in self._points.match(regions)
                          if not codes[k].isdisjoint(regions)}
        return found


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
        self._index: PlaceIndex[Subscriber] = PlaceIndex(regions)
        self._denials: set[Subscriber] = set()
        self._per_client: dict[str, int] = {}
        self._live: set[Subscriber] = set()
        self.last_published = 0
        self.delivered_total = 0

    @property
    def subscriber_count(self) -> int:
        return sum(self._per_client.values())

    def points(self) -> PointIndex[Subscriber]:
        """The point index, built on first use (it loads the region geometry)."""
        return self._index.points()

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
        sub.regions = self._index.add(sub, codes, point)
        if denials:
            self._denials.add(sub)
        self._per_client[client] = held + 1
        self._live.add(sub)
        return sub

    def end_all(self) -> None:
        """Tell every subscriber's stream to stop (the server is shutting down)."""
        for sub in self._live:
            sub.end()

    def unsubscribe(self, sub: Subscriber) -> None:
        self._live.discard(sub)
        self._denials.discard(sub)
        self._index.remove(sub)
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
            targets = self._index.match(event.regions, areas)
        # The hot loop: at 10,000 subscribers every call per subscriber shows. A subscriber
        # that keeps up (live, nothing queued, its task not mid-send, its connection's buffer
        # small) gets the pre-chunked frame written straight to its connection; any other
        # goes through its queue and task, which keeps order and flow control.
        fid = event.id
        chunk = frame.sse_chunk
        limit = DIRECT_WRITE_MAX_BUFFER
        for sub in targets:
            sink = sub.sink
            if (sink is not None and fid > sub.last_id and not sub._queue and not sub.busy
                    and not sub.overflowed and sink.get_write_buffer_size() <= limit
                    and not sink.is_closing()):
                sink.write(chunk)
                sub.last_id = fid
            else:
                sub.push(frame)
        self.last_published = max(self.last_published, event.id)
        self.delivered_total += len(targets)
        return len(targets)
