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

from tocsin.delivery.fanout import Fanout, Frame, Subscriber
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
) -> None:
    """Deliver events to one subscriber until the transport fails or it must resync.

    The caller registered ``subscriber`` with ``fanout`` before calling and
    unregisters it afterwards (in a ``finally``).
    """
    last = resume_after if resume_after is not None else fanout.last_published
    if resume_after is not None:
        while True:
            batch = await asyncio.to_thread(store.events_after, last, REPLAY_PAGE_EVENTS)
            for event in batch:
                if subscriber.wants(event):
                    await send(Frame(event))
                last = event.id
            if len(batch) < REPLAY_PAGE_EVENTS:
                break
    wakeup = subscriber.wakeup
    queue = subscriber.queue
    while True:
        if not queue and not subscriber.overflowed:
            wakeup.clear()
            try:
                await asyncio.wait_for(wakeup.wait(), heartbeat_secs)
            except TimeoutError:
                await send(Heartbeat())
                continue
        if subscriber.overflowed:
            await send(Resync(last))
            return
        while queue:
            frame = queue.popleft()
            if frame.id <= last:
                continue
            last = frame.id
            await send(frame)
