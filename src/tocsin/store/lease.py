"""Keeping (or waiting for) writer leadership of a shared store, on the event loop.

:class:`LeaseKeeper` asks the store every :data:`LEASE_CHECK_SECS` whether it still leads
(:meth:`~tocsin.store.base.Leadership.is_leader`, which re-takes its own lock after a
PostgreSQL restart) and, when it does not, tries to take the lead — so a standby writer leads
within about that interval of the leader's lock being freed, and a leader that lost its
session resumes by itself. The fencing inside every commit, not this loop, is what keeps a
stale leader from writing; the loop only decides who *tries* to write.

A leader whose epoch was superseded (another writer took the lead while this one was paused
or cut off) never takes the lead again in the same process: its in-memory state (the feed's
window, the checkpointer's last tree, the senders' progress) belongs to a past it no longer
owns. The keeper calls ``on_superseded`` instead; a ``tocsin serve`` writer then shuts down
and exits (its unit restarts it as a standby, :mod:`tocsin.bus.standby`).

While it leads, the keeper also says where this writer takes writes
(:meth:`~tocsin.store.base.Leadership.advertise_writer`), so edges hand writes to the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from tocsin.store.base import Leadership, StorageUnavailable

log = logging.getLogger("tocsin.store")

#: Seconds between leadership checks (a standby takes over within about this after the lock frees).
LEASE_CHECK_SECS = 1.0


class LeaseKeeper:
    """Hold the lead of ``store`` while running (``leading`` says whether it does now)."""

    def __init__(self, store: Leadership, *, interval_secs: float = LEASE_CHECK_SECS,
                 on_superseded: Callable[[], object] | None = None) -> None:
        self.store = store
        self.interval_secs = interval_secs
        self.leading = False
        #: Set once another writer's epoch superseded this one's: it never leads again.
        self.superseded = False
        self.on_superseded = on_superseded
        #: This writer's own address, said in the store while it leads (None: not said).
        self.url: str | None = None
        self._advertised = False
        self._led = False  # led at some point (a standby that never led is never superseded)
        self._task: asyncio.Task[None] | None = None

    async def advertise(self) -> None:
        """Say where this leader takes writes, if it has not yet (a failure: the next round)."""
        if self.url is None or self._advertised or not self.leading:
            return
        try:
            await asyncio.to_thread(self.store.advertise_writer, self.url)
            self._advertised = True
        except StorageUnavailable as exc:  # NotLeader included: the next round finds out
            log.warning("this writer cannot say where it takes writes yet: %s", exc)

    async def check(self) -> bool:
        """One round: still leading, or take the lead if free; returns whether leading now.

        A leader that finds its epoch superseded does not try again (module docstring).
        """
        if self.superseded:
            return False
        try:
            leading = await asyncio.to_thread(self.store.is_leader)
            # The token is dropped only when another epoch was seen (a lost connection keeps
            # it, to take its own lock back): a leader without it was superseded.
            if not leading and (self._led or self.leading) and self.store.fencing_token is None:
                self._supersede()
                return False
            if not leading:
                leading = await asyncio.to_thread(self.store.acquire_leadership)
                self._advertised = self._advertised and leading
        except StorageUnavailable as exc:
            log.warning("writer leadership cannot be checked: %s", exc)
            leading = False
        if leading != self.leading:
            log.warning("this writer %s (epoch %s)", "leads" if leading else "does not lead",
                        self.store.fencing_token)
        self.leading = leading
        if leading:
            self._led = True
            await self.advertise()
        return leading

    def _supersede(self) -> None:
        epoch, holder = None, None
        with contextlib.suppress(StorageUnavailable):
            epoch, holder = self.store.current_leader()
        log.error("another writer leads the store (%s, epoch %s): this writer stops and writes "
                  "nothing more", holder, epoch)
        self.superseded = True
        self.leading = False
        if self.on_superseded is not None:
            self.on_superseded()

    async def _run(self) -> None:
        while True:
            await self.check()
            await asyncio.sleep(self.interval_secs)  # the check's period, not a wait for a result

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, *, release: bool = True) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if release:
            await asyncio.to_thread(self.store.release_leadership)
        self.leading = False
