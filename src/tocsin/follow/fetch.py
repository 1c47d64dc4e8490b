"""Bounded outbound fetches for the follower, under the hub's SSRF rule (as push and webhooks).

A followed feed is a stranger's server: it may answer without end, redirect in circles,
point at the hub's own loopback or the cloud metadata address, or never answer. So every
fetch here

* checks the URL with :func:`tocsin.delivery.outbound.check_url` (public HTTPS only,
  unless the host is in ``follow_allowed_hosts``), before the first request and again
  for every redirect target;
* follows at most :data:`MAX_REDIRECTS` redirects, and refuses a loop at once;
* reads at most ``limit`` bytes (a larger ``Content-Length`` is refused before reading);
* gives up after :data:`TIMEOUT_SECS` per request.

Each refusal is a :class:`FetchRefused` whose ``code`` is in the API error catalogue
(``feed_address_refused``, ``feed_redirect_loop``, ``feed_too_large``,
``feed_unreachable``) and whose message says what happened, for the log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from urllib.parse import urljoin

import httpx

from tocsin.delivery import outbound

MAX_REDIRECTS = 5
TIMEOUT_SECS = 10.0
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchRefused(Exception):
    """A fetch refused or failed; ``code`` is catalogued, ``status`` the HTTP status if any."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


async def check_url(url: str, allowed: Collection[str],
                    lookup: outbound.Lookup = outbound.system_lookup) -> None:
    """:class:`FetchRefused` (``feed_address_refused``) unless the follower may call ``url``."""
    try:
        await asyncio.to_thread(outbound.check_url, url, allowed, name="the feed URL",
                                setting="follow_allowed_hosts", what="feed host", lookup=lookup)
    except outbound.UrlRefused as exc:
        raise FetchRefused("feed_address_refused", f"{url[:200]}: {exc}") from None


async def fetch(client: httpx.AsyncClient, url: str, *, limit: int, allowed: Collection[str],
                accept: str = "*/*", lookup: outbound.Lookup = outbound.system_lookup) -> bytes:
    """GET ``url`` under the rules above; the body (at most ``limit`` bytes)."""
    seen: list[str] = []
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if current in seen:
            raise FetchRefused("feed_redirect_loop",
                               f"{url[:200]}: redirect loop ({' -> '.join(s[:80] for s in seen)} -> "
                               f"{current[:80]})")
        seen.append(current)
        await check_url(current, allowed, lookup)
        try:
            async with client.stream("GET", current, headers={"Accept": accept},
                                     follow_redirects=False) as response:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchRefused("feed_unreachable",
                                           f"{current[:200]}: HTTP {response.status_code} without Location",
                                           response.status_code)
                    current = urljoin(current, location)
                    continue
                if response.status_code != 200:
                    raise FetchRefused("feed_unreachable", f"{current[:200]}: HTTP {response.status_code}",
                                       response.status_code)
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchRefused("feed_too_large", f"{current[:200]}: Content-Length {declared} "
                                       f"is over the {limit}-byte limit")
                body = bytearray()
                async for chunk in response.aiter_raw():
                    body += chunk
                    if len(body) > limit:
                        raise FetchRefused("feed_too_large",
                                           f"{current[:200]}: answer larger than {limit} bytes")
                return bytes(body)
        except httpx.HTTPError as exc:
            raise FetchRefused("feed_unreachable", f"{current[:200]}: {type(exc).__name__}: {exc}") from None
    raise FetchRefused("feed_redirect_loop", f"{url[:200]}: more than {MAX_REDIRECTS} redirects")


def new_client() -> httpx.AsyncClient:
    """The follower's HTTP client: no redirects of its own, no proxies from the environment,
    a timeout per request, and no decompression (``aiter_raw``: a gzip bomb is counted as sent)."""
    return httpx.AsyncClient(timeout=TIMEOUT_SECS, follow_redirects=False, trust_env=False,
                             headers={"User-Agent": "Tocsin-follow/1", "Accept-Encoding": "identity"})
