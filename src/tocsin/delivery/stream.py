"""One live stream, whatever the transport: replay from the store, then follow.

Resumption without gap or duplicate: the subscriber is registered with the
fan-out *before* the store is read, so an event committed meanwhile is either
in the replay or in the queue (or both); delivery skips any id it has already
sent. Ids are the store's event ids, which survive restarts.

The transports (SSE, WebSocket) give an async ``send(frame_or_control)``;
this module never touches the network itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tocsin.delivery.fanout import Fanout, Frame, Sink, Subscriber
from tocsin.store.base import Store

HEARTBEAT_INTERVAL_SECS = 15.0
REPLAY_PAGE_EVENTS = 500


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing happened for a while; the transport sends a keep-alive."""


@dataclass(frozen=True, slots=True)
class Resync:
    """The subscriber fell too far behind; it must reconnect from ``last_id``."""

    last_id: int


Item = Frame | Heartbeat | Resync
Send = Callable[[Item], Awaitable[None]]


async def run_stream(
    *,
    fanout: Fanout,
    store: Store,
    subscriber: Subscriber,
    resume_after: int | None,
    send: Send,
    heartbeat_secs: float = HEARTBEAT_INTERVAL_SECS,
    sink: Sink | None = None,
) -> None:
    """Deliver events to one subscriber until the transport fails, it must resync, or it ends.

    It ends (returns) once :meth:`Subscriber.end` is called: the connection is gone, or
    the server is closing (:meth:`Fanout.end_all`).

    The caller registered ``subscriber`` with ``fanout`` before calling and
    unregisters it afterwards (in a ``finally``). ``sink``, if given, lets the
    fan-out write live frames straight to the connection once the replay is
    done (see :meth:`~tocsin.delivery.fanout.Fanout.publish`).
    """
    if resume_after is not None:
        # An id from the future (a client that kept it across a reset, or a typo) must not
        # silence the stream: resume from the newest event that exists instead.
        newest = await asyncio.to_thread(store.last_event_id)
        subscriber.last_id = min(resume_after, newest)
        while True:
            batch = await asyncio.to_thread(store.events_after, subscriber.last_id,
                                            REPLAY_PAGE_EVENTS)
            for event in batch:
                if event.id <= subscriber.last_id:
                    continue
                if subscriber.wants(event):
                    await _send(subscriber, send, Frame(event))
                subscriber.last_id = event.id
            if len(batch) < REPLAY_PAGE_EVENTS:
                break
    while not subscriber.ended:
        if not subscriber.pending and not subscriber.overflowed:
            subscriber.sink = sink  # live from here on: nothing queued, replay done
            # One future and one timer while waiting (no Event, no asyncio.timeout object):
            # a hub holds one of these per connected client.
            if not await subscriber.wait(heartbeat_secs):
                await _send(subscriber, send, Heartbeat())
                continue
            if subscriber.ended:
                break
        if subscriber.overflowed:
            subscriber.sink = None
            await send(Resync(subscriber.last_id))
            return
        queue = subscriber.queue
        while queue:
            frame = queue.popleft()
            if frame.id <= subscriber.last_id:
                continue
            await _send(subscriber, send, frame)
            subscriber.last_id = frame.id


async def _send(subscriber: Subscriber, send: Send, item: Item) -> None:
    """Send through the transport's slow path; no direct write may overtake it meanwhile."""
    subscriber.busy = True
    try:
        await send(item)
    finally:
        subscriber.busy = False
