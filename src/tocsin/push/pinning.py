"""Connect only to checked addresses: the push sender's name resolver (DNS rebinding).

Checking a push service's name and then letting the HTTP client resolve it again leaves a
window: a name under an attacker's control (TTL 0) can answer a public address to the
check and ``127.0.0.1`` or a LAN address to the connection. So the sender's connections
resolve through :class:`CheckedResolver`: one lookup per connection, every address it
returns checked by :func:`tocsin.push.endpoints.check_addresses` (the same rule as at
subscription), and only those addresses handed to the connector. ``aiohttp`` then connects
to one of them with the original name as ``Host`` and TLS SNI (certificates are still
checked against the name), and caches only these checked answers.

Invariant: no push connection goes to an address that was not checked, except to a host
listed in ``push_allowed_hosts`` (and IP literals, which ``aiohttp`` never resolves and the
sender checks before it calls them).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection

from aiohttp.abc import AbstractResolver, ResolveResult

from tocsin.push.endpoints import EndpointRefused, Lookup, check_addresses

NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV  # as aiohttp's own resolver


class AddressRefused(OSError):
    """A push service's name resolved to an address the hub may not call."""


class CheckedResolver(AbstractResolver):
    """An ``aiohttp`` resolver that returns only addresses that passed the SSRF rule."""

    def __init__(self, lookup: Lookup, allowed: Collection[str]) -> None:
        self.lookup = lookup
        self.allowed = allowed

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            found = await asyncio.to_thread(self.lookup, host, port)
        except (OSError, UnicodeError) as exc:
            raise OSError(f"the push service host {host!r} does not resolve ({exc})") from None
        if host.lower() not in self.allowed:
            try:
                check_addresses(host, found)
            except EndpointRefused as exc:
                raise AddressRefused(str(exc)) from None
        results: list[ResolveResult] = []
        for text in found:
            address = text.split("%")[0]
            fam = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, fam):
                continue
            results.append(ResolveResult(hostname=host, host=address, port=port, family=fam,
                                         proto=0, flags=NUMERIC_FLAGS))
        if not results:
            raise OSError(f"the push service host {host!r} has no usable address")
        return results

    async def close(self) -> None:
        return None
