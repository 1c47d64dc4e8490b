"""The Starlette application: one declarative route table, thin handlers.

Handlers translate HTTP to calls on the core and the hub services held in
:class:`tocsin.runtime.Hub`; every error a client sees comes from the
catalogue in :mod:`tocsin.api.errors`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import gc
import gzip
import logging
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from tocsin import __version__
from tocsin.api import places, streaming
from tocsin.api.body import decode_json, read_body
from tocsin.api.docs_pages import errors_html, errors_markdown
from tocsin.api.errors import ApiError
from tocsin.api.headers import SECURITY_HEADERS
from tocsin.api.openapi import openapi_document
from tocsin.api.ratelimit import LIMITED, RateLimits, TokenBuckets, limited_error
from tocsin.api.views import TIME_ZONE, Views, class_filter, is_active, parse_class
from tocsin.bus.roles import health
from tocsin.callbacks.websub import HUB_PATH, link_header
from tocsin.cap import to_json
from tocsin.delivery.feeds import atom_feed
from tocsin.follow.routes import BYTES_CSP
from tocsin.issue import IssueError
from tocsin.kinds import KindClass
from tocsin.logserver import tile_bytes
from tocsin.runtime import Hub
from tocsin.store.base import AlertRecord, StorageFull, StorageUnavailable, StoreDamaged
from tocsin.tlog.proof import ProofBundleError, format_proof_bundle, make_proof_bundle
from tocsin.tlog.tiles import TileError, parse_tile_path
from tocsin.trust.registry import RegistryError
from tocsin.trust.verify import signed_by_registry

log = logging.getLogger("tocsin.api")

CAP_MEDIA_TYPES = ("application/cap+xml", "application/xml", "text/xml")


def hub_of(request: Request | WebSocket) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(data), status_code=status,
                    media_type="application/json", headers=headers)


def views_for(hub: Hub, now: float) -> Views:
    """Alert views as of ``now`` (one view model for every answer: :mod:`tocsin.api.views`)."""
    return Views(now=now, regions=hub.regions, registry=hub.registry, get=hub.store.get,
                 log_size=hub.checkpointer.size)


#: CAP documents up to this size have their 201 view built on the event loop (see post_alert).
INLINE_VIEW_BYTES = 16 * 1024


def record_json(hub: Hub, record: AlertRecord, now: float) -> dict[str, Any]:
    return views_for(hub, now).one(record)


# -- issuing ---------------------------------------------------------------


async def post_alert(request: Request) -> Response:
    hub = hub_of(request)
    body = await read_body(request, hub.settings.max_body_bytes)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/json":
        doc = decode_json(body)
        if not isinstance(doc, dict):
            raise ApiError("bad_request", 'body must be a JSON object {"cap": ..., "statement": ...}')
        cap_b64, statement_text = doc.get("cap"), doc.get("statement")
        if not isinstance(cap_b64, str) or not cap_b64:
            raise ApiError("bad_request", '"cap" must be the base64 of the exact CAP bytes')
        if not isinstance(statement_text, str) or not statement_text:
            raise ApiError("bad_statement", '"statement" must be the signed statement text')
        try:
            cap = base64.b64decode(cap_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("bad_request", '"cap" is not valid base64') from None
        statement = statement_text.encode("utf-8")
    elif media in CAP_MEDIA_TYPES:
        cap = body
        header = request.headers.get("tocsin-statement")
        if not header:
            raise ApiError("bad_statement", "send the signed statement, base64-encoded, "
                                            "in the Tocsin-Statement header")
        try:
            statement = base64.b64decode(header, validate=True)
        except (binascii.Error, ValueError):
            raise ApiError("bad_statement", "Tocsin-Statement is not valid base64") from None
    else:
        raise ApiError("unsupported_media_type",
                       f"got {media or 'no Content-Type'}; send application/json or application/cap+xml")
    if not cap:
        raise ApiError("invalid_cap", "the CAP document is empty")
    limited = request.scope.get(LIMITED)
    if limited and not await asyncio.to_thread(signed_by_registry, cap, statement, hub.registry):
        raise limited_error(float(limited))
    try:
        outcome = await hub.issuer.issue(cap, statement)
    except IssueError as exc:
        raise ApiError(exc.code, exc.detail) from None
    record = outcome.result.record
    # The view parses the stored CAP. A large one (up to 704 KiB) is parsed off the event
    # loop, like the issuing; a usual one (a few KiB) on it, so the 201 leaves
    # before the live fan-out the commit woke (a thread hop would queue it behind the writes
    # to every subscriber: 124 ms at 10,000 in bench/bench_fanout.py, 3.7 ms without).
    if len(record.cap) <= INLINE_VIEW_BYTES:
        body_out = record_json(hub, record, hub.clock())
    else:
        body_out = await asyncio.to_thread(record_json, hub, record, hub.clock())
    body_out["warnings"] = list(outcome.warnings)
    body_out["ended_alerts"] = list(outcome.result.ended)
    headers = {"Location": f"/api/v1/alerts/{record.id}"}
    if not outcome.result.created:
        headers["Tocsin-Replay"] = "true"
    return _json(body_out, 201, headers)


# -- reading ---------------------------------------------------------------


def _get_record(hub: Hub, alert_id: str) -> AlertRecord:
    if not (8 <= len(alert_id) <= 64) or not all(c in "0123456789abcdef" for c in alert_id):
        raise ApiError("alert_not_found", "alert ids are lowercase hexadecimal")
    record = hub.store.get(alert_id)
    if record is None:
        raise ApiError("alert_not_found", alert_id)
    return record


async def get_alert(request: Request) -> Response:
    hub = hub_of(request)
    record = _get_record(hub, request.path_params["alert_id"])
    accept = request.headers.get("accept", "")
    if "application/cap+xml" in accept:
        return _signed_bytes(record.cap)
    body = await asyncio.to_thread(record_json, hub, record, hub.clock())  # may read its ender
    body["cap"] = await asyncio.to_thread(
        lambda: msgspec.json.decode(to_json(hub.parse_stored(record.cap))))
    body["statement"] = record.statement.decode("utf-8", "replace")
    return _json(body)


def _signed_bytes(cap: bytes) -> Response:
    """An issuer's CAP bytes as signed, under the CSP that runs nothing in them (BYTES_CSP)."""
    return Response(cap, media_type="application/cap+xml",
                    headers={"Content-Security-Policy": BYTES_CSP})


async def get_alert_cap(request: Request) -> Response:
    record = _get_record(hub_of(request), request.path_params["alert_id"])
    return _signed_bytes(record.cap)


async def get_alert_statement(request: Request) -> Response:
    record = _get_record(hub_of(request), request.path_params["alert_id"])
    return Response(record.statement, media_type="text/plain; charset=utf-8")


async def get_alert_proof(request: Request) -> Response:
    """The C2SP tlog-proof bundle for the alert's leaf against the newest checkpoint."""
    hub = hub_of(request)
    record = _get_record(hub, request.path_params["alert_id"])
    size, note = hub.checkpointer.state
    if record.log_index is None or note is None or record.log_index >= size:
        raise ApiError("proof_pending", f"alert {record.id} is logged; its checkpoint is being signed",
                       retry_after=1)
    try:
        index = record.log_index
        bundle = await asyncio.to_thread(
            lambda: make_proof_bundle(index, hub.store.hash_reader(), note))
    except ProofBundleError as exc:
        raise ApiError("internal", f"cannot build the proof: {exc}") from None
    return Response(format_proof_bundle(bundle), media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


def _float_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiError("bad_parameter", f"{name} must be a number, got {raw!r}") from None


def _since_param(request: Request) -> float | None:
    raw = request.query_params.get("since")
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    from tocsin.cap.model import parse_cap_time

    try:
        return parse_cap_time(raw).timestamp()
    except ValueError:
        raise ApiError("bad_parameter",
                       f"since must be POSIX seconds or a time with offset, got {raw!r}") from None


def _active_and_limit(request: Request) -> tuple[bool, int]:
    """The ``active`` (true/false/1/0) and ``limit`` (1-1000, default 100) of a listing."""
    active = request.query_params.get("active", "").lower()
    if active not in ("", "true", "false", "1", "0"):
        raise ApiError("bad_parameter", f"active must be true or false, got {active!r}")
    limit_raw = request.query_params.get("limit", "100")
    if not (limit_raw.isascii() and limit_raw.isdigit()) or not (1 <= int(limit_raw) <= 1000):
        raise ApiError("bad_parameter", "limit must be an integer from 1 to 1000")
    return active in ("true", "1"), int(limit_raw)


async def list_alerts(request: Request) -> Response:
    hub = hub_of(request)
    params = request.query_params
    codes = places.region_params(hub, params.get("region"), params.get("lat"), params.get("lon"))
    active, limit = _active_and_limit(request)
    try:
        klass = parse_class(params.get("class"))
    except ValueError as exc:
        raise ApiError("bad_parameter", str(exc)) from None
    return _json(await _listing(hub, codes=codes, active=active, klass=klass,
                                since=_since_param(request), limit=limit))


async def _listing(hub: Hub, *, codes: list[str] | None, active: bool, klass: KindClass | None,
                   since: float | None, limit: int) -> dict[str, Any]:
    now = hub.clock()
    kinds_any, kinds_none = class_filter(klass) if klass is not None else (None, ())
    denials = klass is KindClass.DENIAL

    def read() -> dict[str, Any]:  # off the event loop: live streams never wait on reads
        records = hub.store.list_alerts(
            regions=codes,
            # A denial targets no place, so the store's "active" (which needs a target) is
            # not its test; it is filtered here instead.
            active_at=now if active and not denials else None,
            since_ts=since, limit=limit, kinds_any=kinds_any, kinds_none=kinds_none or None)
        if active and denials:
            records = [r for r in records if is_active(r, now)]
        return {"alerts": views_for(hub, now).many(records)}

    return await asyncio.to_thread(read)


async def list_denials(request: Request) -> Response:
    """Signed denials of fake messages (``/api/v1/alerts?class=denial``)."""
    hub = hub_of(request)
    active, limit = _active_and_limit(request)
    return _json(await _listing(hub, codes=None, active=active, klass=KindClass.DENIAL, since=None,
                                limit=limit))


async def hub_info(request: Request) -> Response:
    """What every page needs to know about this hub: above all, whether it is a demo."""
    hub = hub_of(request)
    return _json({"name": "Tocsin", "version": __version__, "demo": hub.settings.demo,
                  "time_zone": TIME_ZONE, "log_origin": hub.settings.log_origin,
                  "now": hub.clock()})


async def docs_errors(request: Request) -> Response:
    """The error catalogue every error's ``docs`` link points into (``#code``)."""
    return HTMLResponse(errors_html(), headers={
        "Cache-Control": "public, max-age=300",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


async def docs_errors_md(request: Request) -> Response:
    return Response(errors_markdown(), media_type="text/markdown; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=300"})


async def region_status(request: Request) -> Response:
    hub = hub_of(request)
    code = places.require_region(hub, request.path_params["code"])
    return _json(await asyncio.to_thread(places.region_status, hub, code))


async def locate(request: Request) -> Response:
    hub = hub_of(request)
    lat, lon = _float_param(request, "lat"), _float_param(request, "lon")
    if lat is None or lon is None:
        raise ApiError("bad_parameter", "give both lat and lon")
    regions = places.locate(hub, lat, lon)
    return _json({"lat": lat, "lon": lon, "regions": [places.region_json(hub, r.code) for r in regions]})


async def get_region(request: Request) -> Response:
    hub = hub_of(request)
    code = places.require_region(hub, request.path_params["code"])
    return _json(places.region_json(hub, code, with_children=True))


async def get_registry(request: Request) -> Response:
    return Response(hub_of(request).registry_bytes, media_type="application/json")


async def post_registry(request: Request) -> Response:
    """A newer registry version, signed by the pinned root, replaces the current one."""
    hub = hub_of(request)
    body = await read_body(request, hub.settings.max_body_bytes)
    try:
        registry = await hub.replace_registry(body)
    except RegistryError as exc:
        raise ApiError("bad_registry", str(exc)) from None
    return _json({"version": registry.version, "issuers": len(registry.issuers)}, 201)


async def openapi(request: Request) -> Response:
    return _json(openapi_document())


async def healthz(request: Request) -> Response:
    """Alive; with the role, whether it is caught up with the store, and the bus (tocsin.bus)."""
    hub = hub_of(request)
    return _json({"status": "ok", "last_event_id": hub.fanout.last_published,
                  "subscribers": hub.fanout.subscriber_count, "pid": os.getpid(), **health(hub)})


async def readyz(request: Request) -> Response:
    """200 once this process is caught up with the store (an edge's lag 0), else 503."""
    hub = hub_of(request)
    data = {"last_event_id": hub.fanout.last_published, **health(hub)}
    scan = hub.store_scan
    if scan is not None:  # the whole-file scan of the store, run beside serving
        data["store_scan"] = scan.as_json()
        if scan.state == "damaged":
            return _json({"status": "store_damaged", **data}, 503)
    ready = bool(data["caught_up"])
    return _json({"status": "ready" if ready else "catching_up", **data}, 200 if ready else 503)


async def metrics(request: Request) -> Response:
    data, content_type = hub_of(request).metrics.render()
    return Response(data, media_type=content_type)


async def feed_all(request: Request) -> Response:
    """All alerts, or with ``?region=`` / ``?lat=&lon=`` those concerning a place."""
    hub = hub_of(request)
    params = request.query_params
    codes = places.region_params(hub, params.get("region"), params.get("lat"), params.get("lon"))
    now = hub.clock()
    base = hub.settings.base_url
    records = await asyncio.to_thread(hub.store.list_alerts, regions=codes, limit=100)
    query = f"?{request.url.query}" if request.url.query else ""
    title = "Tocsin: all alerts" if codes is None else "Tocsin: alerts for " + ", ".join(
        places.region_json(hub, c)["name_en"] for c in codes[:3])
    topic = f"{base}/feeds/alerts.atom{query}"
    return Response(
        atom_feed(title=title, feed_url=topic, hub_url=base + HUB_PATH,
                  base_url=base, views=await asyncio.to_thread(views_for(hub, now).many, records),
                  now=now),
        media_type="application/atom+xml", headers={"Link": link_header(base + HUB_PATH, topic)},
    )


async def feed_region(request: Request) -> Response:
    hub = hub_of(request)
    raw = request.path_params["code"]
    code = places.require_region(hub, raw.removesuffix(".atom"))
    now = hub.clock()
    base = hub.settings.base_url
    records = await asyncio.to_thread(hub.store.list_alerts, regions=[code], limit=100)
    name = places.region_json(hub, code)["name_en"]
    topic = f"{base}/feeds/regions/{code}.atom"
    return Response(
        atom_feed(title=f"Tocsin: alerts for {name}", feed_url=topic, hub_url=base + HUB_PATH,
                  base_url=base, views=await asyncio.to_thread(views_for(hub, now).many, records),
                  now=now),
        media_type="application/atom+xml", headers={"Link": link_header(base + HUB_PATH, topic)},
    )


# -- the transparency log (C2SP tlog-tiles) ---------------------------------

IMMUTABLE = "public, max-age=31536000, immutable"


async def get_checkpoint(request: Request) -> Response:
    note = hub_of(request).checkpointer.note
    if note is None:
        raise ApiError("unavailable", "no checkpoint has been signed yet")
    return Response(note, media_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-cache"})


async def get_tile(request: Request) -> Response:
    hub = hub_of(request)
    path = "tile/" + request.path_params["path"]
    try:
        tile = parse_tile_path(path)
    except TileError as exc:
        raise ApiError("not_found", f"{path}: {exc}") from None
    size = hub.checkpointer.size
    data = await asyncio.to_thread(tile_bytes, hub.store, tile, size)
    if data is None:
        raise ApiError("not_found", f"{path} is beyond the current checkpoint")
    # C2SP tlog-tiles: a tile or bundle, partial (.p/W) or full, never changes once served.
    headers = {"Cache-Control": IMMUTABLE}
    if tile.entries:
        headers["Vary"] = "Accept-Encoding"
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            data = await asyncio.to_thread(gzip.compress, data, 6, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="application/octet-stream", headers=headers)


def _accepts_gzip(header: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (``gzip;q=0`` refuses it)."""
    for item in header.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() not in ("gzip", "x-gzip"):
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False


# -- the app ---------------------------------------------------------------

ROUTES = [
    Route("/healthz", healthz),
    Route("/readyz", readyz),
    Route("/metrics", metrics),
    Route("/api/v1/openapi.json", openapi),
    Route("/api/v1/alerts", post_alert, methods=["POST"]),
    Route("/api/v1/alerts", list_alerts, methods=["GET"]),
    Route("/api/v1/alerts/{alert_id}", get_alert),
    Route("/api/v1/alerts/{alert_id}/cap", get_alert_cap),
    Route("/api/v1/alerts/{alert_id}/statement", get_alert_statement),
    Route("/api/v1/alerts/{alert_id}/proof", get_alert_proof),
    Route("/api/v1/denials", list_denials),
    Route("/api/v1/hub", hub_info),
    Route("/docs/errors", docs_errors),
    Route("/docs/errors.md", docs_errors_md),
    Route("/api/v1/regions/locate", locate),
    Route("/api/v1/regions/{code}", get_region),
    Route("/api/v1/regions/{code}/status", region_status),
    Route("/api/v1/registry", get_registry, methods=["GET"]),
    Route("/api/v1/registry", post_registry, methods=["POST"]),
    Route("/api/v1/stream", streaming.sse_stream),
    WebSocketRoute("/api/v1/stream/ws", streaming.ws_stream),
    Route("/checkpoint", get_checkpoint),
    Route("/tile/{path:path}", get_tile),
    Route("/feeds/alerts.atom", feed_all),
    Route("/feeds/regions/{code}", feed_region),
]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "bad_request")
    return ApiError(code, f"{request.method} {request.url.path}").response()


#: Seconds a client is asked to wait when the disk is full or failing.
STORAGE_RETRY_AFTER_SECS = 30


async def _storage_full(request: Request, exc: Exception) -> Response:
    log.error("storage full on %s %s: %s", request.method, request.url.path, exc.__cause__ or exc)
    return ApiError("storage_full", "nothing was stored; free space on the hub's disk",
                    retry_after=STORAGE_RETRY_AFTER_SECS).response()


async def _storage_unavailable(request: Request, exc: Exception) -> Response:
    if isinstance(exc, StoreDamaged):  # said once by the scan; retrying does not help
        return ApiError("store_damaged", str(exc)).response()
    log.error("storage failed on %s %s: %s", request.method, request.url.path, exc.__cause__ or exc)
    return ApiError("storage_unavailable", "nothing was stored",
                    retry_after=STORAGE_RETRY_AFTER_SECS).response()


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return ApiError("internal").response()


class _Security:
    """Headers every response carries: no sniffing, no framing by others, no referrer.

    Each page sets its own Content-Security-Policy; bytes from issuers or other feeds are
    served under ``BYTES_CSP`` (nothing runs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def log_prefix_routes(origin: str) -> list[BaseRoute]:
    """The log's read endpoints again under the path of its origin line.

    C2SP names a log by a schema-less URL prefix: origin ``example.org/log`` is read at
    ``https://example.org/log/checkpoint`` and ``.../log/tile/...``. Serving them there too
    makes the prefix derivable from the origin (host aside); ``/checkpoint`` and ``/tile/``
    at the root stay for existing clients.
    """
    _, slash, path = origin.partition("/")
    prefix = "/" + path.strip("/") if slash and path.strip("/") else ""
    if not prefix:
        return []
    return [Route(f"{prefix}/checkpoint", get_checkpoint), Route(f"{prefix}/tile/{{path:path}}", get_tile)]


class HubApp(Starlette):
    """The hub's Starlette app, with the live stream served ahead of the middleware.

    A stream's request lives as long as its subscriber, and so does everything on its call
    stack: :func:`~tocsin.api.streaming.serve_stream` answers ``/api/v1/stream`` itself
    (the same answers, errors and headers as the route), so a subscriber does not hold
    the framework's layers for hours. Everything else goes through Starlette as usual.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == streaming.STREAM_PATH:
            await streaming.serve_stream(self.state.hub, scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def create_app(hub: Hub, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """Build the ASGI app around a :class:`Hub`: the API's routes, then ``extra_routes``
    (other adapters', mounted by :func:`tocsin.assemble.build_app`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await hub.start()
        # Everything loaded so far (regions, names, registry) lives as long as the process:
        # keep it out of the collector's full passes, which otherwise stall live delivery.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await hub.stop()

    app = HubApp(
        routes=[*ROUTES, *log_prefix_routes(hub.settings.log_origin), *extra_routes],
        lifespan=lifespan,
        exception_handlers={
            ApiError: _api_error,
            StorageFull: _storage_full,
            StorageUnavailable: _storage_unavailable,
            HTTPException: _http_error,
            Exception: _unexpected,
        },
    )
    app.state.hub = hub
    app.state.body_timeout_secs = hub.settings.body_timeout_secs
    settings = hub.settings
    app.add_middleware(
        RateLimits,
        checks=TokenBuckets(settings.check_rate_per_sec, settings.check_burst),
        failed_writes=TokenBuckets(settings.failed_write_rate_per_sec, settings.failed_write_burst),
        trusted_proxies=settings.proxy_addresses,
    )
    app.add_middleware(_Security)
    return app
