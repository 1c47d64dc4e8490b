"""The WebSub hub (W3C WebSub) for the CAP Atom feeds; docs/webhooks.md, tocsin.callbacks.websub.

``POST /websub`` takes a form-encoded subscription request (``hub.mode`` = ``subscribe`` or
``unsubscribe``, ``hub.topic``, ``hub.callback``, optional ``hub.lease_seconds`` and
``hub.secret``). A request that can be judged at once (unknown topic, callback refused by
the outbound rule, bad lease, secret too long) gets a catalogued 4xx; otherwise ``202
Accepted``, and the hub verifies the subscriber's intent in the background: only a
callback that echoes ``hub.challenge`` is subscribed (or unsubscribed). A subscription
gets every event its topic shows from the moment it was requested.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tocsin.api import places
from tocsin.api.body import read_body
from tocsin.api.errors import ApiError
from tocsin.api.ratelimit import client_key
from tocsin.callbacks import websub
from tocsin.delivery.outbound import UrlRefused, check_url, origin_of

if TYPE_CHECKING:
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.callbacks")

MAX_WEBSUB_BODY = 8 * 1024


def topic_regions(hub: Hub, topic: str) -> tuple[str, ...]:
    """The region codes a topic (one of the hub's feeds) shows; () = every alert."""
    base = hub.settings.base_url
    if not topic.startswith(base + "/feeds/"):
        raise ApiError("unknown_topic", f"hub.topic must be one of this hub's feeds under {base}/feeds/")
    parts = urlsplit(topic[len(base):])
    if parts.fragment:
        raise ApiError("unknown_topic", "hub.topic must not have a fragment")
    if parts.path == "/feeds/alerts.atom":
        query = parse_qs(parts.query)
        allowed = {"region", "lat", "lon"}
        if set(query) - allowed or any(len(v) > 1 for v in query.values()):
            raise ApiError("unknown_topic", "the feed takes only one region=, lat= and lon=")

        def one(name: str) -> str | None:
            return query[name][0] if name in query else None

        codes = places.region_params(hub, one("region"), one("lat"), one("lon"))
        if codes is not None and not codes:
            raise ApiError("unknown_topic", "the topic names no region")
        return () if codes is None else tuple(codes)
    if parts.path.startswith("/feeds/regions/") and not parts.query:
        return (places.require_region(hub, parts.path.removeprefix("/feeds/regions/").removesuffix(".atom")),)
    raise ApiError("unknown_topic", f"{parts.path[:80]!r} is not one of this hub's Atom feeds")


def websub_routes(hub: Hub) -> list[BaseRoute]:
    """The WebSub hub endpoint for ``hub``."""
    sender = hub.callbacks

    async def apply(mode: str, callback: str, topic: str, regions: tuple[str, ...],
                    secret: str | None, lease: int, cursor: int) -> None:
        params = {"hub.mode": mode, "hub.topic": topic, "hub.challenge": secrets.token_urlsafe(24)}
        if mode == "subscribe":
            params["hub.lease_seconds"] = str(lease)
        if not await sender.verify_intent(callback, params):
            # the origin only: a callback's path and query are often its capability
            log.info("websub %s of a callback at %s to %s: intent not verified", mode,
                     origin_of(callback)[0], topic)
            return
        if mode == "subscribe":
            now = sender.wall()
            target = await asyncio.to_thread(
                sender.store.subscribe_websub, callback=callback, topic=topic, regions=regions,
                secret=secret, expires=now + sender.seconds(lease), cursor=cursor, now=now)
            sender.track(target)
            return
        found = await asyncio.to_thread(sender.store.find_websub, callback, topic)
        if found is not None:
            await asyncio.to_thread(sender.store.delete, found.id)
            sender.untrack(found.id)

    async def hub_endpoint(request: Request) -> Response:
        body = await read_body(request, min(MAX_WEBSUB_BODY, hub.settings.max_body_bytes))
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False,
                                  max_num_fields=10))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ApiError("bad_websub_request", f"the body must be a form ({exc})") from None
        mode, topic, callback = form.get("hub.mode"), form.get("hub.topic"), form.get("hub.callback")
        if mode not in ("subscribe", "unsubscribe"):
            raise ApiError("bad_websub_request", "hub.mode must be subscribe or unsubscribe")
        if not topic or not callback:
            raise ApiError("bad_websub_request", "hub.topic and hub.callback are required")
        regions = topic_regions(hub, topic)
        try:
            await asyncio.to_thread(check_url, callback, sender.allowed_hosts, name="hub.callback",
                                    setting="callback_allowed_hosts", what="callback host",
                                    lookup=sender.lookup)
        except UrlRefused as exc:
            raise ApiError("websub_callback_refused", str(exc)) from None
        try:
            lease = websub.lease_secs(form.get("hub.lease_seconds"))
        except ValueError:
            raise ApiError("bad_websub_request",
                           "hub.lease_seconds must be a positive whole number of seconds") from None
        secret = form.get("hub.secret") or None
        if secret is not None and len(secret.encode("utf-8")) > websub.MAX_SECRET_BYTES:
            raise ApiError("bad_websub_request", "hub.secret must be shorter than 200 bytes")
        if mode == "subscribe" and sender.target_count >= hub.settings.max_callbacks:
            raise ApiError("too_many_callbacks", f"limit {hub.settings.max_callbacks}")
        if sender.verifications_full:
            raise ApiError("too_many_callbacks", "too many subscription requests are being "
                           "verified; retry in a minute")
        client = client_key(request.scope, hub.settings.proxy_addresses)
        if sender.verifying_for(client) >= websub.MAX_PENDING_PER_CLIENT:
            raise ApiError("rate_limited", f"{websub.MAX_PENDING_PER_CLIENT} of this client's "
                           "subscription requests are still being verified; retry when they are "
                           "done", retry_after=10)
        sender.spawn(apply(mode, callback, topic, regions, secret, lease, hub.feed.last_id),
                     client=client)
        return Response(status_code=202)

    return [Route(websub.HUB_PATH, hub_endpoint, methods=["POST"])]
