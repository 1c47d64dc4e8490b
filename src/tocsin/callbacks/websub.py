"""W3C WebSub on the CAP Atom feeds: leases, intent verification, signed distribution.

The topics are the hub's own Atom feeds (``/feeds/alerts.atom``, with or without
``?region=`` or ``?lat=&lon=``, and ``/feeds/regions/{code}.atom``); each advertises the
hub (``rel="hub"``, ``/websub``) and itself (``rel="self"``) in its links and ``Link``
header. A subscriber POSTs ``hub.mode``, ``hub.topic``, ``hub.callback`` and optionally
``hub.lease_seconds`` and ``hub.secret`` (form-encoded) to the hub, which answers
``202 Accepted`` and then verifies the intent: ``GET callback?hub.mode=…&hub.topic=…&
hub.challenge=…&hub.lease_seconds=…`` must be answered 2xx with exactly the challenge as
its body. Only then is the subscription stored (or, for ``unsubscribe``, deleted).

A lease is what was asked, kept within [:data:`MIN_LEASE_SECS`, :data:`MAX_LEASE_SECS`]
(:data:`DEFAULT_LEASE_SECS` when not asked); an expired subscription gets nothing and is
removed. Each new event a topic shows is distributed as an Atom feed holding that one
entry (the "diff" WebSub allows for Atom), with ``Link`` headers naming the hub and the
topic, and — when ``hub.secret`` was given — ``X-Hub-Signature: sha256=<hex HMAC of the
body>``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tocsin.delivery.feeds import atom_feed
from tocsin.store.base import StreamEvent

HUB_PATH = "/websub"
DEFAULT_LEASE_SECS = 10 * 86400
MIN_LEASE_SECS = 300
MAX_LEASE_SECS = 30 * 86400
MAX_SECRET_BYTES = 199  # WebSub: hub.secret MUST be less than 200 bytes


def lease_secs(asked: str | None) -> int:
    """The lease granted for a requested ``hub.lease_seconds`` (ValueError: not a number)."""
    if asked is None or asked == "":
        return DEFAULT_LEASE_SECS
    value = int(asked)
    if value <= 0:
        raise ValueError("hub.lease_seconds must be a positive number of seconds")
    return max(MIN_LEASE_SECS, min(MAX_LEASE_SECS, value))


def link_header(hub_url: str, topic: str) -> str:
    """The ``Link`` header naming the hub and the topic (WebSub §4, §7)."""
    return f'<{hub_url}>; rel="hub", <{topic}>; rel="self"'


def signature(secret: str, body: bytes) -> str:
    """``X-Hub-Signature`` of a distribution: ``sha256=<hex HMAC-SHA256 of the body>``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def distribution(event: StreamEvent, view: dict[str, Any], *, topic: str, hub_url: str,
                 base_url: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers (without the signature) of one event for one topic."""
    body = atom_feed(title="Tocsin: new alert", feed_url=topic, base_url=base_url, views=[view],
                     now=float(view.get("received") or 0.0), hub_url=hub_url)
    return body, {"content-type": "application/atom+xml", "link": link_header(hub_url, topic)}
