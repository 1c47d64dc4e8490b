"""Live delivery over HTTP: Server-Sent Events and WebSocket, one core loop.

``GET /api/v1/stream?regions=A,B`` (or ``?lat=&lon=``) streams events as SSE;
``denials=1`` adds signed denials (``event: denial``), which no other subscription
ever receives (alone, it is a denials-only stream; ``regions=*&denials=1``: every
region's alerts and the denials);
``Last-Event-ID`` (or ``?since=ID``) resumes after that id with no gap and no
duplicate. ``/api/v1/stream/ws`` does the same over a WebSocket, one JSON
message per event. Both send heartbeats while idle and, when a subscriber
falls too far behind, a ``resync`` message naming the id to resume from.

The SSE response is a raw ASGI callable: it writes pre-encoded frames
straight to the server, and stops when the client disconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from tocsin.api import places
from tocsin.api.errors import ApiError
from tocsin.api.server import transport_of
from tocsin.delivery.fanout import Frame, Sink, Subscriber, TooManySubscriptions
from tocsin.delivery.stream import Heartbeat, Item, Resync, run_stream
from tocsin.runtime import Hub

#: Kernel send buffer of a live stream's socket (Linux doubles it for bookkeeping).
STREAM_SNDBUF_BYTES = 64 * 1024

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]


def _resume_id(raw: str | None) -> int | None:
    if raw is None or raw.strip() == "":
        return None
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 18:
        raise ApiError("bad_last_event_id", f"got {raw[:40]!r}")
    return int(text)


def _denials_param(raw: str | None) -> bool:
    text = (raw or "").strip().lower()
    if text not in ("", "0", "1", "true", "false"):
        raise ApiError("bad_parameter", f"denials must be 1 or 0, got {raw[:40]!r}")  # type: ignore[index]
    return text in ("1", "true")


def _subscribe(hub: Hub, params: Any, client: str) -> Subscriber:
    raw_regions = params.get("regions") or params.get("region")
    every = (raw_regions or "").strip() == "*"  # every region, said explicitly
    codes = None if every else places.region_params(hub, raw_regions, None, None)
    point = places.point_param(hub, params.get("lat"), params.get("lon"))
    denials = _denials_param(params.get("denials"))
    if codes is None and not every and (point is not None or denials):
        codes = []  # a point's hromadas, or denials only: not "every region"
    try:
        return hub.fanout.subscribe(codes, client, point, denials=denials)
    except TooManySubscriptions as exc:
        raise ApiError("too_many_subscriptions", str(exc)) from None


class _SSEResponse:
    def __init__(self, hub: Hub, subscriber: Subscriber, resume_after: int | None) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self.resume_after = resume_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub

        async def send_item(item: Item) -> None:
            if isinstance(item, Frame):
                body = item.sse
            elif isinstance(item, Heartbeat):
                body = b": heartbeat\n\n"
            else:
                assert isinstance(item, Resync)
                body = b"event: resync\ndata: {\"resume_after\":%d}\n\n" % item.last_id
            await send({"type": "http.response.body", "body": body, "more_body": True})

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        hub.metrics.subscribers.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body",
                        "body": b"retry: 2000\n: connected\n\n", "more_body": True})
            streamer = asyncio.create_task(run_stream(
                fanout=hub.fanout, store=hub.store, subscriber=self.subscriber,
                resume_after=self.resume_after, send=send_item,
                heartbeat_secs=hub.settings.heartbeat_secs,
                sink=_sink(scope),
            ))
            watcher = asyncio.create_task(until_disconnect())
            closing = asyncio.create_task(hub.closing.wait())  # the server is shutting down
            done, pending = await asyncio.wait({streamer, watcher, closing},
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            ended = streamer in done and not streamer.cancelled() and streamer.exception() is None
            if ended or (closing in done and watcher not in done):  # a clean end of stream
                with contextlib.suppress(Exception):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            hub.fanout.unsubscribe(self.subscriber)
            hub.metrics.subscribers.dec()


def _sink(scope: Scope) -> Sink | None:
    """The connection itself, for the fan-out's direct writes (GET over uvicorn only)."""
    transport = transport_of(scope)  # type: ignore[arg-type]
    if transport is None or scope.get("method") != "GET":
        return None  # a HEAD response must carry no body: only the server may decide that
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Bound what the kernel holds for one subscriber (loopback autotuning grows it to
        # 4 MiB): a reader that stops is then noticed after ~100 KiB, not megabytes.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, STREAM_SNDBUF_BYTES)
    return transport


async def sse_stream(request: Request) -> _SSEResponse:
    hub: Hub = request.app.state.hub
    resume = _resume_id(request.headers.get("last-event-id") or request.query_params.get("since"))
    client = request.client.host if request.client else "unknown"
    subscriber = _subscribe(hub, request.query_params, client)
    return _SSEResponse(hub, subscriber, resume)


async def ws_stream(websocket: WebSocket) -> None:
    hub: Hub = websocket.app.state.hub
    client = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()  # first: a client gone before this holds no subscription
    try:
        resume = _resume_id(websocket.headers.get("last-event-id")
                            or websocket.query_params.get("since"))
        subscriber = _subscribe(hub, websocket.query_params, client)
    except ApiError as exc:
        await websocket.send_bytes(msgspec.json.encode(
            {"type": "error", "code": exc.kind.code, "detail": exc.detail}))
        await websocket.close(code=1008)
        return

    async def send_item(item: Item) -> None:
        if isinstance(item, Frame):
            await websocket.send_text(
                f'{{"type":"{item.event.kind}","id":{item.id},"data":{item.event.data.decode()}}}'
            )
        elif isinstance(item, Heartbeat):
            await websocket.send_text('{"type":"heartbeat"}')
        else:
            assert isinstance(item, Resync)
            await websocket.send_text(f'{{"type":"resync","resume_after":{item.last_id}}}')

    async def until_disconnect() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()

    hub.metrics.subscribers.inc()
    try:
        streamer = asyncio.create_task(run_stream(
            fanout=hub.fanout, store=hub.store, subscriber=subscriber, resume_after=resume,
            send=send_item, heartbeat_secs=hub.settings.heartbeat_secs,
        ))
        watcher = asyncio.create_task(until_disconnect())
        closing = asyncio.create_task(hub.closing.wait())  # the server is shutting down
        done, pending = await asyncio.wait({streamer, watcher, closing},
                                           return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if streamer in done or closing in done:
            with contextlib.suppress(Exception):
                await websocket.close(code=1001 if closing in done else 1000)  # 1001: going away
    finally:
        hub.fanout.unsubscribe(subscriber)
        hub.metrics.subscribers.dec()
