"""Org tests: a recording channel (the Channel interface, kept in memory) and an SMS gateway."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tocsin.org.channels import Outgoing
from tocsin.org.model import DeliveryStatus
from tocsin.testing import serve_asgi


class RecordingChannel:
    """A channel that keeps what it is given (what a phone would receive)."""

    def __init__(self, name: str = "sms") -> None:
        self.name = name
        self.sent: list[Outgoing] = []
        self.arrived = asyncio.Event()

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]:
        self.sent.append(out)
        self.arrived.set()
        return DeliveryStatus.SENT, ""

    async def close(self) -> None:
        return None


class SmsReceiver:
    """A local SMS gateway: records each POST; answers 'delivered' for numbers ending in 1."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._arrived = threading.Condition()

    def app(self) -> Starlette:
        async def post(request: Request) -> JSONResponse:
            body = json.loads(await request.body())
            with self._arrived:
                self.received.append(body)
                self.headers.append(dict(request.headers))
                self._arrived.notify_all()
            if body["to"].endswith("9"):
                return JSONResponse({"error": "no such number"}, status_code=400)
            return JSONResponse({"status": "delivered" if body["to"].endswith("1") else "accepted"})

        return Starlette(routes=[Route("/sms", post, methods=["POST"])])

    def wait(self, n: int, timeout: float = 30.0) -> None:
        """Return once ``n`` messages arrived (from another thread), or fail."""
        with self._arrived:
            assert self._arrived.wait_for(lambda: len(self.received) >= n, timeout), \
                f"{len(self.received)} of {n} SMS arrived"

    def link_for(self, phone: str) -> str:
        [text] = [m["text"] for m in self.received if m["to"] == phone]
        return str(text.rsplit("\n", 1)[1])


@pytest.fixture
def sms() -> Iterator[tuple[SmsReceiver, str]]:
    receiver = SmsReceiver()
    with serve_asgi(receiver.app()) as url:
        yield receiver, url + "/sms"
