"""Web Push endpoints (issue 15), mounted by ``tocsin.assemble.build_app``; docs/push.md.

* ``GET /api/v1/push/key`` — ``{"publicKey": <VAPID application server key, base64url>}``
* ``POST /api/v1/push/subscriptions`` — ``{"subscription": <PushSubscription JSON>,
  "regions": [codes], "points": [{"lat", "lon"}], "language": "uk"|"en"}`` → 201
  ``{"id", "secret"}`` (re-posting the same endpoint with ``Authorization: Bearer <secret>``
  updates it: 200 with a new secret; without its secret: 401 ``bad_push_secret``, nothing
  changes — knowing an endpoint never lets anyone take its subscription over)
* ``DELETE /api/v1/push/subscriptions/{id}`` with ``Authorization: Bearer <secret>`` → 204
* ``GET /sw.js`` and ``GET /manifest.webmanifest`` — the service worker (served at the
  root so its scope is the whole site) and the web app manifest

The subscription is durable (stored, fsync) before it is acknowledged; a refused one
writes nothing.
"""

from __future__ import annotations

import asyncio
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from tocsin.api import places
from tocsin.api.body import decode_json, read_body
from tocsin.api.errors import ApiError
from tocsin.push.crypto import PushKeyError, check_keys
from tocsin.push.endpoints import EndpointRefused, check_endpoint
from tocsin.push.messages import LANGUAGES
from tocsin.push.store import EndpointTaken, PushSubscription
from tocsin.push.vapid import b64url_decode

if TYPE_CHECKING:
    from tocsin.runtime import Hub

STATIC_DIR = Path(__file__).resolve().parents[1] / "web" / "static"
MAX_POINTS = 10
MAX_PUSH_BODY = 16 * 1024


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def parse_subscription(hub: Hub, data: Any) -> PushSubscription:
    """A :class:`PushSubscription` from the request JSON, or a catalogued error."""
    if not isinstance(data, dict):
        raise ApiError("bad_push_subscription", "the body must be a JSON object")
    sub = data.get("subscription")
    if not isinstance(sub, dict) or not isinstance(sub.get("keys"), dict):
        raise ApiError("bad_push_subscription",
                       "subscription must be the browser's PushSubscription JSON (endpoint, keys)")
    endpoint = sub.get("endpoint")
    if not isinstance(endpoint, str):
        raise ApiError("push_endpoint_refused", "subscription.endpoint must be a URL")
    try:
        origin = check_endpoint(endpoint, hub.push.allowed_hosts, resolve=False)
    except EndpointRefused as exc:
        raise ApiError("push_endpoint_refused", str(exc)) from None
    try:  # an origin VAPID cannot name (an IPv6 literal) would fail every message, logged
        hub.push.signer.authorization(origin)
    except ValueError:
        raise ApiError("push_endpoint_refused", "subscription.endpoint must name its push "
                       "service by a host name or an IPv4 address (VAPID cannot sign for "
                       "this origin)") from None
    keys = sub["keys"]
    try:
        p256dh = b64url_decode(str(keys.get("p256dh", "")))
        auth = b64url_decode(str(keys.get("auth", "")))
        check_keys(p256dh, auth)
    except (ValueError, PushKeyError) as exc:
        raise ApiError("bad_push_subscription", f"subscription.keys: {exc}") from None
    raw_regions = data.get("regions", [])
    raw_points = data.get("points", [])
    if not isinstance(raw_regions, list) or not all(isinstance(r, str) for r in raw_regions):
        raise ApiError("bad_push_subscription", "regions must be a list of region codes")
    if not isinstance(raw_points, list):
        raise ApiError("bad_push_subscription", "points must be a list of {lat, lon}")
    if len(raw_regions) > hub.settings.max_regions_per_subscription:
        raise ApiError("too_many_regions", f"{len(raw_regions)} regions named; the limit is "
                       f"{hub.settings.max_regions_per_subscription}")
    if len(raw_points) > MAX_POINTS:
        raise ApiError("bad_push_subscription", f"at most {MAX_POINTS} points")
    regions: list[str] = []
    for raw in raw_regions:
        code = places.require_region(hub, raw)
        if code not in regions:
            regions.append(code)
    points: list[tuple[float, float]] = []
    for point in raw_points:
        if not isinstance(point, dict):
            raise ApiError("bad_push_subscription", "each point must be {lat, lon}")
        lat, lon = point.get("lat"), point.get("lon")
        if isinstance(lat, bool) or isinstance(lon, bool) or not isinstance(lat, int | float) \
                or not isinstance(lon, int | float) or not _finite(lat) or not _finite(lon):
            raise ApiError("bad_push_subscription", "each point must be {lat: number, lon: number}")
        places.locate(hub, float(lat), float(lon))  # the same precise errors as a live point stream
        points.append((float(lat), float(lon)))
    if not regions and not points:
        raise ApiError("bad_push_subscription", "name at least one region or point")
    language = data.get("language", "uk")
    if language not in LANGUAGES:
        raise ApiError("bad_push_subscription", f"language must be one of {', '.join(LANGUAGES)}")
    return PushSubscription(id="", endpoint=endpoint, p256dh=p256dh, auth=auth,
                            regions=tuple(regions), points=tuple(points), language=language)


def _finite(value: float) -> bool:
    """A finite number that fits a float (a 400-digit integer does not: OverflowError)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def push_routes(hub: Hub) -> list[BaseRoute]:
    """The push API and the installable app's root files for ``hub``."""

    async def key(request: Request) -> Response:
        return _json({"publicKey": hub.push.signer.public_key_b64})

    async def subscribe(request: Request) -> Response:
        body = await read_body(request, min(MAX_PUSH_BODY, hub.settings.max_body_bytes))
        try:
            data = decode_json(body)
        except ApiError as exc:
            raise ApiError("bad_push_subscription", f"the body is not usable JSON: {exc.detail}") from None
        sub = parse_subscription(hub, data)
        try:  # now resolving the host (off the event loop): public addresses only
            await asyncio.to_thread(check_endpoint, sub.endpoint, hub.push.allowed_hosts,
                                    lookup=hub.push.lookup)
        except EndpointRefused as exc:
            raise ApiError("push_endpoint_refused", str(exc)) from None
        if hub.push.subscription_count >= hub.settings.max_push_subscriptions \
                and not hub.push.has_endpoint(sub.endpoint):
            raise ApiError("too_many_push_subscriptions",
                           f"limit {hub.settings.max_push_subscriptions}")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        current = given.strip() if scheme.lower() == "bearer" and given.strip() else None
        try:
            stored, secret, created = await asyncio.to_thread(hub.push.store.upsert, sub,
                                                              hub.push.feed.last_id, current)
        except EndpointTaken as exc:
            raise ApiError("bad_push_secret", str(exc)) from None
        hub.push.track(stored)
        return _json({"id": stored.id, "secret": secret}, 201 if created else 200)

    async def unsubscribe(request: Request) -> Response:
        sub_id = request.path_params["sub_id"]
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError("bad_push_secret", "send Authorization: Bearer <secret>")
        deleted = await asyncio.to_thread(hub.push.store.delete_with_secret, sub_id, secret.strip())
        if deleted is None:
            raise ApiError("push_subscription_not_found", f"no push subscription {sub_id[:40]!r}")
        if not deleted:
            raise ApiError("bad_push_secret", "the secret is not this subscription's")
        hub.push.untrack(sub_id)
        return Response(status_code=204)

    async def service_worker(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "sw.js", media_type="text/javascript; charset=utf-8",
                            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})

    async def manifest(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "manifest.webmanifest",
                            media_type="application/manifest+json",
                            headers={"Cache-Control": "no-cache"})

    return [
        Route("/api/v1/push/key", key, methods=["GET"]),
        Route("/api/v1/push/subscriptions", subscribe, methods=["POST"]),
        Route("/api/v1/push/subscriptions/{sub_id}", unsubscribe, methods=["DELETE"]),
        Route("/sw.js", service_worker, methods=["GET"]),
        Route("/manifest.webmanifest", manifest, methods=["GET"]),
    ]
