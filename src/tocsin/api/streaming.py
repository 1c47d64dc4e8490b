"""Live delivery over HTTP: Server-Sent Events and WebSocket, one core loop.

``GET /api/v1/stream?regions=A,B`` (or ``?lat=&lon=``) streams events as SSE;
``denials=1`` adds signed denials (``event: denial``), which no other subscription
ever receives (alone, it is a denials-only stream; ``regions=*&denials=1``: every
region's alerts and the denials);
``Last-Event-ID`` (or ``?since=ID``) resumes after that id with no gap and no
duplicate. ``/api/v1/stream/ws`` does the same over a WebSocket, one JSON
message per event. Both send heartbeats while idle and, when a subscriber
falls too far behind, a ``resync`` message naming the id to resume from.

The SSE response is a raw ASGI callable, served ahead of the framework
(:func:`serve_stream`): it writes pre-encoded frames straight to the server, and stops
when the client disconnects. Under the hub's own protocol
(:mod:`tocsin.api.server`) a stream holds one task and no more (its request's);
elsewhere tasks watch for the disconnect and the server's close.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Coroutine
from typing import Any

import msgspec
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from tocsin.api import places
from tocsin.api.errors import ApiError
from tocsin.api.headers import SECURITY_HEADERS
from tocsin.api.server import on_connection_lost, transport_of
from tocsin.delivery.fanout import Frame, Sink, Subscriber, TooManySubscriptions
from tocsin.delivery.stream import Heartbeat, Item, Resync, run_stream
from tocsin.runtime import Hub

log = logging.getLogger("tocsin.api")

#: Kernel send buffer of a live stream's socket (Linux doubles it for bookkeeping).
STREAM_SNDBUF_BYTES = 64 * 1024

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
    *SECURITY_HEADERS,  # served ahead of the middleware that adds them (serve_stream)
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
        self.send: Send | None = None

    async def send_item(self, item: Item) -> None:
        if isinstance(item, Frame):
            body = item.sse
        elif isinstance(item, Heartbeat):
            body = b": heartbeat\n\n"
        else:
            assert isinstance(item, Resync)
            body = b"event: resync\ndata: {\"resume_after\":%d}\n\n" % item.last_id
        assert self.send is not None
        await self.send({"type": "http.response.body", "body": body, "more_body": True})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        hub = self.hub
        self.send = send
        sink = _sink(scope)
        hub.metrics.subscribers.inc()
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            await send({"type": "http.response.body",
                        "body": b"retry: 2000\n: connected\n\n", "more_body": True})
            if sink is not None and on_connection_lost(scope, self.subscriber.end):
                try:
                    await self._lean(sink)
                finally:
                    on_connection_lost(scope, None)
            else:
                await self._watched(receive, sink)
        finally:
            hub.fanout.unsubscribe(self.subscriber)
            hub.metrics.subscribers.dec()

    async def _lean(self, sink: Sink) -> None:
        """The stream in this request's own task: no watcher tasks, no task group.

        The connection tells the subscriber when it is lost (``on_connection_lost``) and
        the hub when the server closes (:meth:`~tocsin.delivery.fanout.Fanout.end_all`);
        either ends :func:`run_stream`. This is what one idle subscriber costs, so it is
        kept to the request's task, the subscriber and a timer.
        """
        subscriber = self.subscriber
        if self.hub.closing.is_set() or sink.is_closing():
            subscriber.end()  # the server began closing, or the client left, before we listened
        try:
            await run_stream(fanout=self.hub.fanout, store=self.hub.store, subscriber=subscriber,
                             resume_after=self.resume_after, send=self.send_item,
                             heartbeat_secs=self.hub.settings.heartbeat_secs, sink=sink)
        except Exception as exc:  # e.g. the store failing mid-replay: the client reconnects
            log.warning("a live stream ended early: %r", exc)
            return
        if not sink.is_closing():  # a clean end of stream (resync, or the server closing)
            with contextlib.suppress(Exception):
                assert self.send is not None
                await self.send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watched(self, receive: Receive, sink: Sink | None) -> None:
        """The stream under any ASGI server: tasks watch for the disconnect and the close."""
        hub = self.hub
        assert self.send is not None
        send = self.send

        async def until_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        _, ended, left, closing = await _first_of(hub, run_stream(
            fanout=hub.fanout, store=hub.store, subscriber=self.subscriber,
            resume_after=self.resume_after, send=self.send_item,
            heartbeat_secs=hub.settings.heartbeat_secs, sink=sink,
        ), until_disconnect())
        if ended or (closing and not left):  # a clean end of stream
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _first_of(hub: Hub, stream: Coroutine[Any, Any, None],
                    disconnect: Coroutine[Any, Any, None]) -> tuple[bool, bool, bool, bool]:
    """Run a stream until it ends, its client leaves or the server shuts down; cancel the rest.

    Returns whether the stream stopped by itself, whether it ended cleanly (stopped, no
    error), whether the client left, and whether the server is closing. Serves the paths
    that keep watcher tasks (HEAD, WebSocket, other ASGI servers); the lean SSE path needs
    none.
    """
    streamer = asyncio.create_task(stream)
    watcher = asyncio.create_task(disconnect)
    closing = asyncio.create_task(hub.closing.wait())  # the server is shutting down
    done, pending = await asyncio.wait({streamer, watcher, closing},
                                       return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    stopped = streamer in done
    ended = stopped and not streamer.cancelled() and streamer.exception() is None
    return stopped, ended, watcher in done, closing in done


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
    """The route table's entry (OpenAPI, other mounts); the hub serves it by :func:`serve_stream`."""
    hub: Hub = request.app.state.hub
    resume = _resume_id(request.headers.get("last-event-id") or request.query_params.get("since"))
    client = request.client.host if request.client else "unknown"
    subscriber = _subscribe(hub, request.query_params, client)
    return _SSEResponse(hub, subscriber, resume)


STREAM_PATH = "/api/v1/stream"
STREAM_METHODS = ("GET", "HEAD")


async def serve_stream(hub: Hub, scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /api/v1/stream`` as a bare ASGI app, ahead of the framework's layers.

    Why: a live stream's request stays open for hours, and everything on its call stack
    stays in memory with it. Through Starlette's middleware, router and exception
    wrappers that was about 10 KB of coroutine frames and closures per subscriber; here
    it is this coroutine and :class:`_SSEResponse`. The answers are the same as the
    route's: the stream, or a catalogued error (``method_not_allowed``,
    ``bad_last_event_id``, ``unknown_region``, ``too_many_subscriptions``, ...), with the
    security headers every response carries (:data:`SECURITY_HEADERS`).
    """
    try:
        if scope["method"] not in STREAM_METHODS:
            raise ApiError("method_not_allowed", f"{scope['method']} {scope['path']}")
        params = QueryParams(scope.get("query_string", b""))
        headers = Headers(scope=scope)
        resume = _resume_id(headers.get("last-event-id") or params.get("since"))
        client = scope.get("client")
        subscriber = _subscribe(hub, params, str(client[0]) if client else "unknown")
    except ApiError as exc:
        await _secured(exc.response())(scope, receive, send)
        return
    except Exception:
        log.exception("unexpected error on %s %s", scope["method"], scope["path"])
        await _secured(ApiError("internal").response())(scope, receive, send)
        return
    await _SSEResponse(hub, subscriber, resume)(scope, receive, send)


def _secured(response: Response) -> Response:
    for name, value in SECURITY_HEADERS:
        response.raw_headers.append((name, value))
    return response


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
        stopped, _, _, closing = await _first_of(hub, run_stream(
            fanout=hub.fanout, store=hub.store, subscriber=subscriber, resume_after=resume,
            send=send_item, heartbeat_secs=hub.settings.heartbeat_secs,
        ), until_disconnect())
        if stopped or closing:
            with contextlib.suppress(Exception):
                await websocket.close(code=1001 if closing else 1000)  # 1001: going away
    finally:
        hub.fanout.unsubscribe(subscriber)
        hub.metrics.subscribers.dec()
