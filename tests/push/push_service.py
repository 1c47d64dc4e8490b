"""A test RFC 8030 push service on 127.0.0.1 that checks everything a real one would.

For each ``POST /push/{token}`` it checks the VAPID ``Authorization`` (RFC 8292): the key
``k`` is the hub's public key and the JWT ``t`` is an ES256 signature by it, for this
service's origin, unexpired; then it decrypts the body with the device's private key
using ``http_ece`` (an implementation independent of the hub's own encryption) and
records the payload with the ``TTL``, ``Urgency`` and ``Topic`` headers. Anything wrong
is recorded in :attr:`PushService.errors` and answered 400/401, never silently accepted.

Behaviour per device: a list of answers to give first (``410``, ``429`` with
``Retry-After``, ``503``), and a gate that holds every request until released (a slow
push service).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.testing import serve_asgi


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Device:
    """A browser's push subscription: its private key stays here, the JSON goes to the hub."""

    token: str
    endpoint: str
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    def subscription(self) -> dict[str, Any]:
        public = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                    serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64e(public), "auth": b64e(self.auth)}}


@dataclass
class Received:
    token: str
    payload: dict[str, Any]
    ttl: int
    urgency: str | None
    topic: str | None
    status: int  # what the service answered
    at: float


class PushService:
    """The service: devices, what each received, and the checks it made."""

    def __init__(self, vapid_public_key: str | None = None) -> None:
        self.vapid_public_key = vapid_public_key
        self.base_url = ""
        self.devices: dict[str, Device] = {}
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.arrived = 0  # requests that reached the handler (held or not)
        self._cond = threading.Condition()
        self._gate: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._hold = False

    # -- test side -------------------------------------------------------

    def device(self, answers: list[tuple[int, dict[str, str]]] | None = None) -> Device:
        token = secrets.token_urlsafe(12)
        dev = Device(token, f"{self.base_url}/push/{token}", ec.generate_private_key(ec.SECP256R1()),
                     os.urandom(16), list(answers or []))
        self.devices[token] = dev
        return dev

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 20.0) -> None:
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                seen = [(r.token, r.status, r.payload.get("title")) for r in self.received]
                raise AssertionError(f"push service: condition not met in {timeout} s; "
                                     f"received {seen}, errors {self.errors}")

    def delivered(self, dev: Device) -> list[Received]:
        with self._cond:
            return [r for r in self.received if r.token == dev.token and 200 <= r.status < 300]

    def wait_delivered(self, dev: Device, n: int, timeout: float = 20.0) -> list[Received]:
        self.wait_for(lambda: len([r for r in self.received
                                   if r.token == dev.token and 200 <= r.status < 300]) >= n, timeout)
        return self.delivered(dev)

    def hold(self) -> None:
        """Hold every request from now until :meth:`release` (a push service that hangs)."""
        self._hold = True

    def release(self) -> None:
        self._hold = False
        if self._loop is not None and self._gate is not None:
            self._loop.call_soon_threadsafe(self._gate.set)

    # -- service side ----------------------------------------------------

    def _check_vapid(self, header: str) -> str | None:
        scheme, _, params = header.partition(" ")
        if scheme.lower() != "vapid":
            return f"Authorization scheme {scheme!r} is not vapid"
        parts = dict(p.strip().split("=", 1) for p in params.split(",") if "=" in p)
        if "t" not in parts or "k" not in parts:
            return "vapid t= or k= missing"
        if self.vapid_public_key is not None and parts["k"] != self.vapid_public_key:
            return "k is not the hub's public key"
        head, claims_b64, sig_b64 = parts["t"].split(".")
        if json.loads(b64d(head)).get("alg") != "ES256":
            return "JWT alg is not ES256"
        sig = b64d(sig_b64)
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(parts["k"]))
        try:
            public.verify(encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                               int.from_bytes(sig[32:], "big")),
                          f"{head}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "JWT signature does not verify"
        claims = json.loads(b64d(claims_b64))
        if claims.get("aud") != self.base_url:
            return f"JWT aud {claims.get('aud')!r} is not {self.base_url!r}"
        if not (time.time() < claims.get("exp", 0) <= time.time() + 86400):
            return "JWT exp is not within 24 hours"
        if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
            return "JWT sub is not a contact"
        return None

    async def handle(self, request: Request) -> Response:
        token = request.path_params["token"]
        body = await request.body()
        with self._cond:
            self.arrived += 1
            self._cond.notify_all()
        if self._hold:
            self._loop = asyncio.get_running_loop()
            if self._gate is None:
                self._gate = asyncio.Event()
            await self._gate.wait()
        dev = self.devices.get(token)
        problem = None
        if dev is None:
            problem = f"unknown token {token}"
        else:
            problem = self._check_vapid(request.headers.get("authorization", ""))
        if problem is None and request.headers.get("content-encoding") != "aes128gcm":
            problem = "Content-Encoding is not aes128gcm"
        ttl = request.headers.get("ttl")
        if problem is None and (ttl is None or not ttl.isdigit()):
            problem = "TTL missing"
        payload: dict[str, Any] = {}
        if problem is None:
            assert dev is not None
            try:
                plain = http_ece.decrypt(body, private_key=dev.key, auth_secret=dev.auth,
                                         version="aes128gcm")
                payload = json.loads(plain)
            except Exception as exc:
                problem = f"cannot decrypt: {exc!r}"
        if problem is not None:
            with self._cond:
                self.errors.append(problem)
                self._cond.notify_all()
            return Response(problem, status_code=400)
        assert dev is not None and ttl is not None
        status, headers = dev.answers.pop(0) if dev.answers else (201, {})
        with self._cond:
            self.received.append(Received(token, payload, int(ttl), request.headers.get("urgency"),
                                          request.headers.get("topic"), status, time.monotonic()))
            self._cond.notify_all()
        return Response(status_code=status, headers=headers)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/push/{token}", self.handle, methods=["POST"])])


@contextmanager
def push_service(vapid_public_key: str | None = None) -> Iterator[PushService]:
    service = PushService(vapid_public_key)
    with serve_asgi(service.app()) as url:
        service.base_url = url
        try:
            yield service
        finally:
            service.release()
