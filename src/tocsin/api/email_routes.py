"""Email alert endpoints (issue 16), mounted by ``tocsin.assemble.build_app``; docs/email.md.

* ``POST /api/v1/email/subscriptions`` — ``{"address", "name"?, "regions": [codes],
  "language": "uk"|"en"}`` → ``202`` once the confirmation email is handed to the relay.
  Nothing is sent to the address until its owner confirms; one confirmation per address per
  hour (``429 email_confirmation_pending``) and a few subscription requests per client
  (``429 too_many_email_requests``), so the hub cannot be used to flood an address.
* ``GET /api/v1/email/confirm?id=&token=`` — a page with one button (no change: mail scanners
  fetch links); ``POST`` to the same URL confirms → ``200``.
* ``GET /api/v1/email/unsubscribe?id=&token=`` — a page with one button; ``POST`` to the same
  URL (RFC 8058 one-click: body ``List-Unsubscribe=One-Click``) deletes the subscription and
  everything held about it → ``200``.

Answers are JSON, or a small HTML page when the client asks for ``text/html`` (a browser
following a link). Links carry secrets: their pages are ``no-store`` and send no referrer.
"""

from __future__ import annotations

import asyncio
import html
import logging
import math
import time
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from tocsin.api import places
from tocsin.api.body import decode_json, read_body
from tocsin.api.errors import ApiError
from tocsin.api.ratelimit import TokenBuckets, client_key
from tocsin.mail.addresses import AddressRefused, parse_address, parse_name
from tocsin.mail.messages import LANGUAGES
from tocsin.mail.smtp import HeaderRefused, SmtpFailure
from tocsin.mail.store import ConfirmationPending

if TYPE_CHECKING:
    from tocsin.mail.sender import EmailSender
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.email")

MAX_EMAIL_BODY = 16 * 1024
MAX_LINK_PARAM = 200
#: One confirmation per address per hour; a confirmation link works for a day.
RESEND_SECS = 3600.0
CONFIRM_TTL_SECS = 24 * 3600.0
#: Subscription requests one client may make in a burst, and the refill (one a minute).
REQUEST_BURST = 10
REQUEST_RATE_PER_SEC = 1 / 60
_PAGE_HEADERS = {"Cache-Control": "no-store",  # (every answer is no-referrer: tocsin.api.app)
                 "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                            "form-action 'self'; frame-ancestors 'none'"}

_PAGES = {
    "confirm": {"uk": ("Підтвердити підписку", "Натисніть, щоб підтвердити підписку на сповіщення "
                       "для ваших місць."),
                "en": ("Confirm the subscription", "Press the button to confirm your alert "
                       "subscription.")},
    "confirmed": {"uk": ("Підписку підтверджено", "Сповіщення для ваших місць надходитимуть на цю "
                         "адресу."),
                  "en": ("Subscription confirmed", "Alerts for your places will be sent to this "
                         "address.")},
    "unsubscribe": {"uk": ("Відписатися", "Натисніть, щоб більше не отримувати ці листи й видалити "
                           "вашу адресу."),
                    "en": ("Unsubscribe", "Press the button to stop these emails and delete your "
                           "address.")},
    "unsubscribed": {"uk": ("Вас відписано", "Ваша адреса й підписка видалені."),
                     "en": ("Unsubscribed", "Your address and subscription are deleted.")},
}


def _json(data: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store"})


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(page: str, language: str, *, button: bool = False, status: int = 200) -> HTMLResponse:
    title, text = _PAGES[page][language if language in LANGUAGES else "en"]
    field = ('<input type="hidden" name="List-Unsubscribe" value="One-Click">'
             if page == "unsubscribe" else "")
    form = (f'<form method="post">{field}<button type="submit">{html.escape(title)}</button>'
            "</form>") if button else ""
    body = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}</title>'
            f'</head><body style="font-family:sans-serif;max-width:40em"><h1>{html.escape(title)}</h1>'
            f"<p>{html.escape(text)}</p>{form}</body></html>")
    return HTMLResponse(body, status_code=status, headers=_PAGE_HEADERS)


def _error_page(error: ApiError) -> HTMLResponse:
    kind = error.kind
    body = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{html.escape(kind.code)}</title>'
            f'</head><body style="font-family:sans-serif;max-width:40em"><h1>{html.escape(kind.message)}'
            f"</h1><p>{html.escape(error.detail or '')}</p><p><code>{html.escape(kind.code)}</code> — "
            f'<a href="/docs/errors#{kind.code}">docs</a></p></body></html>')
    return HTMLResponse(body, status_code=kind.status, headers=_PAGE_HEADERS)


def _link_params(request: Request) -> tuple[str, str]:
    sub_id = request.query_params.get("id", "")
    token = request.query_params.get("token", "")
    if not sub_id or not token or len(sub_id) > MAX_LINK_PARAM or len(token) > MAX_LINK_PARAM:
        raise ApiError("email_link_invalid", "the link must carry id and token")
    return sub_id, token


def parse_request(hub: Hub, data: Any) -> tuple[str, str, tuple[str, ...], str]:
    """(address, name, region codes, language) from the request JSON, or a catalogued error."""
    if not isinstance(data, dict):
        raise ApiError("bad_email_subscription", "the body must be a JSON object")
    try:
        address = parse_address(data.get("address"))
        name = parse_name(data.get("name"))
    except AddressRefused as exc:
        raise ApiError("email_address_refused", str(exc)) from None
    raw_regions = data.get("regions")
    if not isinstance(raw_regions, list) or not all(isinstance(r, str) for r in raw_regions):
        raise ApiError("bad_email_subscription", "regions must be a list of region codes")
    if not raw_regions:
        raise ApiError("bad_email_subscription", "name at least one region")
    if len(raw_regions) > hub.settings.max_regions_per_subscription:
        raise ApiError("too_many_regions", f"{len(raw_regions)} regions named; the limit is "
                       f"{hub.settings.max_regions_per_subscription}")
    regions: list[str] = []
    for raw in raw_regions:
        code = places.require_region(hub, raw)
        if code not in regions:
            regions.append(code)
    language = data.get("language", "uk")
    if language not in LANGUAGES:
        raise ApiError("bad_email_subscription", f"language must be one of {', '.join(LANGUAGES)}")
    return address, name, tuple(regions), language


def email_routes(hub: Hub) -> list[BaseRoute]:
    """The email API for ``hub`` (answering 503 email_unavailable when no relay is set)."""
    requests = TokenBuckets(REQUEST_RATE_PER_SEC, REQUEST_BURST)

    def sender() -> EmailSender:
        found = hub.email
        if found is None:
            raise ApiError("email_unavailable", "this hub has no SMTP relay configured "
                           "(email_smtp_host)")
        return found

    async def subscribe(request: Request) -> Response:
        mail = sender()
        body = await read_body(request, min(MAX_EMAIL_BODY, hub.settings.max_body_bytes))
        try:
            data = decode_json(body)
        except ApiError as exc:
            raise ApiError("bad_email_subscription", f"the body is not usable JSON: {exc.detail}") from None
        address, name, regions, language = parse_request(hub, data)
        wait = requests.take(client_key(request.scope, hub.settings.proxy_addresses))
        if wait:
            seconds = max(1, math.ceil(wait))
            raise ApiError("too_many_email_requests", f"retry in {seconds} s", retry_after=seconds)
        store = mail.store
        if await asyncio.to_thread(store.count) >= hub.settings.max_email_subscriptions \
                and not await asyncio.to_thread(store.has_address, address):
            raise ApiError("too_many_email_subscriptions", f"limit {hub.settings.max_email_subscriptions}")
        now = time.time()
        try:
            held = await asyncio.to_thread(store.request, address=address, name=name, regions=regions,
                                           language=language, now=now, resend_secs=RESEND_SECS,
                                           ttl_secs=CONFIRM_TTL_SECS)
        except ConfirmationPending as exc:
            seconds = max(1, math.ceil(exc.retry_after))
            raise ApiError("email_confirmation_pending", str(exc), retry_after=seconds) from None
        try:
            await mail.send_confirmation(held, address, now + CONFIRM_TTL_SECS)
        except (SmtpFailure, HeaderRefused) as exc:
            await asyncio.to_thread(store.withdraw, held.id, held.token)
            if isinstance(exc, HeaderRefused):
                raise ApiError("email_address_refused", str(exc)) from None
            # The relay's own words (host names, queue ids) are for the operator's log only.
            log.warning("email: a confirmation email was not handed over: %s", exc)
            reply = (f"SMTP {exc.code}" if exc.code is not None and exc.code > 0
                     else "the relay did not answer in time" if exc.timed_out else "no SMTP reply")
            raise ApiError("email_relay_unavailable", f"the confirmation email could not be sent "
                           f"({reply}); nothing was kept, try again later", retry_after=60) from None
        return _json({"status": "confirmation_sent", "expires_in": int(CONFIRM_TTL_SECS)}, 202)

    async def confirm_page(request: Request) -> Response:
        try:
            sender()
            _link_params(request)
        except ApiError as exc:
            return _error_page(exc)
        return _page("confirm", _language(request), button=True)

    async def confirm(request: Request) -> Response:
        as_html = _wants_html(request)
        try:
            mail = sender()
            sub_id, token = _link_params(request)
            await read_body(request, MAX_EMAIL_BODY)
            done = await asyncio.to_thread(mail.store.confirm, sub_id, token, now=time.time(),
                                           start_after=mail.feed.last_id)
            if done is None:
                raise ApiError("email_link_invalid", "this confirmation link is unknown, used or expired")
        except ApiError as exc:
            if as_html:
                return _error_page(exc)
            raise
        sub, _created = done
        mail.track(sub)
        if as_html:
            return _page("confirmed", sub.language)
        return _json({"confirmed": True, "regions": list(sub.regions), "language": sub.language})

    async def unsubscribe_page(request: Request) -> Response:
        try:
            mail = sender()
            sub_id, token = _link_params(request)
            if not mail.link_key.check_unsubscribe(sub_id, token):
                raise ApiError("email_link_invalid", "this unsubscribe link is not valid")
        except ApiError as exc:
            return _error_page(exc)
        return _page("unsubscribe", _language(request), button=True)

    async def unsubscribe(request: Request) -> Response:
        as_html = _wants_html(request)
        try:
            mail = sender()
            sub_id, token = _link_params(request)
            await read_body(request, MAX_EMAIL_BODY)  # RFC 8058: "List-Unsubscribe=One-Click"
            if not mail.link_key.check_unsubscribe(sub_id, token):
                raise ApiError("email_link_invalid", "this unsubscribe link is not valid")
        except ApiError as exc:
            if as_html:
                return _error_page(exc)
            raise
        held = await asyncio.to_thread(mail.store.get, sub_id)
        mail.untrack(sub_id)
        await asyncio.to_thread(mail.store.delete, sub_id)  # again: one already gone is unsubscribed
        if as_html:
            return _page("unsubscribed", held.language if held is not None else _language(request))
        return _json({"unsubscribed": True})

    return [
        Route("/api/v1/email/subscriptions", subscribe, methods=["POST"]),
        Route("/api/v1/email/confirm", confirm_page, methods=["GET"]),
        Route("/api/v1/email/confirm", confirm, methods=["POST"]),
        Route("/api/v1/email/unsubscribe", unsubscribe_page, methods=["GET"]),
        Route("/api/v1/email/unsubscribe", unsubscribe, methods=["POST"]),
    ]


def _language(request: Request) -> str:
    accept = request.headers.get("accept-language", "")
    return "uk" if accept.lower().startswith("uk") else "en"

