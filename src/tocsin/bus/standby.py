"""A standby writer: waits for the shared store's writer lock, then becomes the writer.

``tocsin serve --role writer --store postgresql://…`` started while another live writer leads
runs as a standby (docs/deploy.md): it listens on its address, but until it leads it writes,
signs and sends nothing — it has no hub yet. It answers ``/healthz`` (200, ``leading:
false``, ``standby: true``), ``/readyz`` (503) and ``/metrics`` itself, and every other request
``503 standby`` with ``Retry-After`` (edges hand writes to the leader the store names, never to
it).

It asks for the lock every :data:`WAIT_SECS`. PostgreSQL frees a session's advisory lock as
soon as the session ends — a killed process's connection is closed by its kernel — so the
standby takes the lead within about that period of the leader's death. Taking it increments
the epoch, fencing every write of the old leader. Only then does it open the writer, exactly
as a writer starting alone (:class:`tocsin.runtime.Hub` with the store it now leads):
:func:`tocsin.store.backend.check_shared_store` refuses a store that does not hold the tree of
the latest checkpoint the log key signed (the store's and this data directory's
``log.checkpoint``), checked under the lead so nothing is appended meanwhile; the checkpointer
signs only the store's own tree, which extends them; the senders resume from their durable
cursors. Then it serves requests with the hub's app and says where it takes writes.

A hub that cannot be opened (the store does not hold this key's log, a bad file) releases the
lead and the process exits (``on_failed``): a standby never serves a log it cannot vouch for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING

from starlette.types import Message, Receive, Scope, Send

from tocsin.api.errors import ApiError
from tocsin.store.base import StorageUnavailable

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from tocsin.runtime import Hub
    from tocsin.store.postgres import PostgresStore

log = logging.getLogger("tocsin.standby")

#: Seconds between a standby's attempts to take the writer lock.
WAIT_SECS = 0.5
RETRY_AFTER_SECS = 2
METRICS = ("# HELP tocsin_writer_leading 1 while this process leads as writer\n"
           "# TYPE tocsin_writer_leading gauge\ntocsin_writer_leading 0.0\n"
           "# HELP tocsin_role This process's role (1 for its role)\n"
           "# TYPE tocsin_role gauge\ntocsin_role{role=\"writer\"} 1.0\n")


class StandbyWriter:
    """ASGI app of a writer process that does not lead yet (module docstring).

    ``open_hub`` builds the writer's hub on the store once it leads (blocking; run on a
    thread); ``build_app`` its ASGI app. ``on_failed`` is called if that fails.
    """

    def __init__(self, store: PostgresStore, *, open_hub: Callable[[PostgresStore], Hub],
                 build_app: Callable[[Hub], Starlette], on_failed: Callable[[str], object],
                 wait_secs: float = WAIT_SECS) -> None:
        self.store = store
        self.open_hub = open_hub
        self.build_app = build_app
        self.on_failed = on_failed
        self.wait_secs = wait_secs
        self.hub: Hub | None = None
        self._app: Starlette | None = None
        self._lifespan: AbstractAsyncContextManager[object] | None = None
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._run_lifespan(receive, send)
            return
        if self._app is not None:
            await self._app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013})  # try again later
            return
        path = scope["path"]
        if path in ("/healthz", "/readyz"):
            body = {"status": "ok" if path == "/healthz" else "standby", "role": "writer",
                    "standby": True, "leading": False, "caught_up": False, "pid": os.getpid(),
                    "bus": "off"}
            await _send(send, 200 if path == "/healthz" else 503, json.dumps(body).encode(),
                        b"application/json")
            return
        if path == "/metrics":
            await _send(send, 200, METRICS.encode(), b"text/plain; version=0.0.4; charset=utf-8")
            return
        error = ApiError("standby", "another writer leads the store; this one waits to take over",
                         retry_after=RETRY_AFTER_SECS)
        await error.response()(scope, receive, send)

    def close_streams(self) -> None:
        if self.hub is not None:
            self.hub.close_streams()

    async def _run_lifespan(self, receive: Receive, send: Send) -> None:
        message: Message = await receive()  # lifespan.startup
        self._task = asyncio.get_running_loop().create_task(self._wait_and_lead(),
                                                            name="standby")
        await send({"type": "lifespan.startup.complete"})
        message = await receive()  # lifespan.shutdown
        assert message["type"] == "lifespan.shutdown"
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        if self._lifespan is not None:
            await self._lifespan.__aexit__(None, None, None)  # hub.stop(): releases the lead
        elif self.hub is None:
            await asyncio.to_thread(self.store.close)
        await send({"type": "lifespan.shutdown.complete"})

    async def _wait_and_lead(self) -> None:
        while True:
            try:
                if await asyncio.to_thread(self.store.acquire_leadership):
                    break
            except StorageUnavailable as exc:
                log.warning("standby: the store cannot be reached: %s", exc)
            await asyncio.sleep(self.wait_secs)  # the lock's poll period, not a wait for a result
        log.warning("standby: this writer took the lead (epoch %s); opening the writer",
                    self.store.fencing_token)
        try:
            hub = await asyncio.to_thread(self.open_hub, self.store)
            app = self.build_app(hub)
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()  # hub.start(): registry, checkpointer, senders, address
        except Exception as exc:
            log.exception("standby: the writer could not be opened")
            await asyncio.to_thread(self.store.close)  # frees the lock for another standby
            self.on_failed(str(exc))
            return
        self.hub, self._lifespan, self._app = hub, lifespan, app
        log.warning("standby: this writer leads and takes writes")


async def _send(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
