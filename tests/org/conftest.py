"""Org tests: a recording channel (the Channel interface, kept in memory) and an SMS gateway."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tocsin.org.channels import Outgoing
from tocsin.org.model import DeliveryStatus
from tocsin.org.service import OrgService
from tocsin.testing import HubProcess, free_port, serve_asgi

from .authenticator import SoftAuthenticator


class RecordingChannel:
    """A channel that keeps what it is given (what a phone would receive)."""

    def __init__(self, name: str = "sms") -> None:
        self.name = name
        self.sent: list[Outgoing] = []
        self._arrived = asyncio.Condition()

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]:
        async with self._arrived:
            self.sent.append(out)
            self._arrived.notify_all()
        return DeliveryStatus.SENT, ""

    async def wait(self, n: int, timeout: float = 60.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent) >= n)

    async def close(self) -> None:
        return None


async def until(service: OrgService, org_id: str, message_id: str, condition: Callable[[], bool],
                timeout: float = 30.0) -> None:
    """Return once ``condition()`` holds, re-checked each time the message's dashboard is woken."""
    listener = service.listen(org_id, message_id)
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await listener.wake.wait()
                listener.wake.clear()
    finally:
        service.unlisten(listener)


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
        """The link in the first message to ``phone``."""
        text = next(m["text"] for m in self.received if m["to"] == phone)
        return str(text.rsplit("\n", 1)[1])


@pytest.fixture
def sms() -> Iterator[tuple[SmsReceiver, str]]:
    receiver = SmsReceiver()
    with serve_asgi(receiver.app()) as url:
        yield receiver, url + "/sms"


@dataclass
class OrgHub:
    hub: HubProcess
    sms: SmsReceiver
    origin: str

    def create_org(self, name: str, email: str) -> str:
        out = subprocess.run([sys.executable, "-m", "tocsin", "org", "create", name, "--admin-email", email,
                              "--data-dir", str(self.hub.data_dir), "--public-url", self.origin],
                             capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[-1]


@pytest.fixture
def org_hub(tmp_path: Path) -> Iterator[OrgHub]:
    sms = SmsReceiver()
    with serve_asgi(sms.app()) as sms_url:
        port = free_port()
        origin = f"http://localhost:{port}"
        hub = HubProcess(tmp_path / "data", port=port,
                         env={"TOCSIN_PUBLIC_URL": origin, "TOCSIN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
                              "TOCSIN_ORG_SMS_GATEWAY_URL": sms_url + "/sms"})
        made = OrgHub(hub, sms, origin)
        yield made
        hub.stop()


class Admin:
    """One admin's browser: its session cookie and CSRF token, sent by hand."""

    def __init__(self, org_hub: OrgHub) -> None:
        self.url = org_hub.hub.url
        self.origin = org_hub.origin
        self.cookie = ""
        self.csrf = ""
        self.org = ""
        self.passkey = SoftAuthenticator(org_hub.origin)

    def _take_cookie(self, response: httpx.Response) -> None:
        value = response.headers["set-cookie"]
        assert "HttpOnly" in value and "SameSite=Strict" in value
        self.cookie = value.split(";", 1)[0]

    def enrol(self, link: str) -> list[str]:
        token = link.rsplit("/", 1)[1]
        options = httpx.post(f"{self.url}/api/v1/org/enrol/options", json={"token": token}).json()
        done = httpx.post(f"{self.url}/api/v1/org/enrol/finish",
                          json={"ceremony": options["ceremony"],
                                "credential": self.passkey.create(options["options"])})
        assert done.status_code == 200, done.text
        self._take_cookie(done)
        self.refresh()
        codes: list[str] = done.json()["recovery_codes"]
        return codes

    def login(self) -> httpx.Response:
        options = httpx.post(f"{self.url}/api/v1/org/login/options").json()
        done = httpx.post(f"{self.url}/api/v1/org/login/finish",
                          json={"ceremony": options["ceremony"],
                                "credential": self.passkey.get(options["options"])})
        if done.status_code == 200:
            self._take_cookie(done)
            self.refresh()
        return done

    def refresh(self) -> None:
        session = httpx.get(f"{self.url}/api/v1/org/session", headers={"Cookie": self.cookie}).json()
        self.csrf, self.org = session["csrf"], session["org"]["id"]

    def request(self, method: str, path: str, *, csrf: bool = True, **kw: Any) -> httpx.Response:
        headers = {"Cookie": self.cookie, **kw.pop("headers", {})}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=30, **kw)
