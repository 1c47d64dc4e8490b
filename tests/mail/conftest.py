"""Email tests: a real ``aiosmtpd`` SMTP server on 127.0.0.1 as the hub's relay."""

from __future__ import annotations

import email
import email.policy
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller
from tests.hub_calls import issue as issue  # issue is re-exported for the tests
from tests.hub_calls import metric_at

from tocsin.testing import HubProcess, free_port

KYIV = "UA80000000000093317"
LVIV = "UA46060250000025047"  # Львівська територіальна громада (the city of Lviv)
LVIV_OBLAST = "UA46000000000026241"
WAIT_SECS = 30.0


@dataclass
class Received:
    to: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """What the SMTP server received; tests wait on a condition, never sleep."""

    received: list[Received] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)
    refusals: list[str] = field(default_factory=list)  # replies to the next DATA, in order
    refused: list[str] = field(default_factory=list)  # subjects of the messages refused

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.changed:
            if self.refusals:
                self.refused.append(str(message["Subject"]))
                return self.refusals.pop(0)
            self.received.append(Received(list(envelope.rcpt_tos), message))
            self.changed.notify_all()
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        with self.changed:
            return [r.message for r in self.received if address in r.to]

    def wait_for(self, address: str, n: int) -> list[EmailMessage]:
        """The first ``n`` messages to ``address``, once they have arrived."""
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.to_unlocked(address)) >= n, WAIT_SECS):
                raise AssertionError(f"{address} got {len(self.to_unlocked(address))} of {n} emails")
            return self.to_unlocked(address)[:n]

    def to_unlocked(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.to]


class Relay:
    """An aiosmtpd server on a fixed 127.0.0.1 port that can be stopped and started again."""

    def __init__(self, **smtp: Any) -> None:
        self.port = free_port()
        self.inbox = Inbox()
        self.smtp = smtp  # aiosmtpd.smtp.SMTP options: tls_context, require_starttls, authenticator
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **self.smtp)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def env(self) -> dict[str, str]:
        return {"TOCSIN_EMAIL_SMTP_HOST": "127.0.0.1", "TOCSIN_EMAIL_SMTP_PORT": str(self.port),
                "TOCSIN_EMAIL_SMTP_SECURITY": "none", "TOCSIN_EMAIL_SMTP_TIMEOUT_SECS": "10",
                "TOCSIN_EMAIL_FROM": "Tocsin test <alerts@tocsin.example.org>"}


@pytest.fixture
def relay() -> Iterator[Relay]:
    server = Relay()
    server.start()
    yield server
    server.stop()


@contextmanager
def hub_with(relay: Relay, data: Path, **env: str) -> Iterator[HubProcess]:
    process = HubProcess(data, env={**relay.env(), **env})
    process.start()
    try:
        yield process
    finally:
        process.stop()


def subscribe(hub: HubProcess, address: str, regions: list[str], language: str = "uk",
              name: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"address": address, "regions": regions, "language": language}
    if name is not None:
        body["name"] = name
    return httpx.post(f"{hub.url}/api/v1/email/subscriptions", json=body)


def text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content: str = part.get_content()
    return content


def link_in(message: EmailMessage, path: str) -> str:
    """The first link to ``path`` in the plain-text part."""
    for word in text_of(message, "plain").split():
        if path in word:
            return word
    raise AssertionError(f"no {path} link in {text_of(message, 'plain')!r}")


def confirm(hub: HubProcess, relay: Relay, address: str, n: int = 1) -> None:
    """Follow the ``n``-th confirmation email's link (POST, as the page's button does)."""
    mail = relay.inbox.wait_for(address, n)[n - 1]
    url = link_in(mail, "/api/v1/email/confirm")
    answer = httpx.post(url)
    assert answer.status_code == 200, answer.text
    assert answer.json()["confirmed"] is True


def metric(hub: HubProcess, name: str) -> float:
    return metric_at(hub.url, name)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def until(check: Callable[[], bool], what: str, tries: int = 600) -> None:
    """Poll a hub's own counters (a child process) until ``check`` holds."""
    import time

    for _ in range(tries):
        if check():
            return
        time.sleep(0.05)  # polling another process's counter, not waiting for a result
    raise AssertionError(f"never: {what}")


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test relay")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "relay.pem", directory / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
