"""The one event feed: every consumer follows the committed stream events from an id.

Followers — live fan-out, the checkpointer, monitors, the push and webhook senders — read
committed events in id order, starting after the last id they handled (resume), then wait
for more. The store is the truth: an event reaches a follower only once it is durable, and
ids come from the store, so a follower that restarts, falls behind or runs in another
process resumes without gap or duplicate. (The message check follows nothing: the store
files its search text with the alert.)

Waking is the only thing a bus adds. In-process, the writer hands each committed batch to
:meth:`EventFeed.committed` on the event loop right after the commit: the feed keeps the
newest :data:`RECENT_EVENTS` of them, so a follower that keeps up is served from memory
with no store read and no thread hop (the fan-out's latency is a loop turn, as before it
was a follower). A bus in another process would only call :meth:`EventFeed.notify` — a
doorbell that carries no event — and followers then read the store.

Invariants: :meth:`EventFeed.follow` yields events with strictly increasing ids, each id
greater than ``after``; every committed event with an id in ``(covered_from, last_id]`` is
in the in-memory window (so serving from it never skips one); a follower holds at most
``batch`` events from the store in memory; one slow follower delays nobody else (each
reads at its own pace).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from tocsin.store.base import StorageUnavailable, StreamEvent

DEFAULT_BATCH = 500
RECENT_EVENTS = 512  # committed events kept in memory for followers that keep up
#: Pauses between reads of a store that is unavailable: the first, and the longest.
STORE_RETRY_FIRST_SECS = 0.05
STORE_RETRY_MAX_SECS = 1.0

log = logging.getLogger("tocsin.feed")


class EventSource(Protocol):
    """What the feed reads (every :class:`tocsin.store.base.Store` provides it)."""

    def events_after(self, event_id: int, limit: int = 1000) -> list[StreamEvent]: ...

    def last_event_id(self) -> int: ...


class EventFeed:
    """Committed events for any number of followers, woken by :meth:`committed` or :meth:`notify`."""

    def __init__(self, source: EventSource, *, batch: int = DEFAULT_BATCH,
                 recent: int = RECENT_EVENTS) -> None:
        self._source = source
        self._batch = batch
        self._last = source.last_event_id()
        self._recent: deque[StreamEvent] = deque()
        self._recent_max = recent
        self._covered_from = self._last  # the window holds every committed id above this
        self._gap = False  # a commit's outcome is unknown: its events may be missing here
        self._changed = asyncio.Event()

    @property
    def last_id(self) -> int:
        """The newest committed event id this feed has been told of."""
        return self._last

    def committed(self, events: Sequence[StreamEvent]) -> None:
        """The hub's own writer committed ``events`` (in id order): keep them, wake followers.

        Only the store's one writer calls this (the Store contract: writes come from one
        writer), so no other event can have been committed between the window's newest
        and these.
        """
        if self._gap and events:  # what the failed commit may have stored lies below these
            self._recent.clear()
            self._covered_from = max(self._covered_from, events[0].id - 1)
            self._gap = False
        for event in events:
            if event.id <= self._last:
                continue
            self._recent.append(event)
            self._last = event.id
            if len(self._recent) > self._recent_max:
                self._covered_from = self._recent.popleft().id
        self._wake()

    def uncertain(self) -> None:
        """A commit failed with its outcome unknown (PostgreSQL: the connection was lost during
        COMMIT): what it may have stored is not in the window, so the window stops covering
        below the next committed batch, and followers read that stretch from the store."""
        self._gap = True

    def notify(self, last_id: int) -> None:
        """Events up to ``last_id`` are committed elsewhere (a doorbell): followers read the store."""
        if last_id > self._last:
            self._last = last_id
            self._recent.clear()  # events it does not hold: the window no longer covers
            self._covered_from = last_id
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait(self, after: int) -> int:
        """Return the newest committed id once it is above ``after`` (at once if it is)."""
        while self._last <= after:
            await self._changed.wait()
        return self._last

    async def read(self, after: int) -> Sequence[StreamEvent]:
        """The next committed events after ``after`` (at most one batch).

        From the in-memory window when it covers ``after`` (no await), else from the store
        off the loop. A store that is unavailable for a while (a PostgreSQL restart) is asked
        again after a pause that doubles up to :data:`STORE_RETRY_MAX_SECS`: no follower dies
        of an outage.
        """
        if after >= self._covered_from:
            newer: list[StreamEvent] = []
            for event in reversed(self._recent):
                if event.id <= after:
                    break
                newer.append(event)
            newer.reverse()
            return newer
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
