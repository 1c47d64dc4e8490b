"""The public pages and the JSON they need, mounted by ``tocsin.assemble.build_app``.

Pages are static HTML shells (no inline script, so a strict
Content-Security-Policy holds) whose JavaScript fetches the API; the browser
checks every signature and proof itself, so the page trusts the hub's JSON
only for what to show, never for the verdict. Endpoints here:

* ``GET /``, ``/alerts/{id}``, ``/regions/{code}``, ``/issuers``, ``/issuers/{id}``, ``/about``
  — pages, each with the one header (and the demo banner in ``--demo``); an alert, region
  or issuer that does not exist is an HTML 404, never a page that loads and then fails
* ``GET /favicon.ico`` — the icon
* ``GET /static/...`` — scripts, styles, vendored Leaflet, region layers
* ``GET /api/v1/map/layers/{name}.json`` — simplified boundaries (gzip when accepted)
* ``GET /api/v1/map/state`` — every active alert and each region's state, one request
* ``GET /api/v1/regions/{code}/history`` — 30-day timeline and baseline
* ``GET /api/v1/log/key`` — the log's origin and verifier key (for the proof check)
* ``GET /api/v1/kinds`` — warning kinds with their names and class (threat, notice, ...)
* ``GET /api/v1/places?q=`` — regions named by ``q`` (any Ukrainian case form, or Latin)
* anything else — an HTML 404 for a browser, the catalogued JSON error for ``/api/`` and
  for clients that do not ask for HTML (a catch-all that yields to every route added
  after it, so the order in ``tocsin.assemble.build_app`` does not matter).
"""

from __future__ import annotations

import asyncio
import gzip
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from tocsin.api.errors import ApiError
from tocsin.api.places import region_json, require_region
from tocsin.api.views import Views, class_filter, over_of
from tocsin.kinds import KINDS, KindClass
from tocsin.regions import Level
from tocsin.web.chrome import error_page, render_page
from tocsin.web.geometry import GeometryBuildError, level_geojson
from tocsin.web.history import HISTORY_DAYS, history, window_start_ts
from tocsin.web.state import map_state

if TYPE_CHECKING:
    from tocsin.runtime import Hub

STATIC_DIR = Path(__file__).parent / "static"
PAGES = {"index": "index.html", "alert": "alert.html", "region": "region.html",
         "issuer": "issuer.html", "about": "about.html"}
ALERT_ID_RE = re.compile(r"[0-9a-f]{8,64}")
MAX_PLACES = 20
# Paths that are never pages: unknown addresses under them get the API's JSON error.
API_PREFIXES = ("/api/", "/tile/", "/checkpoint", "/feeds/", "/healthz", "/metrics", "/static/",
                "/check/")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
LAYER_RE = re.compile(r"(oblast|raion)|hromada-(UA[0-9]{17})")
MAX_STATE_ALERTS = 2000  # the whole country under alert is a few hundred
MAX_HISTORY_ALERTS = 5000
DENIAL_WINDOW_SECS = 31 * 86400  # denials show as current for a week (check.denial); margin


def _json(data: Any, *, cache: str = "no-cache") -> Response:
    return Response(msgspec.json.encode(data), media_type="application/json",
                    headers={"Cache-Control": cache})


_HTML_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}


def _page_bytes(name: str) -> bytes:
    return (STATIC_DIR / PAGES[name]).read_bytes()


def html_error(status: int, demo: bool) -> Response:
    """An HTML error page with ``status`` (the page's language; never served as 200)."""
    return Response(error_page(status, demo), status_code=status,
                    media_type="text/html; charset=utf-8", headers=_HTML_HEADERS)


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


class _Gzipped:
    """Each layer compressed once (about a quarter of its size) and kept."""

    def __init__(self) -> None:
        self._data: dict[tuple[int, str], tuple[bytes, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, hub: Hub, name: str) -> tuple[bytes, bytes]:
        key = (id(hub.regions), name)
        with self._lock:
            found = self._data.get(key)
        if found is not None:
            return found
        match = LAYER_RE.fullmatch(name)
        if match is None:
            raise ApiError("not_found", f"no map layer {name!r}: oblast, raion or hromada-<oblast>")
        level: Level = "hromada" if match.group(2) else match.group(1)  # type: ignore[assignment]
        oblast = match.group(2)
        if oblast is not None:
            region = hub.regions.get(oblast)
            if region is None or region.level != "oblast":
                raise ApiError("unknown_region", f"{oblast} is not an oblast of this hub")
        try:
            raw = level_geojson(hub.regions, level, oblast)
        except GeometryBuildError as exc:
            raise ApiError("not_found", str(exc)) from None
        pair = (raw, gzip.compress(raw, 6))
        with self._lock:
            self._data[key] = pair
        return pair


class _LastResort(Route):
    """A catch-all that yields to every route after it in the app's table.

    Routes are matched in order and other modules add theirs after the web routes
    (``tocsin.assemble.build_app``: the compat API, a witness), so a plain catch-all here
    would hide them. This one matches only when no later route matches the
    request at all (not even by path with another method, which stays the app's 405).
    """

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match == Match.NONE:
            return match, child
        router = scope.get("router")
        routes = list(getattr(router, "routes", ()))
        later = routes[routes.index(self) + 1:] if self in routes else []
        if any(route.matches(scope)[0] != Match.NONE for route in later):
            return Match.NONE, {}
        return match, child


def web_routes(hub: Hub) -> list[BaseRoute]:
    """Routes of the live map and public pages for ``hub``."""
    layers = _Gzipped()
    demo = bool(hub.settings.demo)

    def page_response(name: str) -> Response:
        return Response(render_page(_page_bytes(name), demo), media_type="text/html; charset=utf-8",
                        headers=_HTML_HEADERS)

    def page(name: str) -> Any:
        async def handler(request: Request) -> Response:
            return page_response(name)

        return handler

    async def alert_page(request: Request) -> Response:
        alert_id = request.path_params["alert_id"]
        found = ALERT_ID_RE.fullmatch(alert_id) is not None and (
            await asyncio.to_thread(hub.store.get, alert_id)) is not None
        return page_response("alert") if found else html_error(404, demo)

    async def region_page(request: Request) -> Response:
        if hub.regions.canonical(request.path_params["code"]) is None:
            return html_error(404, demo)
        return page_response("region")

    async def issuer_page(request: Request) -> Response:
        if hub.registry.issuer(request.path_params["issuer_id"]) is None:
            return html_error(404, demo)
        return page_response("issuer")

    async def favicon(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    async def places(request: Request) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query or len(query) > 100:
            raise ApiError("bad_parameter", "q must be a place name of 1 to 100 characters")
        found = await asyncio.to_thread(hub.regions.find_by_name, query)
        return _json({"q": query, "regions": [
            {"code": r.code, "level": r.level, "name_uk": r.name_uk_full, "name_en": r.name_en,
             "oblast": r.oblast}
            for r in found[:MAX_PLACES]]})

    async def not_found(request: Request) -> Response:
        """Whatever no route took: HTML for a browser, the catalogued JSON error otherwise."""
        path = request.url.path
        routes = [r for r in request.app.router.routes if r is not catch_all]
        if path != "/" and path.endswith("/"):  # what Starlette's redirect_slashes did
            bare = {**request.scope, "path": path.rstrip("/")}
            if any(r.matches(bare)[0] == Match.FULL for r in routes):
                query = f"?{request.url.query}" if request.url.query else ""
                return RedirectResponse(path.rstrip("/") + query, status_code=307)
        allowed = [route for route in routes if route.matches(request.scope)[0] == Match.PARTIAL]
        if allowed:
            if not path.startswith(API_PREFIXES) and _wants_html(request):
                return html_error(405, demo)
            raise ApiError("method_not_allowed", f"{request.method} {path}")
        if path.startswith(API_PREFIXES) or not _wants_html(request):
            raise ApiError("not_found", f"{request.method} {path}")
        return html_error(404, demo)

    catch_all = _LastResort("/{path:path}", not_found,
                            methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"])

    async def layer(request: Request) -> Response:
        raw, packed = await asyncio.to_thread(layers.get, hub, request.path_params["name"])
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            headers["Content-Encoding"] = "gzip"
            return Response(packed, media_type="application/geo+json", headers=headers)
        return Response(raw, media_type="application/geo+json", headers=headers)

    async def state(request: Request) -> Response:
        now = hub.clock()
        event_id = hub.store.last_event_id()
        def read() -> dict[str, Any]:
            records = hub.store.list_alerts(active_at=now, limit=MAX_STATE_ALERTS)
            # A denial targets no place (the store's "active" needs one): ask for the
            # week's denials by kind and let map_state keep the unexpired ones.
            kinds_any, kinds_none = class_filter(KindClass.DENIAL)
            denials = hub.store.list_alerts(since_ts=now - DENIAL_WINDOW_SECS, kinds_any=kinds_any,
                                            kinds_none=kinds_none or None, limit=MAX_STATE_ALERTS)
            return map_state(hub, records, now, event_id, denials)

        return _json(await asyncio.to_thread(read))

    async def region_history(request: Request) -> Response:
        code = require_region(hub, request.path_params["code"])
        raw_days = request.query_params.get("days", str(HISTORY_DAYS))
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= 90:
            raise ApiError("bad_parameter", "days must be a whole number from 1 to 90")
        days = int(raw_days)
        now = hub.clock()
        event_id = hub.store.last_event_id()  # read first: a live stream resumes from here
        def read() -> dict[str, Any]:
            records = hub.store.list_alerts(regions=[code], since_ts=window_start_ts(now, days),
                                            limit=MAX_HISTORY_ALERTS)
            data = history(records, code, now, days)
            views = Views(now=now, regions=hub.regions, registry=hub.registry,
                          get=hub.store.get, log_size=None)
            by_id = {r.id: r for r in records}
            for item in data["timeline"]:  # what is over says so, here too
                record = by_id[item["id"]]
                item["over"] = over_of(record, now, views.ender(record))
            return data

        data = await asyncio.to_thread(read)
        data["region"] = region_json(hub, code)
        data["event_id"] = event_id
        return _json(data)

    async def kinds(request: Request) -> Response:
        return _json({code: {"uk": k.name_uk, "en": k.name_en, "class": str(k.klass)}
                      for code, k in KINDS.items()},
                     cache="public, max-age=300")

    async def log_key(request: Request) -> Response:
        return _json({"origin": hub.settings.log_origin, "vkey": hub.log_verifier.vkey},
                     cache="public, max-age=300")

    return [
        Route("/", page("index")),
        Route("/alerts/{alert_id}", alert_page),
        Route("/regions/{code}", region_page),
        Route("/issuers", page("issuer")),
        Route("/issuers/{issuer_id}", issuer_page),
        Route("/about", page("about")),
        Route("/favicon.ico", favicon),
        Route("/api/v1/places", places),
        Route("/api/v1/map/layers/{name}.json", layer),
        Route("/api/v1/map/state", state),
        Route("/api/v1/regions/{code}/history", region_history),
        Route("/api/v1/log/key", log_key),
        Route("/api/v1/kinds", kinds),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="web-static"),
        catch_all,
    ]
