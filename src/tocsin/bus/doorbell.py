"""The NATS doorbell: a writer rings it after each commit; edges listen (issue 14).

A message carries nothing but an ASCII number: on :data:`EVENTS` the newest committed event
id, on :data:`CHECKPOINTS` the size of the newest signed checkpoint, on :data:`REGISTRY` the
version of a newly logged issuer registry. Whoever hears it reads
from the store; a forged or lost ring therefore delivers nothing the store does not hold, it
only wakes a reader early (or not at all: then the edge's poll finds the event, <= 2 s).

Failure model: NATS may be down at start, stop, or come back at any time. The connection is
retried for ever in the background (every :data:`RECONNECT_WAIT_SECS`), rings while it is
down are dropped (never buffered: a stale ring is worthless and the poll covers the gap),
and nothing on the issuing path ever waits for NATS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from nats.aio.client import Client
from nats.aio.msg import Msg

log = logging.getLogger("tocsin.bus")

EVENTS = "tocsin.events"
CHECKPOINTS = "tocsin.checkpoints"
REGISTRY = "tocsin.registry"
RECONNECT_WAIT_SECS = 0.5
CONNECT_TIMEOUT_SECS = 1
#: Seconds between two warnings about the same NATS trouble (a down server retried twice a
#: second must not flood the log).
WARN_EVERY_SECS = 30.0

Ring = Callable[[str, int], None]


class Doorbell:
    """One process's NATS connection: ring (writer) and/or listen (edge)."""

    def __init__(self, servers: str, *, on_ring: Ring | None = None) -> None:
        self.servers = [s.strip() for s in servers.split(",") if s.strip()]
        self.on_ring = on_ring
        self._nc: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._warned = 0.0
        self.rings_sent = 0
        self.rings_heard = 0
        self.connects = 0

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        """Connect in the background (returns at once; NATS may be down)."""
        self._task = asyncio.create_task(self._connect())

    async def _connect(self) -> None:
        nc = Client()

        async def on_error(exc: Exception) -> None:
            now = time.monotonic()
            if now - self._warned >= WARN_EVERY_SECS:
                self._warned = now
                log.warning("NATS %s: %s (retrying every %.1f s; edges poll the store meanwhile)",
                            ",".join(self.servers), exc, RECONNECT_WAIT_SECS)

        async def on_reconnect() -> None:
            self.connects += 1
            log.info("NATS connection back")

        # max_reconnect_attempts=-1: the first connect too is retried for ever.
        await nc.connect(servers=self.servers, allow_reconnect=True, max_reconnect_attempts=-1,
                         reconnect_time_wait=RECONNECT_WAIT_SECS,  # type: ignore[arg-type]
                         connect_timeout=CONNECT_TIMEOUT_SECS, error_cb=on_error,
                         reconnected_cb=on_reconnect, ping_interval=5, max_outstanding_pings=2,
                         name="tocsin")
        self.connects += 1
        self._nc = nc
        if self.on_ring is not None:
            await nc.subscribe(EVENTS, cb=self._heard)
            await nc.subscribe(CHECKPOINTS, cb=self._heard)
            await nc.subscribe(REGISTRY, cb=self._heard)

    async def _heard(self, msg: Msg) -> None:
        text = msg.data[:20]
        if not (text.isascii() and text.isdigit()):
            return  # not ours: a doorbell carries only a number
        self.rings_heard += 1
        if self.on_ring is not None:
            self.on_ring(msg.subject, int(text))

    def ring(self, subject: str, value: int) -> None:
        """Tell the edges ``value`` is committed (never waits; dropped while NATS is down)."""
        nc = self._nc
        if nc is None or not nc.is_connected:
            return
        self.rings_sent += 1
        task = asyncio.get_running_loop().create_task(nc.publish(subject, b"%d" % value))
        task.add_done_callback(_ignore_failure)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._nc.close(), 2)


def _ignore_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("a doorbell ring was lost: %s", task.exception())  # the edges' poll covers it

