"""HTTP side of the alerts.in.ua-compatible read API (see docs/compat.md).

Served twice from the same handlers:

* under :data:`PREFIX` on the hub's own port (``/compat/alerts-in-ua/v1/...``): the
  official sync client works with ``Client.API_BASE_URL = HUB + PREFIX``. The prefix
  holds no ``/v1/`` because the client builds v2 URLs by replacing ``/v1/``;
* at the root of a listener of its own when ``compat_port`` is set
  (:func:`compat_listener`): the official async client keeps only the origin of its
  base URL, so it can only reach an API at ``/v1/...``.

The client caches each answer with its ``Last-Modified`` and revalidates with
``If-Modified-Since``; every answer carries one, and it changes exactly when the
answer's body does (:class:`Freshness`). Token: accepted and ignored unless
``compat_token`` is set; then ``Authorization: Bearer TOKEN`` or ``?token=`` is
required, compared in constant time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import socket
import threading
import weakref
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.api.errors import ApiError
from tocsin.compat import alerts_in_ua as aiu

if TYPE_CHECKING:
    from tocsin.runtime import Hub

PREFIX = "/compat/alerts-in-ua"
MAX_ACTIVE_RECORDS = 1000
MAX_HISTORY_RECORDS = 5000
IOT_VERSIONS = (1, 2)

Handler = Callable[[Request], Awaitable[Response]]


class Freshness:
    """``Last-Modified`` per endpoint: the second its body last changed, never going back.

    Keyed by the endpoint (not the listener), so both listeners agree. Two changes in one
    second would share a date and a client could miss the second one, so a change within
    the second of the previous date moves the date one second on. The keys are a fixed
    set (valid endpoints only), so the table stays small.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, tuple[bytes, int]] = {}
        self._lock = threading.Lock()

    def last_modified(self, key: str, body: bytes) -> int:
        digest = hashlib.sha256(body).digest()
        with self._lock:
            previous = self._seen.get(key)
            if previous is not None and previous[0] == digest:
                return previous[1]
            second = int(self._clock())
            if previous is not None and second <= previous[1]:
                second = previous[1] + 1
            self._seen[key] = (digest, second)
            return second


def _http_date(second: int) -> str:
    return format_datetime(datetime.fromtimestamp(second, UTC), usegmt=True)


def _not_modified_since(request: Request, second: int) -> bool:
    raw = request.headers.get("if-modified-since")
    if not raw:
        return False
    try:
        since = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return False  # an unreadable date is ignored (RFC 9110 §13.1.3)
    if since.tzinfo is None:
        return False
    return since.timestamp() >= second


def compat_error(exc: ApiError) -> Response:
    """A catalogued error, with the top-level ``message`` the alerts.in.ua client prints."""
    body: dict[str, Any] = {"code": exc.kind.code, "message": exc.kind.message,
                            "docs": "/docs/errors#" + exc.kind.code}
    if exc.detail:
        body["detail"] = exc.detail
    return Response(msgspec.json.encode({"message": exc.detail or exc.kind.message, "error": body}),
                    status_code=exc.kind.status, media_type="application/json")


class AlertsInUaApi:
    """The handlers, bound to one hub."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.freshness = Freshness(hub.clock)

    # -- plumbing ----------------------------------------------------------

    def _check_token(self, request: Request) -> None:
        expected = self.hub.settings.compat_token
        if not expected:
            return  # accepted and ignored, as a client always sends one
        given = request.query_params.get("token", "")
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
            raise ApiError("bad_token", "send the token configured on this hub as "
                                        "Authorization: Bearer TOKEN or ?token=TOKEN")

    async def _answer(self, request: Request, key: str,
                      build: Callable[[], Any]) -> Response:
        try:
            self._check_token(request)
            data = await asyncio.to_thread(build)  # store reads stay off the event loop
        except ApiError as exc:
            return compat_error(exc)
        body = msgspec.json.encode(data)
        second = self.freshness.last_modified(key, body)
        headers = {"Last-Modified": _http_date(second), "Cache-Control": "no-cache"}
        if _not_modified_since(request, second):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def _active_records(self) -> tuple[list[Any], float]:
        now = self.hub.clock()
        return self.hub.store.list_alerts(active_at=now, limit=MAX_ACTIVE_RECORDS), now

    def _oblast_code(self, raw: str) -> str:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
            raise ApiError("unknown_region", f"{raw[:20]!r} is not an alerts.in.ua uid")
        code = self.hub.regions.canonical(raw)
        if code is None:
            raise ApiError("unknown_region", f"no location has alerts.in.ua uid {int(raw)}")
        return code

    # -- endpoints ---------------------------------------------------------

    async def active(self, request: Request) -> Response:
        def build() -> Any:
            records, now = self._active_records()
            return aiu.active_alerts(records, self.hub.regions, now)
        return await self._answer(request, "active", build)

    def iot_by_oblast(self, version: int) -> Handler:
        async def handler(request: Request) -> Response:
            def build() -> Any:
                records, now = self._active_records()
                return aiu.by_oblast(records, self.hub.regions, now, version)
            return await self._answer(request, f"v{version}/by_oblast", build)
        return handler

    def iot_by_uid(self, version: int) -> Handler:
        async def handler(request: Request) -> Response:
            def build() -> Any:
                records, now = self._active_records()
                return aiu.by_uid(records, self.hub.regions, now, version)
            return await self._answer(request, f"v{version}/by_uid", build)
        return handler

    def iot_one(self, version: int) -> Handler:
        async def handler(request: Request) -> Response:
            raw = request.path_params["uid"]

            def build() -> Any:
                code = self._oblast_code(raw)
                records, now = self._active_records()
                return aiu.level_char(aiu.oblast_status(records, code, now), version)
            return await self._answer(request, f"v{version}/one/{raw}", build)
        return handler

    async def history(self, request: Request) -> Response:
        raw, period = request.path_params["uid"], request.path_params["period"]

        def build() -> Any:
            code = self._oblast_code(raw)
            if period not in aiu.HISTORY_PERIODS:
                raise ApiError("bad_parameter", f"period must be one of "
                                                f"{', '.join(aiu.HISTORY_PERIODS)}, got {period[:20]!r}")
            now = self.hub.clock()
            since = now - aiu.HISTORY_PERIODS[period]
            records = self.hub.store.list_alerts(since_ts=since, limit=MAX_HISTORY_RECORDS)
            threats = [r for r in records if aiu.is_air_raid(r)]
            named = {r.id: aiu.named_codes(r.cap, self.hub.regions) for r in threats}
            return aiu.history(threats, self.hub.regions, code, since, now, named)
        return await self._answer(request, f"history/{raw}/{period}", build)

    # -- routes ------------------------------------------------------------

    def routes(self, prefix: str) -> list[BaseRoute]:
        out: list[BaseRoute] = [
            Route(f"{prefix}/v1/alerts/active.json", self.active),
            Route(f"{prefix}/v1/regions/{{uid}}/alerts/{{period}}.json", self.history),
        ]
        for v in IOT_VERSIONS:
            out += [
                Route(f"{prefix}/v{v}/iot/active_air_raid_alerts_by_oblast.json",
                      self.iot_by_oblast(v)),
                Route(f"{prefix}/v{v}/iot/active_air_raid_alerts.json", self.iot_by_uid(v)),
                Route(f"{prefix}/v{v}/iot/active_air_raid_alerts/{{uid}}.json", self.iot_one(v)),
            ]
        return out


_APIS: weakref.WeakKeyDictionary[Hub, AlertsInUaApi] = weakref.WeakKeyDictionary()


def api_of(hub: Hub) -> AlertsInUaApi:
    """The hub's one compat API (one :class:`Freshness` for both listeners)."""
    api = _APIS.get(hub)
    if api is None:
        api = _APIS[hub] = AlertsInUaApi(hub)
    return api


def alerts_in_ua_routes(hub: Hub) -> list[BaseRoute]:
    """The compat routes under :data:`PREFIX` (``tocsin.assemble.build_app``)."""
    return api_of(hub).routes(PREFIX)


# -- the listener of its own (compat_port) ----------------------------------------


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "not_found", 405: "method_not_allowed"}.get(status, "internal")
    return compat_error(ApiError(code, f"{request.method} {request.url.path}"))


def root_app(hub: Hub) -> Starlette:
    """The compat API at the root (``/v1/...``, ``/v2/...``), for a listener of its own."""
    return Starlette(routes=api_of(hub).routes(""),
                     exception_handlers={HTTPException: _not_found, Exception: _not_found})


def _quiet_server(app: ASGIApp, header_timeout_secs: float) -> Any:
    """A uvicorn server that leaves SIGINT/SIGTERM to the hub's main server.

    Both run in one event loop; uvicorn would otherwise take the signal handlers over for
    the second server, and a SIGTERM would stop only the compat listener.
    """
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the main server handles signals and shuts this one down (CompatListener)

    from tocsin.api.server import StreamingHttpProtocol

    # The same header deadline as the main port, and the client is the TCP peer (no proxy headers).
    return Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False,
                                 http=StreamingHttpProtocol.with_timeouts(header_timeout_secs),
                                 proxy_headers=False))


class CompatListener:
    """ASGI wrapper: with ``compat_port`` set, also serve :func:`root_app` on that port.

    The second server starts when the hub's start-up completes and stops before its
    shutdown begins; it runs in the same event loop. A port that cannot be bound fails
    the start-up with a message naming it.
    """

    def __init__(self, app: ASGIApp, hub: Hub) -> None:
        self.app = app
        self.hub = hub
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        settings = self.hub.settings
        sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
                             socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if settings.role == "edge":  # edges share their ports (tocsin serve --workers; deploy.md)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        try:
            sock.bind((settings.host, settings.compat_port))
            sock.listen(128)
        except OSError:
            sock.close()
            raise
        self._server = _quiet_server(root_app(self.hub), settings.header_timeout_secs)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))

    async def _stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
            self._server = self._task = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan" or not self.hub.settings.compat_port:
            await self.app(scope, receive, send)
            return

        async def receive_wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self._stop()
            return message

        async def send_wrapped(message: Message) -> None:
            if message["type"] == "lifespan.startup.complete":
                try:
                    await self._start()
                except OSError as exc:
                    message = {"type": "lifespan.startup.failed",
                               "message": f"compat_port {self.hub.settings.compat_port}: {exc}"}
            await send(message)

        await self.app(scope, receive_wrapped, send_wrapped)


def compat_listener(app: ASGIApp, hub: Hub) -> ASGIApp:
    """Wrap the hub's app so ``compat_port`` (if set) serves the compat API at its root."""
    return CompatListener(app, hub) if hub.settings.compat_port else app
