"""Bounded outbound fetches for the follower, under the hub's SSRF rule (as push and webhooks).

A followed feed is a stranger's server: it may answer without end, redirect in circles,
point at the hub's own loopback or the cloud metadata address, or never answer. So every
fetch here

* checks the URL with :func:`tocsin.delivery.outbound.check_url` (public HTTPS only,
  unless the host is in ``follow_allowed_hosts``), before the first request and again
  for every redirect target;
* looks the host up once per request (the follower's :data:`~tocsin.delivery.outbound.Lookup`),
  checks every address (:func:`~tocsin.delivery.outbound.check_public`) and connects only
  to one of them, with the original ``Host`` header and TLS server name (``sni_hostname``):
  a name cannot answer a public address to the check and a private one to the connection
  (DNS rebinding), as push, webhooks and WebSub (:mod:`tocsin.delivery.pinning`). A host in
  ``follow_allowed_hosts`` is resolved by the HTTP client, as before;
* follows at most :data:`MAX_REDIRECTS` redirects, and refuses a loop at once;
* reads at most ``limit`` bytes (a larger ``Content-Length`` is refused before reading);
* gives up after :data:`TIMEOUT_SECS` of waiting (to connect, or for the next bytes), and
  after :data:`TOTAL_SECS` for the whole fetch (a server dripping its answer).

Each refusal is a :class:`FetchRefused` whose ``code`` is in the API error catalogue
(``feed_address_refused``, ``feed_redirect_loop``, ``feed_too_large``,
``feed_unreachable``) and whose message says what happened, for the log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from urllib.parse import urljoin, urlsplit

import httpx

from tocsin.delivery import outbound

MAX_REDIRECTS = 5
TIMEOUT_SECS = 10.0  # each wait: connecting, and each read of the answer
TOTAL_SECS = 30.0  # one whole fetch, redirects included
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchRefused(Exception):
    """A fetch refused or failed; ``code`` is catalogued, ``status`` the HTTP status if any."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


async def check_url(url: str, allowed: Collection[str],
                    lookup: outbound.Lookup = outbound.system_lookup) -> list[str] | None:
    """The addresses the follower may connect to for ``url`` (looked up once, each checked),
    or None for a host in ``allowed`` (the HTTP client resolves it); else :class:`FetchRefused`
    (``feed_address_refused``)."""
    try:
        return await asyncio.to_thread(_checked_addresses, url, allowed, lookup)
    except outbound.UrlRefused as exc:
        raise FetchRefused("feed_address_refused", f"{url[:200]}: {exc}") from None


def _checked_addresses(url: str, allowed: Collection[str], lookup: outbound.Lookup) -> list[str] | None:
    outbound.check_url(url, allowed, resolve=False, name="the feed URL",
                       setting="follow_allowed_hosts", what="feed host")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in allowed:
        return None
    return outbound.check_public(host, parts.port or 443, what="feed host", lookup=lookup)


async def _send(client: httpx.AsyncClient, url: str, addresses: list[str] | None,
                accept: str) -> httpx.Response:
    """GET ``url`` (streamed, no redirects), connected to one of ``addresses`` (in turn, the
    next after a failed connection) with the original ``Host`` header and TLS server name, so
    the certificate is still checked against the name; None: the client resolves the name."""
    target = httpx.URL(url)
    if addresses is None:
        return await client.send(client.build_request("GET", target, headers={"Accept": accept}),
                                 stream=True, follow_redirects=False)
    headers = {"Accept": accept, "Host": target.netloc.decode("ascii")}
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    failed: httpx.TransportError | None = None
    for address in addresses:
        request = client.build_request("GET", target.copy_with(host=address.split("%")[0]),
                                       headers=headers, extensions=extensions)
        try:
            return await client.send(request, stream=True, follow_redirects=False)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            failed = exc
    assert failed is not None  # check_public never returns an empty list
    raise failed


async def fetch(client: httpx.AsyncClient, url: str, *, limit: int, allowed: Collection[str],
                accept: str = "*/*", lookup: outbound.Lookup = outbound.system_lookup) -> bytes:
    """GET ``url`` under the rules above; the body (at most ``limit`` bytes), within
    :data:`TOTAL_SECS` in all (redirects included): a server answering a byte at a time
    never trips the per-wait timeout."""
    try:
        async with asyncio.timeout(TOTAL_SECS):
            return await _fetch(client, url, limit=limit, allowed=allowed, accept=accept, lookup=lookup)
    except TimeoutError:
        raise FetchRefused("feed_unreachable", f"{url[:200]}: no complete answer within "
                           f"{TOTAL_SECS:g} s in all") from None


async def _fetch(client: httpx.AsyncClient, url: str, *, limit: int, allowed: Collection[str],
                 accept: str, lookup: outbound.Lookup) -> bytes:
    seen: list[str] = []
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if current in seen:
            raise FetchRefused("feed_redirect_loop",
                               f"{url[:200]}: redirect loop ({' -> '.join(s[:80] for s in seen)} -> "
                               f"{current[:80]})")
        seen.append(current)
        addresses = await check_url(current, allowed, lookup)
        try:
            response = await _send(client, current, addresses, accept)
            try:
                if response.status_code in REDIRECTS:
                    location = response.headers.get("location")
                    if not location:
                        raise FetchRefused("feed_unreachable",
                                           f"{current[:200]}: HTTP {response.status_code} without Location",
                                           response.status_code)
                    current = urljoin(current, location)
                    continue
                return await _read(response, current, limit)
            finally:
                await response.aclose()
        except httpx.HTTPError as exc:
            raise FetchRefused("feed_unreachable", f"{current[:200]}: {type(exc).__name__}: {exc}") from None
    raise FetchRefused("feed_redirect_loop", f"{url[:200]}: more than {MAX_REDIRECTS} redirects")


async def _read(response: httpx.Response, url: str, limit: int) -> bytes:
    """The body of a final answer: 200 and at most ``limit`` bytes, else :class:`FetchRefused`."""
    if response.status_code != 200:
        raise FetchRefused("feed_unreachable", f"{url[:200]}: HTTP {response.status_code}",
                           response.status_code)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise FetchRefused("feed_too_large", f"{url[:200]}: Content-Length {declared} "
                           f"is over the {limit}-byte limit")
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            raise FetchRefused("feed_too_large", f"{url[:200]}: answer larger than {limit} bytes")
    return bytes(body)


def new_client() -> httpx.AsyncClient:
    """The follower's HTTP client: no redirects of its own, no proxies from the environment,
    a timeout per request, and no decompression (``aiter_raw``: a gzip bomb is counted as sent).

    No kept-alive connections: a pinned request names the address, and the pool matches
    connections by address and port only, not by TLS server name, so a connection opened
    (and its certificate checked) for one name could otherwise carry another name's request.
    """
    return httpx.AsyncClient(timeout=TIMEOUT_SECS, follow_redirects=False, trust_env=False,
                             limits=httpx.Limits(max_keepalive_connections=0),
                             headers={"User-Agent": "Tocsin-follow/1", "Accept-Encoding": "identity"})
