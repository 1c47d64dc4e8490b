"""A feed follower's delivery progress: which events are still being delivered, and where to resume.

The push and email senders follow the committed event feed and queue one job per subscription
per event. This class holds the bookkeeping they share, once:

* ``outstanding`` maps an event id to ``[jobs left, queued at (monotonic)]``, in feed order. The
  follower adds an entry with a guard count of 1 while it queues, then settles the guard.
* ``handled`` is the newest event the follower has read; ``position()`` is the newest event id every
  subscription has been served: one less than the oldest outstanding event, or ``handled``.
  Saving that position and restarting from it loses nothing (at worst a message is sent twice).
* ``pending`` counts queued jobs; the follower waits on ``room`` at ``max_pending`` and is woken
  when half of them have gone (back-pressure, so a slow relay cannot grow memory without bound).
* ``served`` lists (subscription id, event id) pairs since the last save; ``dirty`` says there is
  something to save. ``flush`` saves both in one store call, off the event loop.
* ``follow`` is the senders' one loop over the feed: handle an event (an error in one never
  stops the next), record it as handled, and wait for room at ``max_pending``.

All methods run on the event loop thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from tocsin.kinds import KindClass, kind_class

if TYPE_CHECKING:
    from tocsin.feed import EventFeed
    from tocsin.store.base import AlertRecord, StreamEvent

__all__ = ["DeliveryProgress", "references_threat"]

log = logging.getLogger("tocsin.delivery")


def references_threat(view: dict[str, Any],
                      find_alert: Callable[[str, str], AlertRecord | None]) -> bool:
    """Whether an Update or Cancel (its JSON ``view``) names a threat this hub holds.

    Push and email tell people only about threats and what ends them; an Update or Cancel of a
    notice is not news to them. ``find_alert(sender, identifier)`` reads the store (blocking).
    """
    for ref in view.get("references") or []:
        sender, _, rest = str(ref).partition(",")
        found = find_alert(sender, rest.partition(",")[0])
        if found is not None and kind_class(found.kinds) is KindClass.THREAT:
            return True
    return False


class _Job(Protocol):
    @property
    def event_id(self) -> int: ...


_J_co = TypeVar("_J_co", bound=_Job, covariant=True)


class _Queue(Protocol[_J_co]):
    def popleft(self) -> _J_co: ...


class _Queued(Protocol):
    @property
    def queue(self) -> _Queue[_Job]: ...


class DeliveryProgress:
    """Outstanding events, back-pressure and the saved position of one sender (see module docstring)."""

    def __init__(self, *, max_pending: int, save: Callable[[int, Sequence[tuple[str, int]]], None],
                 failed: Callable[[str], None]) -> None:
        self.max_pending = max_pending
        self._save = save  # (position, served) -> None; blocking, run in a thread
        self._failed = failed  # counts a job given up, by reason
        self.outstanding: dict[int, list[float]] = {}  # event id -> [jobs left, queued at]
        self.handled = 0
        self.served: list[tuple[str, int]] = []
        self.dirty = False
        self.pending = 0
        self.room = asyncio.Event()
        self.room.set()

    def fail(self, state: _Queued, reason: str) -> None:
        """Give up the job at the head of ``state``'s queue."""
        job = state.queue.popleft()
        self._failed(reason)
        self.complete(job)

    def complete(self, job: _Job) -> None:
        """A job is done (sent or given up): free its room and settle its event."""
        self.pending -= 1
        if self.pending < self.max_pending // 2:
            self.room.set()
        entry = self.outstanding.get(job.event_id)
        if entry is not None:
            self.settle(job.event_id, entry)

    def settle(self, event_id: int, entry: list[float]) -> None:
        """One job (or the enqueue guard) of an event is done."""
        self.dirty = True
        entry[0] -= 1
        if entry[0] <= 0:
            self.outstanding.pop(event_id, None)

    def position(self) -> int:
        """The newest event id every subscription has been served."""
        if self.outstanding:
            return min(next(iter(self.outstanding)) - 1, self.handled)
        return self.handled

    def queue_age(self) -> float:
        """Seconds the oldest outstanding event has waited (0 when none)."""
        if not self.outstanding:
            return 0.0
        return max(0.0, time.monotonic() - next(iter(self.outstanding.values()))[1])

    async def follow(self, feed: EventFeed, after: int,
                     handle: Callable[[StreamEvent], Awaitable[None]], what: str) -> None:
        """Follow ``feed`` from ``after``: handle each event, then wait while the queues are full.

        An exception in ``handle`` is logged (as ``what``) and the event counts as handled: one
        bad event must never stop delivery of the next.
        """
        async for event in feed.follow(after):
            try:
                await handle(event)
            except Exception:
                log.exception("%s: event %d could not be handled", what, event.id)
            self.handled = event.id
            self.dirty = True
            if self.pending >= self.max_pending:
                self.room.clear()
                await self.room.wait()

    async def flush(self) -> None:
        """Save the position and the served pairs, if anything changed since the last save."""
        if not self.dirty:
            return
        self.dirty = False
        served, self.served = self.served, []
        await asyncio.to_thread(self._save, self.position(), served)
