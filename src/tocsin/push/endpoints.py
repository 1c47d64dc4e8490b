"""Which push endpoints the hub may call: the shared rule of :mod:`tocsin.delivery.outbound`.

Public HTTPS only, unless the host is listed in ``push_allowed_hosts``; worded here for
push subscriptions (``subscription.endpoint``, "push service"). The sender checks again
before it first calls an origin and every :data:`RECHECK_SECS` after, and — what closes
the DNS-rebinding window — every connection it opens resolves the name once, checks every
address and connects only to those (:class:`tocsin.push.pinning.CheckedResolver`): a name
that answers a public address to a check and a private one to the connection is refused.
"""

from __future__ import annotations

from collections.abc import Collection

from tocsin.delivery import outbound
from tocsin.delivery.outbound import RECHECK_SECS, Lookup, origin_of, parse_allowed_hosts, system_lookup

MAX_ENDPOINT_CHARS = outbound.MAX_URL_CHARS
EndpointRefused = outbound.UrlRefused
_WHAT = "push service host"

__all__ = ["MAX_ENDPOINT_CHARS", "RECHECK_SECS", "EndpointRefused", "Lookup", "check_addresses",
           "check_endpoint", "check_public", "origin_of", "parse_allowed_hosts", "system_lookup"]


def check_endpoint(endpoint: str, allowed: Collection[str], *, resolve: bool = True,
                   lookup: Lookup = system_lookup) -> str:
    """The endpoint's origin if the hub may call it; else :class:`EndpointRefused`."""
    return outbound.check_url(endpoint, allowed, resolve=resolve, name="subscription.endpoint",
                              setting="push_allowed_hosts", what=_WHAT, lookup=lookup)


def check_public(host: str, port: int, lookup: Lookup = system_lookup) -> list[str]:
    """The addresses of a push service host, each a global unicast address; else refused."""
    return outbound.check_public(host, port, what=_WHAT, lookup=lookup)


def check_addresses(host: str, found: list[str]) -> None:
    """Each of ``found`` (a push service host's addresses) is global unicast, else refused."""
    outbound.check_addresses(host, found, what=_WHAT)
