"""Which push endpoints the hub may call: public HTTPS only, unless a host is allowed.

The push sender makes requests to URLs that strangers give it, so without this rule it
would be a server-side request forgery tool (hit the metadata service, an admin port on
the LAN, the hub's own loopback). An endpoint is accepted when

* its host is listed in ``push_allowed_hosts`` (tests, private deployments): then
  ``http`` or ``https`` and any address; or
* it is ``https``, has no user info, and every address its host resolves to is a global
  unicast address (not private, loopback, link-local, multicast, reserved or unspecified).

The sender checks again before it first calls an origin and every
:data:`RECHECK_SECS` after (a name may be re-pointed after subscribing). A host that
re-resolves between that check and the connection is the remaining window; pinning the
address in the connection would close it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection
from urllib.parse import urlsplit

MAX_ENDPOINT_CHARS = 2048
RECHECK_SECS = 300.0


class EndpointRefused(ValueError):
    """The endpoint is not a URL this hub may send pushes to; the message says why."""


def parse_allowed_hosts(setting: str) -> frozenset[str]:
    """``push_allowed_hosts`` (comma-separated host names or addresses) as a set."""
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


def origin_of(endpoint: str) -> tuple[str, str]:
    """``(origin, host)`` of an endpoint URL (the VAPID ``aud`` is the origin)."""
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}", host


def check_endpoint(endpoint: str, allowed: Collection[str], *, resolve: bool = True) -> str:
    """The endpoint's origin if the hub may call it; else :class:`EndpointRefused`."""
    if not isinstance(endpoint, str) or not endpoint:
        raise EndpointRefused("subscription.endpoint must be a URL")
    if len(endpoint) > MAX_ENDPOINT_CHARS:
        raise EndpointRefused(f"subscription.endpoint is longer than {MAX_ENDPOINT_CHARS} characters")
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        raise EndpointRefused(f"subscription.endpoint is not a URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise EndpointRefused("subscription.endpoint must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefused("subscription.endpoint must not carry user info")
    origin, _ = origin_of(endpoint)
    if host in allowed:
        return origin
    if parts.scheme != "https":
        raise EndpointRefused("subscription.endpoint must be an https:// URL "
                              f"({host} is not in push_allowed_hosts)")
    if resolve:
        check_public(host, parts.port or 443)
    return origin


def check_public(host: str, port: int) -> None:
    """Every address ``host`` resolves to is a global unicast address, else refused."""
    try:
        literal = ipaddress.ip_address(host)
        addresses = [literal]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise EndpointRefused(f"the push service host {host!r} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not addresses:
        raise EndpointRefused(f"the push service host {host!r} has no address")
    for address in addresses:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_global or address.is_multicast:
            raise EndpointRefused(f"the push service host {host!r} is at a non-public address "
                                  f"({address}); only public push services are called")
