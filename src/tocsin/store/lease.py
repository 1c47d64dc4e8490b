"""Keeping (or waiting for) writer leadership of a shared store, on the event loop.

:class:`LeaseKeeper` asks the store every :data:`LEASE_CHECK_SECS` whether it still leads
(:meth:`~tocsin.store.base.Leadership.is_leader`, which re-takes its own lock after a
PostgreSQL restart) and, when it does not, tries to take the lead — so a standby writer leads
within about that interval of the leader's lock being freed, and a leader that lost its
session resumes by itself. The fencing inside every commit, not this loop, is what keeps a
stale leader from writing; the loop only decides who *tries* to write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from tocsin.store.base import Leadership, StorageUnavailable

log = logging.getLogger("tocsin.store")

#: Seconds between leadership checks (a standby takes over within about this after the lock frees).
LEASE_CHECK_SECS = 1.0


class LeaseKeeper:
    """Hold the lead of ``store`` while running (``leading`` says whether it does now)."""

    def __init__(self, store: Leadership, *, interval_secs: float = LEASE_CHECK_SECS) -> None:
        self.store = store
        self.interval_secs = interval_secs
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    async def check(self) -> bool:
        """One round: still leading, or take the lead if free; returns whether leading now."""
        try:
            leading = await asyncio.to_thread(self.store.is_leader)
            if not leading:
                leading = await asyncio.to_thread(self.store.acquire_leadership)
        except StorageUnavailable as exc:
            log.warning("writer leadership cannot be checked: %s", exc)
            leading = False
        if leading != self.leading:
            log.warning("this writer %s (epoch %s)", "leads" if leading else "does not lead",
                        self.store.fencing_token)
        self.leading = leading
        return leading

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
