"""How an org message reaches a person: one :class:`Channel` per way (push, SMS, email, webhook).

The interface is deliberately small so the email and webhook senders built on their own
branches plug in as two more classes: a channel gets one :class:`Outgoing` (who, where,
the text in the person's language, the personal link, the signed note) and answers a
:class:`DeliveryStatus` with a short reason. It never raises for a refused or failed
delivery — that is a status the dashboard shows. The dispatcher
(:class:`tocsin.org.service.Dispatcher`) calls channels concurrently, bounded.

Outbound HTTP goes only where the SSRF rule of :mod:`tocsin.push.endpoints` allows
(public HTTPS, unless a host is in ``push_allowed_hosts``), checked again before use.

* :class:`SmsGateway` — ``POST`` JSON ``{"to", "text", "reference"}`` to the configured
  gateway URL (``org_sms_gateway_url``, bearer token ``org_sms_gateway_token``); 2xx is
  ``sent``, or ``delivered`` when the gateway answers ``{"status": "delivered"}``.
* :class:`WebPushChannel` — the person's browser push subscription, encrypted (RFC 8291)
  and authorised (VAPID) with the hub's own push parts (:mod:`tocsin.push`).
* :class:`EmailChannel` — through the hub's SMTP relay with the email alerts' own parts
  (:mod:`tocsin.mail.smtp`: header-injection-safe messages, one connection per worker); the
  signed note is attached as text so a recipient can check it. Webhooks are not built yet.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from typing import Protocol

import aiohttp

from tocsin.mail.smtp import Mailer, Relay, SmtpFailure, build_message
from tocsin.org.model import DeliveryStatus
from tocsin.push.crypto import encrypt
from tocsin.push.endpoints import RECHECK_SECS, EndpointRefused, check_endpoint
from tocsin.push.vapid import VapidSigner, b64url_decode

log = logging.getLogger("tocsin.org")

TIMEOUT_SECS = 10.0


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for one person on one channel."""

    org_id: str
    org_name: str
    message_id: str
    person_id: str
    channel: str
    address: str  # phone, email, URL, or the push subscription JSON
    language: str
    text: str  # in the person's language, without the link
    link: str  # the personal link (message, signature, check-in)
    note: bytes  # the signed note: recipients may check it with the org's key
    record_as: str = ""  # the delivery record's channel name, if not ``channel`` ("contact-sms")

    @property
    def short(self) -> str:
        return f"{self.org_name}: {self.text}\n{self.link}" if self.link else f"{self.org_name}: {self.text}"


class Channel(Protocol):
    """A way to reach people (module docstring). ``send`` never raises for a failed delivery."""

    name: str

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]: ...

    async def close(self) -> None: ...


class _Checked:
    """The SSRF rule for one URL, re-checked every RECHECK_SECS (a name may be re-pointed)."""

    def __init__(self, allowed: frozenset[str]) -> None:
        self.allowed = allowed
        self._checked: dict[str, tuple[float, str | None]] = {}

    async def refused(self, url: str) -> str | None:
        now = time.monotonic()
        seen = self._checked.get(url)
        if seen is None or now - seen[0] > RECHECK_SECS:
            try:
                await asyncio.to_thread(check_endpoint, url, self.allowed)
                seen = (now, None)
            except EndpointRefused as exc:
                seen = (now, str(exc).replace("subscription.endpoint", "the URL"))
            if len(self._checked) > 10_000:
                self._checked.clear()
            self._checked[url] = seen
        return seen[1]


class SmsGateway:
    """An HTTP SMS gateway (module docstring)."""

    name = "sms"

    def __init__(self, url: str, token: str | None, allowed_hosts: frozenset[str]) -> None:
        self.url = url
        self._token = token
        self._rule = _Checked(allowed_hosts)
        self._client: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECS),
                                                 trust_env=False)
        return self._client

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]:
        refused = await self._rule.refused(self.url)
        if refused is not None:
            return DeliveryStatus.FAILED, f"gateway refused: {refused}"
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        body = {"to": out.address, "text": out.short, "reference": f"{out.message_id}/{out.person_id}"}
        try:
            async with self._session().post(self.url, json=body, headers=headers,
                                            allow_redirects=False) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return DeliveryStatus.FAILED, f"gateway unreachable ({type(exc).__name__})"
        if not 200 <= status < 300:
            return DeliveryStatus.FAILED, f"gateway answered {status}"
        try:
            said = json.loads(raw).get("status") if raw else None
        except (ValueError, AttributeError):
            said = None
        return (DeliveryStatus.DELIVERED, "gateway says delivered") if said == "delivered" \
            else (DeliveryStatus.SENT, "")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class WebPushChannel:
    """Web Push to a person's browser with the hub's VAPID key (module docstring)."""

    name = "push"

    def __init__(self, signer: VapidSigner, allowed_hosts: frozenset[str]) -> None:
        self.signer = signer
        self._rule = _Checked(allowed_hosts)
        self._client: aiohttp.ClientSession | None = None

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]:
        from tocsin.push.endpoints import origin_of

        try:
            sub = json.loads(out.address)
            endpoint = str(sub["endpoint"])
            p256dh, auth = b64url_decode(sub["keys"]["p256dh"]), b64url_decode(sub["keys"]["auth"])
        except (ValueError, KeyError, TypeError):
            return DeliveryStatus.FAILED, "not a push subscription"
        refused = await self._rule.refused(endpoint)
        if refused is not None:
            return DeliveryStatus.FAILED, f"push endpoint refused: {refused}"
        payload = json.dumps({"org": out.org_name, "title": out.org_name, "body": out.text,
                              "url": out.link, "tag": f"org-{out.message_id}"},
                             ensure_ascii=False).encode()
        body = encrypt(payload, p256dh, auth)
        headers = {"TTL": "3600", "Urgency": "high", "Content-Encoding": "aes128gcm",
                   "Content-Type": "application/octet-stream",
                   "Authorization": self.signer.authorization(origin_of(endpoint)[0])}
        if self._client is None:
            self._client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECS),
                                                 trust_env=False)
        try:
            async with self._client.post(endpoint, data=body, headers=headers,
                                         allow_redirects=False) as response:
                await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return DeliveryStatus.FAILED, f"push service unreachable ({type(exc).__name__})"
        if 200 <= status < 300:
            return DeliveryStatus.SENT, ""
        return DeliveryStatus.FAILED, f"push service answered {status}"

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()


class EmailChannel:
    """Email through the hub's SMTP relay (module docstring); ``workers`` connections at most."""

    name = "email"

    def __init__(self, relay: Relay, sender: Address, workers: int = 4) -> None:
        self.sender = sender
        self._mailers = [Mailer(relay) for _ in range(max(1, workers))]
        self._next = 0

    async def send(self, out: Outgoing) -> tuple[DeliveryStatus, str]:
        try:
            to = Address(addr_spec=out.address)
            body = f"{out.text}\n\n{out.link}\n" if out.link else f"{out.text}\n"
            if out.link:
                body += ("\n-- Підписано ключем організації / signed with the organisation's key --\n"
                         + out.note.decode("utf-8"))
            message = build_message(sender=self.sender, to=to, subject=out.org_name, text=body)
        except (ValueError, HeaderParseError) as exc:
            return DeliveryStatus.FAILED, f"not sendable as email ({type(exc).__name__})"
        mailer = self._mailers[self._next % len(self._mailers)]
        self._next += 1
        try:
            await mailer.send(message)
        except SmtpFailure as exc:
            return DeliveryStatus.FAILED, f"relay: {exc}"[:200]
        return DeliveryStatus.SENT, ""

    async def close(self) -> None:
        for mailer in self._mailers:
            await mailer.close()
