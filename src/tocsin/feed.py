"""The one event feed: every consumer follows the committed stream events from an id.

Followers — live fan-out, the checkpointer, the check index, monitors, the push and webhook
senders — read committed events *from the store* in id order, starting after the last id
they handled (resume), then wait for more. The store is the truth: an event reaches a
follower only once it is durable, and ids come from the store, so a follower that restarts,
falls behind or runs in another process resumes without gap or duplicate.

Waking is the only thing a bus adds: :meth:`EventFeed.notify` is called on the event loop
right after a commit (in-process: microseconds); a bus in another process (NATS) would only
call it too — it never carries an event the store does not hold.

Invariants: :meth:`EventFeed.follow` yields events with strictly increasing ids, each id
greater than ``after``; a follower holds at most ``batch`` events in memory; one slow
follower delays nobody else (each reads at its own pace).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from tocsin.store.base import StorageUnavailable, StreamEvent

DEFAULT_BATCH = 500
#: Pauses between reads of a store that is unavailable: the first, and the longest.
STORE_RETRY_FIRST_SECS = 0.05
STORE_RETRY_MAX_SECS = 1.0

log = logging.getLogger("tocsin.feed")


class EventSource(Protocol):
    """What the feed reads (every :class:`tocsin.store.base.Store` provides it)."""

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]: ...

    def last_event_id(self) -> int: ...


class EventFeed:
    """Committed events for any number of followers, woken by :meth:`notify`."""

    def __init__(self, source: EventSource, *, batch: int = DEFAULT_BATCH) -> None:
        self._source = source
        self._batch = batch
        self._last = source.last_event_id()
        self._changed = asyncio.Event()

    @property
    def last_id(self) -> int:
        """The newest committed event id this feed has been told of."""
        return self._last

    def notify(self, last_id: int) -> None:
        """Events up to ``last_id`` are committed: wake the followers (call on the loop)."""
        if last_id > self._last:
            self._last = last_id
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def read(self, after: int) -> Sequence[StreamEvent]:
        """The next committed events after ``after`` (at most one batch), off the loop.

        A store that is unavailable for a while (a PostgreSQL restart) is asked again after a
        pause that doubles up to :data:`STORE_RETRY_MAX_SECS`: no follower dies of an outage.
        """
        pause = STORE_RETRY_FIRST_SECS
        while True:
            try:
                return await asyncio.to_thread(self._source.events_after, after, self._batch)
            except StorageUnavailable as exc:
                log.warning("event feed: the store is unavailable (%s); retrying in %.2f s", exc, pause)
            await asyncio.sleep(pause)  # a retry's backoff, not a wait for a result
            pause = min(pause * 2, STORE_RETRY_MAX_SECS)

    async def follow(self, after: int) -> AsyncIterator[StreamEvent]:
        """Every committed event with id > ``after``, in order, forever (resume, then wait)."""
        while True:
            changed = self._changed
            events = await self.read(after) if after < self._last else ()
            moved = False
            for event in events:
                if event.id > after:
                    after, moved = event.id, True
                    yield event
            if not moved:
                await changed.wait()
