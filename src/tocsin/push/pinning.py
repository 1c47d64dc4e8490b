"""Connect only to checked addresses: the push sender's name resolver (DNS rebinding).

The resolver is :class:`tocsin.delivery.pinning.CheckedResolver` (shared with the webhook
and WebSub sender), worded for push services. Checking a push service's name and then
letting the HTTP client resolve it again would leave a window: a name under an attacker's
control (TTL 0) can answer a public address to the check and ``127.0.0.1`` to the
connection. So every push connection resolves once, every address is checked by the same
rule as at subscription, and only those addresses are handed to the connector.

Invariant: no push connection goes to an address that was not checked, except to a host
listed in ``push_allowed_hosts`` (and IP literals, which ``aiohttp`` never resolves and the
sender checks before it calls them).
"""

from __future__ import annotations

from collections.abc import Collection

from tocsin.delivery import pinning
from tocsin.delivery.pinning import NUMERIC_FLAGS, AddressRefused
from tocsin.push.endpoints import Lookup

__all__ = ["NUMERIC_FLAGS", "AddressRefused", "CheckedResolver"]


class CheckedResolver(pinning.CheckedResolver):
    """The shared checked resolver, naming hosts "push service host" in its messages."""

    def __init__(self, lookup: Lookup, allowed: Collection[str]) -> None:
        super().__init__(lookup, allowed, what="push service host")
