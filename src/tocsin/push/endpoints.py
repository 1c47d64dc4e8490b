"""Which push endpoints the hub may call: the shared rule of :mod:`tocsin.delivery.outbound`.

Public HTTPS only, unless the host is listed in ``push_allowed_hosts``; worded here for
push subscriptions (``subscription.endpoint``, "push service"). The sender checks again
before it first calls an origin and every :data:`RECHECK_SECS` after.
"""

from __future__ import annotations

from collections.abc import Collection

from tocsin.delivery import outbound
from tocsin.delivery.outbound import RECHECK_SECS, origin_of, parse_allowed_hosts

MAX_ENDPOINT_CHARS = outbound.MAX_URL_CHARS
EndpointRefused = outbound.UrlRefused

__all__ = ["MAX_ENDPOINT_CHARS", "RECHECK_SECS", "EndpointRefused", "check_endpoint",
           "check_public", "origin_of", "parse_allowed_hosts"]


def check_endpoint(endpoint: str, allowed: Collection[str], *, resolve: bool = True) -> str:
    """The endpoint's origin if the hub may call it; else :class:`EndpointRefused`."""
    return outbound.check_url(endpoint, allowed, resolve=resolve, name="subscription.endpoint",
                              setting="push_allowed_hosts", what="push service host")


def check_public(host: str, port: int) -> None:
    """Every address of a push service host is a global unicast address, else refused."""
    outbound.check_public(host, port, what="push service host")
