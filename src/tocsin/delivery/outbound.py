"""Which URLs the hub may call: public HTTPS only, unless a setting allows the host.

Push, webhooks and WebSub make requests to URLs that strangers give the hub, so without
this rule it would be a server-side request forgery tool (hit the metadata service, an
admin port on the LAN, the hub's own loopback). A URL is accepted when

* its host is listed in the feature's allowed-hosts setting (tests, private deployments):
  then ``http`` or ``https`` and any address; or
* it is ``https``, has no user info, and every address its host resolves to is a global
  unicast address (not private, loopback, link-local, multicast, reserved or unspecified).

Senders check again before they first call an origin and every :data:`RECHECK_SECS` after
(a name may be re-pointed after subscribing). A host that re-resolves between that check
and the connection would be a window: the push, webhook and WebSub senders close it by
connecting only to addresses they checked (:class:`tocsin.delivery.pinning.CheckedResolver`,
built on :func:`check_addresses` and a :data:`Lookup`); the federation follower
(:mod:`tocsin.follow.fetch`, httpx) by requesting a checked address with the original
``Host`` and TLS server name.
:mod:`tocsin.push.endpoints` is this rule worded for push subscriptions.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Collection
from urllib.parse import urlsplit

MAX_URL_CHARS = 2048
RECHECK_SECS = 300.0


#: How a host name becomes addresses: ``(host, port) -> [address, ...]``. The hub's is
#: :func:`system_lookup`; a test gives its own (a name that answers differently each time).
Lookup = Callable[[str, int], list[str]]


def system_lookup(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to now (the system resolver); OSError if none."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class UrlRefused(ValueError):
    """The URL is not one this hub may call; the message says why."""


def parse_allowed_hosts(setting: str) -> frozenset[str]:
    """An allowed-hosts setting (comma-separated host names or addresses) as a set."""
    return frozenset(h.strip().lower().strip("[]") for h in setting.split(",") if h.strip())


def origin_of(url: str) -> tuple[str, str]:
    """``(origin, host)`` of a URL (``scheme://host[:port]``, the port only if not default)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(parts.scheme)
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != default:
        netloc += f":{port}"
    return f"{parts.scheme}://{netloc}", host


#: Ranges Python 3.11's ``is_global`` lets through that still reach private or loopback
#: addresses, or are no public host: IPv4-compatible IPv6, IPv4-translated IPv6 (SIIT,
#: ``::ffff:0:a.b.c.d``: a translator on the hub's network maps it to ``a.b.c.d``), NAT64
#: (well-known and local-use), 6to4 and its relay anycast, the IETF protocol assignments,
#: site-local IPv6 (deprecated, still routed privately by some networks), SRv6 SIDs and
#: the IPv6 documentation range.
_NOT_PUBLIC = tuple(ipaddress.ip_network(n) for n in (
    "::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "2002::/16",
    "192.88.99.0/24", "192.0.0.0/24", "fec0::/10", "5f00::/16", "3fff::/20"))


def check_url(url: str, allowed: Collection[str], *, resolve: bool = True, name: str = "url",
              setting: str = "callback_allowed_hosts", what: str = "host",
              lookup: Lookup = system_lookup) -> str:
    """The URL's origin if the hub may call it; else :class:`UrlRefused`.

    ``name`` is how the URL is named in messages (``subscription.endpoint``, ``url``,
    ``hub.callback``), ``setting`` the allowed-hosts setting, ``what`` the kind of host.
    The host must be written in ASCII (``xn--`` for international names): the resolver
    checked here and the HTTP client that connects encode non-ASCII names by different IDNA
    rules (``faß`` → ``fass`` or ``xn--fa-hia``), so a check of one name would let the
    connection go to another.
    """
    if not isinstance(url, str) or not url:
        raise UrlRefused(f"{name} must be a URL")
    if not url.isascii() or any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise UrlRefused(f"{name} must be a plain ASCII URL (no spaces or "
                         "control characters; international host names in xn-- form)")
    if len(url) > MAX_URL_CHARS:
        raise UrlRefused(f"{name} is longer than {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as exc:
        raise UrlRefused(f"{name} is not a URL: {exc}") from None
    host = (parts.hostname or "").lower()
    if parts.port == 0:
        raise UrlRefused(f"{name} has port 0")
    if parts.scheme not in ("https", "http") or not host:
        raise UrlRefused(f"{name} must be an https:// URL")
    if parts.username is not None or parts.password is not None:
        raise UrlRefused(f"{name} must not carry user info")
    origin, _ = origin_of(url)
    if host in allowed:
        return origin
    if parts.scheme != "https":
        raise UrlRefused(f"{name} must be an https:// URL ({host} is not in {setting})")
    if resolve:
        check_public(host, parts.port or 443, what=what, lookup=lookup)
    return origin


def check_public(host: str, port: int, *, what: str = "host",
                 lookup: Lookup = system_lookup) -> list[str]:
    """The addresses ``host`` resolves to, each a global unicast address; else refused."""
    try:
        ipaddress.ip_address(host)
        found = [host]
    except ValueError:
        try:
            found = lookup(host, port)
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"the {what} {host!r} does not resolve ({exc})") from None
    check_addresses(host, found, what=what)
    return found


def check_addresses(host: str, found: list[str], *, what: str = "host") -> None:
    """Each of ``found`` (``host``'s addresses) is global unicast, else refused."""
    if not found:
        raise UrlRefused(f"the {what} {host!r} has no address")
    for text in found:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(text.split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in net for net in _NOT_PUBLIC if net.version == address.version) \
                or not address.is_global or address.is_multicast:
            raise UrlRefused(f"the {what} {host!r} is at a non-public address "
                             f"({address}); only public hosts are called")


def addresses_now(host: str, port: int, *, allowed: bool, what: str = "host",
                  lookup: Lookup = system_lookup) -> list[str]:
    """``host``'s addresses now, for a sender's periodic check and its per-server share.

    Not ``allowed``: :func:`check_public` (UrlRefused unless every one is public). An
    allowed host is only looked up, and one that does not resolve gives ``[]`` (its
    connection will fail and be retried like any other).
    """
    if not allowed:
        return check_public(host, port, what=what, lookup=lookup)
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    try:
        return lookup(host, port)
    except (OSError, UnicodeError):
        return []


def share_key(addresses: list[str]) -> str | None:
    """Whose per-host share of the pool a request takes: the server, not the name.

    Keyed by the first address the host resolved to (IPv4; an IPv6 address by its /64, the
    block one machine gets), so many names of one server — ``a.evil.test``,
    ``b.evil.test``, ``localhost``, ``0x7f000001``, ``[::ffff:7f00:1]`` — share one
    per-host share of a sender, and one party's slow server cannot take every slot by
    registering endpoints under many names. None: no address known (the origin is used).
    """
    if not addresses:
        return None
    try:
        address = ipaddress.ip_address(addresses[0].split("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
