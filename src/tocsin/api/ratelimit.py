"""Per-client limits: token buckets for checks and for refused writes, keyed by the TCP peer.

Two things are cheap to ask and costly to answer: a check (``POST
/api/v1/check`` searches the index) and a write the hub refuses (every
forged or malformed alert costs a signature verification and a parse). An
honest issuer's accepted alerts never count, so a flood of forgeries from one
address slows only that address.

*Who* a client is comes from the connection (``scope["client"]``), never
from a header the client wrote — unless the peer is a configured trusted
reverse proxy, whose ``X-Forwarded-For`` is then read from the right, past
every trusted hop. IPv6 clients are keyed by their /64, which one host
usually owns whole. The table of buckets is bounded: the least recently seen
clients are forgotten first (which can only give them a full bucket back).
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tocsin.api.errors import ApiError

#: Buckets kept at most; beyond, the least recently used are dropped.
MAX_CLIENTS = 100_000


class TokenBuckets:
    """A bucket per key: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = MAX_CLIENTS) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _level(self, key: str) -> float:
        now = self.clock()
        tokens, then = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        self._buckets[key] = (tokens, now)
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return tokens

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now). Takes nothing."""
        tokens = self._level(key)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate

    def take(self, key: str) -> float:
        """Take a token if there is one and return 0; else the seconds until there is."""
        wait = self.wait(key)
        if wait == 0.0:
            tokens, now = self._buckets[key]
            self._buckets[key] = (tokens - 1.0, now)
        return wait

    def charge(self, key: str) -> None:
        """Take a token after the fact (a refused write), never below empty."""
        tokens = self._level(key)
        self._buckets[key] = (max(0.0, tokens - 1.0), self._buckets[key][1])


def client_key(scope: Scope, trusted_proxies: frozenset[str]) -> str:
    """The client a request comes from: its TCP peer, or what a trusted proxy says it forwarded."""
    client = scope.get("client")
    address = str(client[0]) if client else "unknown"
    if address in trusted_proxies:
        forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
        hops = [h.strip() for h in ",".join(forwarded).split(",") if h.strip()]
        while hops and hops[-1] in trusted_proxies:
            hops.pop()
        if hops:
            address = hops[-1]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)


#: ``(method, path)`` of the checker, limited per request.
CHECK = ("POST", "/api/v1/check")
#: ``(method, path)`` of writes, limited by how many of a client's were refused.
ALERTS = ("POST", "/api/v1/alerts")
WRITES = frozenset({ALERTS, ("POST", "/api/v1/registry"),
                    # a refused webhook registration may have cost a request to a stranger's URL
                    ("POST", "/api/v1/webhooks"), ("POST", "/websub")})
LIMITED = "tocsin.refused_writes_wait"
"""Scope key: set (to the seconds to wait) on an alert post from a client over its limit."""


class RateLimits:
    """ASGI middleware applying :class:`TokenBuckets` to checks and to refused writes."""

    def __init__(self, app: ASGIApp, *, checks: TokenBuckets, failed_writes: TokenBuckets,
                 trusted_proxies: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.checks = checks
        self.failed_writes = failed_writes
        self.trusted_proxies = trusted_proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = (scope["method"], scope["path"])
        if route == CHECK:
            wait = self.checks.take(client_key(scope, self.trusted_proxies))
            if wait:
                await _refuse(scope, receive, send, wait, "checks")
                return
        elif route in WRITES:
            key = client_key(scope, self.trusted_proxies)
            wait = self.failed_writes.wait(key)
            if wait and route != ALERTS:
                await _refuse(scope, receive, send, wait, "refused writes")
                return
            if wait:
                # Over the limit, an alert is still taken if its statement is signed by a
                # registry key (one cheap check in the handler): an issuer behind a shared
                # address (a proxy, a NAT) is never locked out by another client's failures.
                scope[LIMITED] = wait
            status: list[int] = []

            async def watch(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status.append(int(message["status"]))
                await send(message)

            await self.app(scope, receive, watch)
            if status and 400 <= status[0] < 500:
                self.failed_writes.charge(key)
            return
        await self.app(scope, receive, send)


def limited_error(wait: float) -> ApiError:
    """The 429 for a client over its refused-writes limit whose alert is not signed."""
    seconds = max(1, math.ceil(wait))
    return ApiError("rate_limited", f"too many refused writes from this client; retry in {seconds} s "
                    "(an alert signed by a registry key is still taken)", retry_after=seconds)


async def _refuse(scope: Scope, receive: Receive, send: Send, wait: float, what: str) -> None:
    seconds = max(1, math.ceil(wait))
    error = ApiError("rate_limited", f"too many {what} from this client; retry in {seconds} s",
                     retry_after=seconds)
    response: Any = error.response()
    await response(scope, receive, send)
