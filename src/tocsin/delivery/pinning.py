"""Connect only to checked addresses: the name resolver of every sender to strangers' URLs.

Checking a host name and then letting the HTTP client resolve it again leaves a window
(DNS rebinding): a name under an attacker's control (TTL 0) can answer a public address
to the check and ``127.0.0.1`` or a LAN address to the connection. So the push sender
(:mod:`tocsin.push.pinning`) and the webhook/WebSub sender (:mod:`tocsin.callbacks.sender`)
resolve every connection through :class:`CheckedResolver`: one lookup per connection,
every address it returns checked by :func:`tocsin.delivery.outbound.check_addresses` (the
same rule as at registration), and only those addresses handed to the connector.
``aiohttp`` then connects to one of them with the original name as ``Host`` and TLS SNI
(certificates are still checked against the name), and caches only these checked answers.

Invariant: no connection goes to an address that was not checked, except to a host listed
in the sender's allowed-hosts setting (and IP literals, which ``aiohttp`` never resolves
and the senders check before they call them).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection

from aiohttp.abc import AbstractResolver, ResolveResult

from tocsin.delivery.outbound import Lookup, UrlRefused, check_addresses

NUMERIC_FLAGS = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV  # as aiohttp's own resolver


class AddressRefused(OSError):
    """A host name resolved to an address the hub may not call."""


class CheckedResolver(AbstractResolver):
    """An ``aiohttp`` resolver that returns only addresses that passed the SSRF rule.

    ``what`` names the kind of host in messages ("push service host", "callback host").
    """

    def __init__(self, lookup: Lookup, allowed: Collection[str], *, what: str = "host") -> None:
        self.lookup = lookup
        self.allowed = allowed
        self.what = what

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            found = await asyncio.to_thread(self.lookup, host, port)
        except (OSError, UnicodeError) as exc:
            raise OSError(f"the {self.what} {host!r} does not resolve ({exc})") from None
        if host.lower() not in self.allowed:
            try:
                check_addresses(host, found, what=self.what)
            except UrlRefused as exc:
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
            raise OSError(f"the {self.what} {host!r} has no usable address")
        return results

    async def close(self) -> None:
        return None
