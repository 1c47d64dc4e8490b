"""DNS rebinding: the follower connects only to addresses it has checked.

A feed host's name may answer a public address when the follower checks it and a private
one when the HTTP client connects (a TTL-0 name under an attacker's control). The
follower's name lookup (``FeedFollower.lookup``, the seam of every check) is the
attacker's here: ``localhost`` answers a public address once, then ``127.0.0.1``. A
listener on 127.0.0.1 stands for the private service; it must never see a connection,
neither for the feed URL itself nor for a redirect target (each hop is checked and pinned).
The public address is never reached (this machine has no route out), so the poll ends as
``feed_unreachable``.
"""

from __future__ import annotations

import asyncio
import select
import socket

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route
from tests.rebinding import (
    PUBLIC,
    RebindingName,
    loopback_listener,  # noqa: F401  (the `listener` fixture)
)

from tocsin.follow.config import FollowedFeed
from tocsin.follow.fetch import new_client
from tocsin.follow.follower import FeedFollower, FollowMetrics
from tocsin.follow.store import RelayStore
from tocsin.regions import default_region_set
from tocsin.testing import serve_asgi

pytestmark = pytest.mark.timeout(120)


def _poll(url: str, allowed: frozenset[str]) -> tuple[FeedFollower, RebindingName]:
    """One poll of ``url`` by a follower whose lookup rebinds ``localhost``."""
    store = RelayStore(":memory:")
    follower = FeedFollower(FollowedFeed(name="rebinding", url=url, kind="cap"), store=store,
                            regions=default_region_set(), allowed_hosts=allowed,
                            metrics=FollowMetrics(CollectorRegistry()), max_sent_age_secs=3600.0)
    follower.lookup = name = RebindingName(1)

    async def poll() -> None:
        async with new_client() as client:
            await follower.poll(client)

    asyncio.run(poll())
    store.close()
    return follower, name


def _assert_never_connected(listener: socket.socket, follower: FeedFollower, name: RebindingName) -> None:
    readable, _, _ = select.select([listener], [], [], 0)
    assert not readable, "the follower connected to 127.0.0.1 after checking a public address"
    error = follower.status.last_error
    assert error is not None and error["code"] == "feed_unreachable", error
    assert PUBLIC in error["message"] or "localhost" in error["message"], error
    assert name.lookups == 1  # one lookup, checked, and the connection used its answer


def test_a_feed_host_rebound_to_loopback_after_its_check_is_never_connected_to(
        listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    follower, name = _poll(f"https://localhost:{port}/feed.xml", frozenset())
    _assert_never_connected(listener, follower, name)


def test_a_redirect_target_rebound_to_loopback_after_its_check_is_never_connected_to(
        listener: socket.socket) -> None:
    port = listener.getsockname()[1]

    async def moved(request: Request) -> RedirectResponse:
        return RedirectResponse(f"https://localhost:{port}/feed.xml", status_code=302)

    app = Starlette(routes=[Route("/feed.xml", moved)])
    with serve_asgi(app) as origin:  # 127.0.0.1 is allowed; the redirect target is not
        follower, name = _poll(f"{origin}/feed.xml", frozenset({"127.0.0.1"}))
    _assert_never_connected(listener, follower, name)
