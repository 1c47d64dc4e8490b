"""Test receivers on 127.0.0.1: a webhook endpoint and a WebSub subscriber that check everything.

:class:`Receiver` serves both roles on one port, under uvicorn, and can go *down* (the
server stops; connections are refused) and come back on the same port — a real outage.

* ``POST /hook/{name}`` — a webhook endpoint. Every message is verified with the
  ``standardwebhooks`` library (independent of the hub's signing code) against the
  endpoint's signing secret (once known: when the hub makes it, only the check comes
  before it); a ``webhook.verification`` message is answered with its
  challenge (unless the endpoint is told not to); an event is answered from the
  endpoint's list of answers (default 204), after a gate if it is held (slow receiver).
* ``GET /sub/{name}`` — WebSub intent verification: records the query and echoes
  ``hub.challenge`` (unless told not to). ``POST /sub/{name}`` — a content distribution:
  ``X-Hub-Signature`` is checked with the subscriber's secret by plain ``hmac``.

Anything that does not verify is recorded in :attr:`Receiver.errors` and answered 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


@dataclass
class Endpoint:
    """One webhook endpoint or WebSub subscriber at the receiver."""

    name: str
    secret: str | None = None  # whsec_... or the WebSub hub.secret
    echo: bool = True  # answer verification challenges
    answers: list[int] = field(default_factory=list)  # statuses to give events first
    always: int | None = None  # a status to give every event
    held: bool = False


@dataclass
class Got:
    """One request the receiver handled."""

    name: str
    kind: str  # "verification", "event", "intent", "content"
    headers: dict[str, str]
    body: bytes
    data: Any
    status: int
    at: float


class Receiver:
    """A webhook endpoint and WebSub subscriber server (see the module docstring)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.endpoints: dict[str, Endpoint] = {}
        self.got: list[Got] = []
        self.errors: list[str] = []
        self._cond = threading.Condition()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._gate = threading.Event()

    # -- test side -------------------------------------------------------

    def endpoint(self, name: str, **kw: Any) -> Endpoint:
        self.endpoints[name] = Endpoint(name, **kw)
        return self.endpoints[name]

    def hook_url(self, name: str) -> str:
        return f"{self.url}/hook/{name}"

    def sub_url(self, name: str) -> str:
        return f"{self.url}/sub/{name}"

    def of(self, name: str, kind: str, status_ok: bool = True) -> list[Got]:
        with self._cond:
            return [g for g in self.got if g.name == name and g.kind == kind
                    and (not status_ok or 200 <= g.status < 300)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                seen = [(g.name, g.kind, g.status) for g in self.got]
                raise AssertionError(f"receiver: condition not met in {timeout} s; got {seen}, "
                                     f"errors {self.errors}")

    def wait_events(self, name: str, n: int, timeout: float = 30.0) -> list[Got]:
        self.wait_for(lambda: len([g for g in self.got if g.name == name and g.kind
                                   in ("event", "content") and 200 <= g.status < 300]) >= n, timeout)
        return [g for g in self.got if g.name == name and g.kind in ("event", "content")
                and 200 <= g.status < 300]

    def release(self) -> None:
        self._gate.set()

    # -- serving ---------------------------------------------------------

    def start(self) -> None:
        """Listen (again) on the same port."""
        if self.sock.fileno() == -1:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(128)
        self._server = uvicorn.Server(uvicorn.Config(self.app(), log_level="warning",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run,
                                        kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        while not self._server.started:  # uvicorn sets it once it accepts connections
            time.sleep(0.01)  # polling the server thread's state, not waiting for a result

    def stop(self) -> None:
        """Go down: stop serving and close the socket (new connections are refused)."""
        self._gate.set()
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(10)
        self.sock.close()

    def _record(self, got: Got) -> None:
        with self._cond:
            self.got.append(got)
            self._cond.notify_all()

    def _error(self, problem: str) -> Response:
        with self._cond:
            self.errors.append(problem)
            self._cond.notify_all()
        return PlainTextResponse(problem, status_code=400)

    async def hook(self, request: Request) -> Response:
        ep = self.endpoints.get(request.path_params["name"])
        body = await request.body()
        if ep is None:
            return self._error(f"unknown endpoint {request.path_params['name']}")
        headers = dict(request.headers)
        if ep.secret is None:  # the hub makes the secret: only its check can come before it
            data = json.loads(body)
            if data.get("type") != "webhook.verification":
                return self._error(f"{ep.name}: an event before the signing secret was known")
        else:
            try:
                data = Webhook(ep.secret).verify(body, headers)
            except WebhookVerificationError as exc:
                return self._error(f"{ep.name}: signature does not verify: {exc}")
        if data.get("type") == "webhook.verification":
            status = 200 if ep.echo else 204
            self._record(Got(ep.name, "verification", headers, body, data, status, time.monotonic()))
            if not ep.echo:
                return Response(status_code=204)
            return PlainTextResponse(data["data"]["challenge"])
        if ep.held:
            await asyncio.to_thread(self._gate.wait, 60)
        status = ep.answers.pop(0) if ep.answers else (ep.always or 204)
        self._record(Got(ep.name, "event", headers, body, data, status, time.monotonic()))
        return Response(status_code=status)

    async def intent(self, request: Request) -> Response:
        ep = self.endpoints.get(request.path_params["name"])
        if ep is None:
            return self._error(f"unknown subscriber {request.path_params['name']}")
        query = dict(request.query_params)
        self._record(Got(ep.name, "intent", dict(request.headers), b"", query, 200, time.monotonic()))
        if not ep.echo:
            return PlainTextResponse("no", status_code=404)
        return PlainTextResponse(query.get("hub.challenge", ""))

    async def content(self, request: Request) -> Response:
        ep = self.endpoints.get(request.path_params["name"])
        body = await request.body()
        if ep is None:
            return self._error(f"unknown subscriber {request.path_params['name']}")
        headers = dict(request.headers)
        if ep.secret is not None:
            expected = "sha256=" + hmac.new(ep.secret.encode(), body, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(headers.get("x-hub-signature", ""), expected):
                return self._error(f"{ep.name}: X-Hub-Signature does not verify")
        status = ep.answers.pop(0) if ep.answers else (ep.always or 200)
        self._record(Got(ep.name, "content", headers, body, None, status, time.monotonic()))
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/hook/{name}", self.hook, methods=["POST"]),
            Route("/sub/{name}", self.intent, methods=["GET"]),
            Route("/sub/{name}", self.content, methods=["POST"]),
        ])
