"""Webhook endpoints (issue 16), mounted by ``tocsin.assemble.build_app``; docs/webhooks.md.

* ``POST /api/v1/webhooks`` — ``{"url", "regions": [codes], "kinds": [kind ids],
  "signing_secret": "whsec_…" (optional)}``. The URL must pass the outbound rule (public
  HTTPS unless ``callback_allowed_hosts``); the hub then sends it a verification message
  it must answer with the challenge. Only then is the endpoint stored (durably) and
  ``201 {"id", "url", "regions", "kinds", "secret", "signing_secret"}`` answered: ``secret``
  is the owner's (manage the endpoint with ``Authorization: Bearer <secret>``),
  ``signing_secret`` verifies the ``webhook-signature`` of every message.
* ``GET /api/v1/webhooks/{id}`` — the endpoint, its cursor and its dead-letter count.
* ``DELETE /api/v1/webhooks/{id}`` — delete it and its dead letters → 204.
* ``GET /api/v1/webhooks/{id}/dead-letters`` — events given up after the retry window.
* ``POST /api/v1/webhooks/{id}/dead-letters/replay`` — send them again → 202.

A refused registration stores nothing; the owner secret is compared in constant time. At
most ``MAX_PENDING_PER_CLIENT`` of one client's registrations (or WebSub requests) are
being verified at once; beyond that ``429 rate_limited``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from tocsin.api import places
from tocsin.api.body import decode_json, read_body
from tocsin.api.errors import ApiError
from tocsin.api.ratelimit import client_key
from tocsin.callbacks.store import Target, new_signing_secret
from tocsin.callbacks.webhooks import message_id
from tocsin.callbacks.websub import MAX_PENDING_PER_CLIENT
from tocsin.delivery.outbound import UrlRefused, check_url
from tocsin.kinds import KINDS

if TYPE_CHECKING:
    from tocsin.runtime import Hub

MAX_WEBHOOK_BODY = 16 * 1024
MAX_SIGNING_SECRET_CHARS = 200


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _describe(target: Target) -> dict[str, Any]:
    return {"id": target.id, "url": target.url, "regions": list(target.regions),
            "kinds": list(target.kinds)}


def parse_webhook(hub: Hub, data: Any) -> tuple[str, list[str], list[str], str]:
    """``(url, regions, kinds, signing secret)`` from the request JSON, or a catalogued error."""
    if not isinstance(data, dict):
        raise ApiError("bad_webhook", "the body must be a JSON object")
    url = data.get("url")
    if not isinstance(url, str):
        raise ApiError("webhook_url_refused", "url must be a URL")
    try:
        check_url(url, hub.callbacks.allowed_hosts, resolve=False, name="url",
                  setting="callback_allowed_hosts", what="callback host")
    except UrlRefused as exc:
        raise ApiError("webhook_url_refused", str(exc)) from None
    raw_regions, raw_kinds = data.get("regions"), data.get("kinds", [])
    if not isinstance(raw_regions, list) or not all(isinstance(r, str) for r in raw_regions):
        raise ApiError("bad_webhook", "regions must be a list of region codes")
    if not isinstance(raw_kinds, list) or not all(isinstance(k, str) for k in raw_kinds):
        raise ApiError("bad_webhook", "kinds must be a list of kind ids (GET /api/v1/kinds)")
    if len(raw_regions) > hub.settings.max_regions_per_subscription:
        raise ApiError("too_many_regions", f"{len(raw_regions)} regions named; the limit is "
                       f"{hub.settings.max_regions_per_subscription}")
    regions: list[str] = []
    for raw in raw_regions:
        code = places.require_region(hub, raw)
        if code not in regions:
            regions.append(code)
    kinds: list[str] = []
    for kind in raw_kinds:
        if kind not in KINDS:
            raise ApiError("bad_webhook", f"{kind[:40]!r} is not a kind id (GET /api/v1/kinds)")
        if kind not in kinds:
            kinds.append(kind)
    if not regions and "denial" not in kinds:
        raise ApiError("bad_webhook", "name at least one region (or the kind \"denial\")")
    secret = data.get("signing_secret")
    if secret is None:
        secret = new_signing_secret()
    elif not isinstance(secret, str) or not secret.startswith("whsec_") or \
            len(secret) > MAX_SIGNING_SECRET_CHARS or not _is_b64(secret[6:]):
        raise ApiError("bad_webhook", "signing_secret must be whsec_ and base64 (at least 24 bytes)")
    return url, regions, kinds, secret


def _is_b64(text: str) -> bool:
    import base64
    import binascii

    try:
        return len(base64.b64decode(text, validate=True)) >= 24
    except (binascii.Error, ValueError):
        return False


def webhook_routes(hub: Hub) -> list[BaseRoute]:
    """The webhook API for ``hub``."""

    async def owned(request: Request) -> Target:
        target_id = request.path_params["webhook_id"]
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise ApiError("bad_webhook_secret", "send Authorization: Bearer <secret>")
        found = await asyncio.to_thread(hub.callbacks.store.owned, target_id, secret.strip())
        if found is None:
            raise ApiError("webhook_not_found", f"no webhook {target_id[:40]!r}")
        if found is False or found is True:
            raise ApiError("bad_webhook_secret", "the secret is not this webhook's owner's")
        return found

    async def create(request: Request) -> Response:
        body = await read_body(request, min(MAX_WEBHOOK_BODY, hub.settings.max_body_bytes))
        try:
            data = decode_json(body)
        except ApiError as exc:
            raise ApiError("bad_webhook", f"the body is not usable JSON: {exc.detail}") from None
        url, regions, kinds, signing_secret = parse_webhook(hub, data)
        if hub.callbacks.target_count >= hub.settings.max_callbacks:
            raise ApiError("too_many_callbacks", f"limit {hub.settings.max_callbacks}")
        cursor = hub.feed.last_id  # events from now on; none older
        client = client_key(request.scope, hub.settings.proxy_addresses)
        if hub.callbacks.verifying_for(client) >= MAX_PENDING_PER_CLIENT:
            raise ApiError("rate_limited", f"{MAX_PENDING_PER_CLIENT} of this client's "
                           "endpoints are still being verified; retry when they are done",
                           retry_after=10)
        try:
            with hub.callbacks.verifying(client):
                problem = await hub.callbacks.verify_webhook(url, signing_secret)
        except UrlRefused as exc:
            raise ApiError("webhook_url_refused", str(exc)) from None
        if problem is not None:
            raise ApiError("webhook_not_verified", problem)
        target, owner = await asyncio.to_thread(
            hub.callbacks.store.add_webhook, url=url, regions=regions, kinds=kinds,
            signing_secret=signing_secret, cursor=cursor, now=hub.clock())
        hub.callbacks.track(target)
        return _json({**_describe(target), "secret": owner, "signing_secret": signing_secret}, 201)

    async def show(request: Request) -> Response:
        target = await owned(request)
        letters = await asyncio.to_thread(hub.callbacks.store.dead_letters, target.id)
        cursor = hub.callbacks.cursor_of(target.id)
        return _json({**_describe(target), "cursor": target.cursor if cursor is None else cursor,
                      "dead_letters": len(letters)})

    async def delete(request: Request) -> Response:
        target = await owned(request)
        await asyncio.to_thread(hub.callbacks.store.delete, target.id)
        hub.callbacks.untrack(target.id)
        return Response(status_code=204)

    async def dead_letters(request: Request) -> Response:
        target = await owned(request)
        letters = await asyncio.to_thread(hub.callbacks.store.dead_letters, target.id)
        return _json({"dead_letters": [
            {"event_id": d.event_id, "webhook_id": message_id(target.id, d.event_id),
             "reason": d.reason, "attempts": d.attempts, "dead_at": d.dead_at}
            for d in letters]})

    async def replay(request: Request) -> Response:
        target = await owned(request)
        letters = await asyncio.to_thread(hub.callbacks.store.dead_letters, target.id)
        hub.callbacks.replay(target.id, letters)
        return _json({"replaying": len(letters)}, 202)

    return [
        Route("/api/v1/webhooks", create, methods=["POST"]),
        Route("/api/v1/webhooks/{webhook_id}", show, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}", delete, methods=["DELETE"]),
        Route("/api/v1/webhooks/{webhook_id}/dead-letters", dead_letters, methods=["GET"]),
        Route("/api/v1/webhooks/{webhook_id}/dead-letters/replay", replay, methods=["POST"]),
    ]
