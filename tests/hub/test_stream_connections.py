"""A live stream's connection, against a real hub: a closed connection frees its subscription,
and the stream's answers (served ahead of the framework) are the route's, headers included."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import httpx
import pytest

from tocsin.client import follow
from tocsin.testing import HubProcess, free_port

from .conftest import KYIV, issue_async, wait_subscribers

pytestmark = pytest.mark.timeout(120)

SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY",
            "referrer-policy": "no-referrer"}


def _open_stream(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /api/v1/stream?regions={KYIV} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "the hub closed the stream before answering"
        head += chunk
    assert head.startswith(b"HTTP/1.1 200")
    return sock


async def _subscribers(url: str) -> int:
    async with httpx.AsyncClient() as http:
        return int((await http.get(f"{url}/healthz")).json()["subscribers"])


def test_a_closed_connection_gives_back_its_subscription(tmp_path: Path) -> None:
    """The client goes away without a word: the hub forgets it, and the client may come back."""
    hub = HubProcess(tmp_path / "data", free_port(), env={"TOCSIN_MAX_SUBSCRIPTIONS_PER_CLIENT": "2"})
    hub.start()
    try:
        async def scenario() -> None:
            first, second = _open_stream(hub.port), _open_stream(hub.port)
            await wait_subscribers(hub, 2)
            async with httpx.AsyncClient() as http:
                refused = await http.get(f"{hub.url}/api/v1/stream", params={"regions": KYIV})
            assert refused.json()["error"]["code"] == "too_many_subscriptions"
            first.close()
            second.close()
            for _ in range(500):  # the hub notices the closed connections by itself
                if await _subscribers(hub.url) == 0:
                    break
                await asyncio.sleep(0.01)
            assert await _subscribers(hub.url) == 0

            async def one_alert() -> str:
                async for event in follow(hub.url, regions=[KYIV]):
                    if event.event == "alert":
                        return event.data
                raise AssertionError("the stream ended")

            listeners = [asyncio.create_task(one_alert()) for _ in range(2)]  # both slots again
            await wait_subscribers(hub, 2)
            issued = await issue_async(hub, "demo-air-force", (KYIV,))
            for data in await asyncio.wait_for(asyncio.gather(*listeners), 20):
                assert issued["id"] in data

        asyncio.run(scenario())
    finally:
        hub.stop()


async def test_stream_answers_carry_the_security_headers(hub: HubProcess) -> None:
    async with httpx.AsyncClient() as http:
        async with http.stream("GET", f"{hub.url}/api/v1/stream",
                               params={"regions": KYIV}) as live:
            assert live.status_code == 200
            assert live.headers["content-type"].startswith("text/event-stream")
            for name, value in SECURITY.items():
                assert live.headers[name] == value
        posted = await http.post(f"{hub.url}/api/v1/stream", params={"regions": KYIV})
        assert posted.status_code == 405
        assert posted.json()["error"]["code"] == "method_not_allowed"
        bad = await http.get(f"{hub.url}/api/v1/stream", params={"since": "x"})
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "bad_last_event_id"
        for answer in (posted, bad):
            for name, value in SECURITY.items():
                assert answer.headers[name] == value
