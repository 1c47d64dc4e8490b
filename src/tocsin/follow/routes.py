"""HTTP for relayed alerts: the JSON, the exact bytes, the followers' status and a page.

* ``GET /api/v1/relayed`` — relayed alerts, newest first (``feed=``, ``limit=``)
* ``GET /api/v1/relayed/{id}`` — one, with ``trust`` and the verdict in words
* ``GET /api/v1/relayed/{id}/cap`` (and ``/statement``, ``/proof`` for a Tocsin hub's alert)
  — the bytes exactly as fetched, so anyone can re-verify
* ``GET /api/v1/follows`` — each followed feed: what it is trusted with, last poll, last
  error (code and message), counts, recent refusals
* ``GET /relayed/{id}`` — a page saying in words where the alert came from and how far it
  is proven. No script: the words are in the HTML. Only ``trust = "verified"`` (from a
  followed Tocsin hub, verified as if issued here) gets the verified mark; an unverified
  alert says "Relayed, unverified" and is never coloured as a threat.

Relayed alerts live only here: they are not in ``/api/v1/alerts``, the map, region status,
the live streams or ``/api/v1/check`` (see :mod:`tocsin.follow.store`).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tocsin.api.errors import ApiError
from tocsin.follow.store import RelayStore
from tocsin.web.chrome import render_page

if TYPE_CHECKING:
    from tocsin.runtime import Hub

ID_RE = re.compile(r"[0-9a-f]{32}")
MAX_LIST = 500
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
MARKS = {"verified": "✔", "xml-signature": "✉", "unverified": "?"}
#: The bytes exactly as fetched (or as an issuer signed them: api.app) are a stranger's: CAP's
#: schema lets any element into an XML signature, so a document may carry XHTML ``script``
#: that runs on this origin in a browser rendering it as XML. Nothing is allowed, and the
#: document gets an opaque origin.
BYTES_CSP = "default-src 'none'; sandbox"


def relayed_view(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON of one relayed alert; ``verified`` is true only for a followed hub's alert
    that verified as if it were issued here."""
    view = dict(row)
    view["verified"] = row["trust"] == "verified"
    view["received_iso"] = datetime.fromtimestamp(row["received_ts"], UTC).isoformat(timespec="seconds")
    view["cap_url"] = f"/api/v1/relayed/{row['id']}/cap"
    view["page_url"] = f"/relayed/{row['id']}"
    if row["trust"] == "verified":
        view["statement_url"] = f"/api/v1/relayed/{row['id']}/statement"
        view["proof_url"] = f"/api/v1/relayed/{row['id']}/proof"
    return view


def _json(data: Any) -> Response:
    return Response(msgspec.json.encode(data), media_type="application/json",
                    headers={"Cache-Control": "no-cache"})


def _page(row: dict[str, Any], demo: bool) -> bytes:
    trust = row["trust"]
    e = {k: escape(str(v)) for k, v in row.items()}
    if trust == "verified":
        title = f"{MARKS[trust]} {e['words']}"
    elif trust == "xml-signature":
        title = f"{e['words']}"
    else:
        title = ("Relayed, unverified — this hub has not verified who sent this alert. "
                 "It is not in this hub's log and is shown neither on the map nor as a threat.")
    html = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{e['event']} — relayed from {e['feed']}</title>
  <link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/static/css/app.css">
  <script src="/static/js/i18n.js" defer></script>
</head>
<body>
<!--#chrome-->
  <main class="page relayed">
    <p id="provenance" class="provenance provenance-{escape(trust)}" data-trust="{escape(trust)}">{title}</p>
    <h2 id="event">{e['event']}</h2>
    <p id="headline">{e['headline']}</p>
    <dl>
      <dt>Where (as the sender wrote it)</dt><dd id="areas">{e['area_desc']}</dd>
      <dt>Sender</dt><dd>{e['sender']}</dd>
      <dt>Sent</dt><dd>{e['sent']}</dd>
      <dt>Type, status</dt><dd>{e['msg_type']}, {e['status']}</dd>
      <dt>Followed feed</dt><dd>{e['feed']}</dd>
      <dt>How it was checked</dt><dd id="detail">{e['detail']}</dd>
      <dt>Fetched from</dt><dd>{e['source_url']}</dd>
    </dl>
    <p><a href="/api/v1/relayed/{e['id']}/cap">The CAP document exactly as fetched</a></p>
  </main>
</body>
</html>
"""
    return render_page(html.encode("utf-8"), demo)


def relay_routes(hub: Hub) -> list[BaseRoute]:
    """The routes above, mounted by ``tocsin.assemble.build_app``."""

    def store() -> RelayStore:
        return hub.follow.store

    async def one(request: Request) -> dict[str, Any]:
        alert_id = request.path_params["alert_id"]
        row: dict[str, Any] | None = None
        if ID_RE.fullmatch(alert_id):
            row = await asyncio.to_thread(store().get, alert_id)
        if row is None:
            raise ApiError("relayed_alert_not_found", f"no relayed alert has id {alert_id[:40]!r}")
        return row

    async def list_relayed(request: Request) -> Response:
        raw = request.query_params.get("limit", "100")
        if not raw.isdigit() or not 0 < int(raw) <= MAX_LIST:
            raise ApiError("bad_parameter", f"limit must be 1..{MAX_LIST}")
        feed = request.query_params.get("feed")
        rows = await asyncio.to_thread(store().recent, feed=feed, limit=int(raw))
        return _json({"relayed": [relayed_view(r) for r in rows]})

    async def get_relayed(request: Request) -> Response:
        return _json(relayed_view(await one(request)))

    def bytes_route(index: int, media_type: str) -> Any:
        async def handler(request: Request) -> Response:
            row = await one(request)
            held = await asyncio.to_thread(store().get_bytes, row["id"])
            data = held[index] if held is not None else None
            if data is None:
                raise ApiError("relayed_alert_not_found", "this relayed alert has no such document")
            return Response(data, media_type=media_type, headers={"Content-Security-Policy": BYTES_CSP})

        return handler

    async def follows(request: Request) -> Response:
        return _json({"feeds": await asyncio.to_thread(hub.follow.status)})

    async def page(request: Request) -> Response:
        try:
            row = await one(request)
        except ApiError:
            from tocsin.web.routes import html_error

            return html_error(404, hub.settings.demo)
        return Response(_page(row, hub.settings.demo), media_type="text/html; charset=utf-8",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    return [
        Route("/api/v1/relayed", list_relayed),
        Route("/api/v1/relayed/{alert_id}", get_relayed),
        Route("/api/v1/relayed/{alert_id}/cap", bytes_route(0, "application/cap+xml")),
        Route("/api/v1/relayed/{alert_id}/statement", bytes_route(1, "text/plain; charset=utf-8")),
        Route("/api/v1/relayed/{alert_id}/proof", bytes_route(2, "text/plain; charset=utf-8")),
        Route("/api/v1/follows", follows),
        Route("/relayed/{alert_id}", page),
    ]
