"""HTTP adapter of the message checker: ``POST /api/v1/check`` and the ``/check`` page.

The checker reads the store's search history (:mod:`tocsin.check.index`), which the
store fills in the transaction that stores each alert: nothing to load at start-up, and a
just-issued alert is checkable as soon as it is logged.

Checks never run on the event loop that delivers alerts. They run in worker
threads in two lanes, so that a person pasting a post is not queued behind
someone flooding the hub with 20,000-character texts: texts up to
:data:`SHORT_TEXT_CHARS` (every real alert and its reposts) have their own
workers; longer texts share one worker, whose checks step aside (a 1 ms sleep
between candidates) so that a waiting short check gets the interpreter at
once. The work per check is bounded
(:data:`tocsin.check.engine.MAX_TEXT_CHARS`, ``MAX_MESSAGE_WORDS``, posting and
candidate budgets). Per-client rate limits are the API's (429), not this
module's.

A link is this hub's when its host is the one the request came to, or the
configured ``public_url``'s.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tocsin.api.body import decode_json, read_body
from tocsin.api.errors import ApiError
from tocsin.cap import to_json
from tocsin.check.engine import MAX_TEXT_CHARS, Checker, CheckInputError, set_background_lane
from tocsin.check.inputs import check_input

if TYPE_CHECKING:
    from tocsin.runtime import Hub

MAX_CHECK_BODY_BYTES = 256 * 1024  # a pasted CAP document fits; a video does not
SHORT_TEXT_CHARS = 4_000  # texts up to this long get their own lane of workers
SHORT_WORKERS = 2
LONG_WORKERS = 1
PAGE_FILES = {
    "check.js": "text/javascript; charset=utf-8",
    "check.css": "text/css; charset=utf-8",
}
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


class CheckService:
    """One hub's checker and its worker lanes."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.checker = Checker(registry=lambda: hub.registry, regions=hub.regions,
                               log_size=lambda: hub.checkpointer.size, store=hub.store,
                               clock=hub.clock)
        self._short = ThreadPoolExecutor(SHORT_WORKERS, thread_name_prefix="tocsin-check")
        self._long = ThreadPoolExecutor(LONG_WORKERS, thread_name_prefix="tocsin-check-long",
                                        initializer=set_background_lane)

    def check(self, text: str, hub_hosts: frozenset[str] = frozenset()) -> dict[str, Any]:
        return check_input(self.checker, text, hub_hosts, self.view_of).to_json()

    def view_of(self, alert_id: str) -> dict[str, Any] | None:
        """The hub's own view of a logged alert, as ``GET /api/v1/alerts/ID`` gives it."""
        from tocsin.api.app import record_json  # the one view GET /api/v1/alerts/ID sends

        record = self.hub.store.get(alert_id)
        if record is None:
            return None
        body = record_json(self.hub, record, self.hub.clock())
        body["cap"] = msgspec.json.decode(to_json(self.hub.parse_stored(record.cap)))
        body["statement"] = record.statement.decode("utf-8", "replace")
        return body

    def hosts(self, request: Request) -> frozenset[str]:
        """The host[:port] names of this hub: the one asked, and the public URL's."""
        names = {request.url.netloc.lower()}
        public = self.hub.settings.public_url
        if public:
            names.add(urlsplit(public).netloc.lower())
        return frozenset(n for n in names if n)

    async def post(self, request: Request) -> Response:
        body = await read_body(request, MAX_CHECK_BODY_BYTES)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json":
            doc = decode_json(body)
            if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
                raise ApiError("bad_request", 'send a JSON object {"text": "..."}')
            text: str = doc["text"]
        elif media == "text/plain":
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError("bad_request", "the text is not UTF-8") from None
        else:
            raise ApiError("unsupported_media_type",
                           f"got {media or 'no Content-Type'}; send application/json or text/plain")
        if len(text) > MAX_TEXT_CHARS:
            raise ApiError("body_too_large",
                           f"the text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
        lane = self._short if len(text) <= SHORT_TEXT_CHARS else self._long
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(lane, self.check, text, self.hosts(request))
        except CheckInputError as exc:
            raise ApiError("bad_request", str(exc)) from None
        return Response(msgspec.json.encode(result), media_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _asset(name: str) -> bytes:
    return resources.files("tocsin.web").joinpath("check", name).read_bytes()


async def page(request: Request) -> Response:
    from tocsin.web.chrome import render_page  # the site's one header (and demo banner)

    html = render_page(_asset("index.html"), bool(request.app.state.hub.settings.demo))
    return Response(html, media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in PAGE_FILES:
        if "text/html" in request.headers.get("accept", ""):  # a mistyped page address
            from tocsin.web.routes import html_error

            return html_error(404, bool(request.app.state.hub.settings.demo))
        raise ApiError("not_found", f"/check/{name}")
    return Response(_asset(name), media_type=PAGE_FILES[name],
                    headers={"Content-Security-Policy": PAGE_CSP})


def check_routes(hub: Hub) -> list[BaseRoute]:
    """The routes of the checker (mounted by ``tocsin.assemble.build_app``)."""
    service = CheckService(hub)
    return [
        Route("/api/v1/check", service.post, methods=["POST"]),
        Route("/check", page, methods=["GET"]),
        Route("/check/{name}", asset, methods=["GET"]),
    ]
