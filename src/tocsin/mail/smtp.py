"""One message, built and sent through the SMTP relay set in the settings (``aiosmtplib``).

The small interface every email sender uses (alert subscriptions here; organisations' channels
may reuse it)::

    relay = Relay.from_settings(settings)            # None: no relay configured, email off
    message = build_message(sender=..., to=..., subject=..., text=..., html=..., headers=...)
    async with Mailer(relay) as mailer:
        await mailer.send(message)                    # or SmtpFailure(temporary=True/False)

Invariants:

* **No header injection.** :func:`build_message` refuses a subject, name or extra header
  value holding a control character (CR, LF, ...) with :class:`HeaderRefused` before writing
  anything, and writes names and non-ASCII text as RFC 2047 encoded words.
* **Temporary or not.** :class:`SmtpFailure` says whether trying again later can help: a
  4xx reply, a refused or dropped connection, a timeout, a relay refusing our credentials
  (an operator can fix that) are temporary; a 5xx reply to the sender, a recipient or the
  data is permanent for that message. ``relay_down`` marks failures of the relay itself (no
  SMTP reply to this message), which a caller should back off from as a whole.
* **Secrets never logged.** :class:`Relay` does not show its password in ``repr``; failures
  carry the reply code and the relay's text, never the credentials.
* One :class:`Mailer` holds at most one connection and sends one message at a time (a lock);
  it reconnects when the relay closed an idle connection.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from types import TracebackType
from typing import TYPE_CHECKING

import aiosmtplib

from tocsin.mail.addresses import has_control

if TYPE_CHECKING:
    from tocsin.config import Settings

SECURITY_MODES = ("starttls", "tls", "none")


@dataclass(frozen=True, slots=True)
class Relay:
    """Where and how to hand messages over: host, port, TLS mode, optional credentials."""

    host: str
    port: int = 587
    security: str = "starttls"  # "starttls" (upgrade, required), "tls" (implicit, 465) or "none"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0
    ca_file: str | None = None  # CA certificates to verify the relay by (None: the system's)

    @classmethod
    def from_settings(cls, settings: Settings) -> Relay | None:
        if not settings.email_smtp_host:
            return None
        return cls(host=settings.email_smtp_host, port=settings.email_smtp_port,
                   security=settings.email_smtp_security,
                   username=settings.email_smtp_username or None,
                   password=settings.email_smtp_password or None,
                   timeout=settings.email_smtp_timeout_secs,
                   ca_file=str(settings.email_smtp_ca_file) if settings.email_smtp_ca_file else None)


class HeaderRefused(ValueError):
    """A header value holds a control character (a header injection attempt)."""


class SmtpFailure(Exception):
    """A message was not handed over; ``temporary``: trying again later can succeed."""

    def __init__(self, message: str, *, temporary: bool, code: int | None = None,
                 relay_down: bool = False) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.code = code
        self.relay_down = relay_down


def _checked(name: str, value: str) -> str:
    if has_control(value):
        raise HeaderRefused(f"{name} contains a line break or control character")
    return value


def _header(value: str) -> str | Header:
    """ASCII as it is; anything else as RFC 2047 encoded words (UTF-8)."""
    return value if value.isascii() else Header(value, "utf-8")


def build_message(*, sender: Address, to: Address, subject: str, text: str, html: str | None = None,
                  headers: Mapping[str, str] | None = None) -> Message:
    """A ``multipart/alternative`` message (plain text first, then HTML), UTF-8, ready to send.

    Written with the ``compat32`` MIME classes: the newer folder of Python 3.11 drops the
    space between two encoded words when it folds a long non-ASCII subject. (``aiosmtplib``
    writes such a message with ``compat32`` too, which may fold a long header such as
    ``List-Unsubscribe`` before its value: folding whitespace, allowed there by RFC 2369.)
    """
    for what, address in (("From", sender), ("To", to)):
        _checked(what, address.display_name)
        _checked(what, address.addr_spec)
    _checked("Subject", subject)
    for name, value in (headers or {}).items():
        _checked("header name", name)
        _checked(name, value)
    message: Message
    if html is None:
        message = MIMEText(text, "plain", "utf-8")
    else:
        message = MIMEMultipart("alternative")
        message.attach(MIMEText(text, "plain", "utf-8"))
        message.attach(MIMEText(html, "html", "utf-8"))
    message["From"] = email.utils.formataddr((sender.display_name, sender.addr_spec), charset="utf-8")
    message["To"] = email.utils.formataddr((to.display_name, to.addr_spec), charset="utf-8")
    message["Subject"] = _header(subject)  # type: ignore[assignment]  # (a Header is taken)
    message["Date"] = email.utils.formatdate(usegmt=True)
    message["Message-ID"] = email.utils.make_msgid(domain=sender.domain or None)
    for name, value in (headers or {}).items():
        message[name] = _header(value)  # type: ignore[assignment]
    return message


class Mailer:
    """One connection to the relay, opened on first use and kept (see the module docstring)."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self._smtp: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> Mailer:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    def _client(self) -> aiosmtplib.SMTP:
        relay = self.relay
        return aiosmtplib.SMTP(hostname=relay.host, port=relay.port, timeout=relay.timeout,
                               use_tls=relay.security == "tls",
                               start_tls=True if relay.security == "starttls" else False,  # noqa: SIM210
                               username=relay.username, password=relay.password,
                               cert_bundle=relay.ca_file)

    async def send(self, message: Message) -> None:
        """Hand ``message`` to the relay for every recipient, or raise :class:`SmtpFailure`."""
        async with self._lock:
            reused = self._smtp is not None and self._smtp.is_connected
            try:
                await self._send(message)
            except aiosmtplib.SMTPServerDisconnected:
                if not reused:
                    await self._drop()
                    raise SmtpFailure("the relay closed the connection", temporary=True,
                                      relay_down=True) from None
                await self._drop()  # an idle connection the relay closed: once more, afresh
                try:
                    await self._send(message)
                except Exception as exc:
                    await self._drop()
                    raise _failure(exc) from None
            except Exception as exc:
                await self._drop()
                raise _failure(exc) from None

    async def _send(self, message: Message) -> None:
        if self._smtp is None or not self._smtp.is_connected:
            self._smtp = self._client()
            await self._smtp.connect()
        refused, _ = await self._smtp.send_message(message)
        if refused:  # some recipients refused, others taken (one recipient here: never)
            code, text = next(iter(refused.values()))
            raise SmtpFailure(f"recipient refused: {code} {text}", temporary=400 <= code < 500,
                              code=code)

    async def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def close(self) -> None:
        """Say QUIT if connected, then close."""
        async with self._lock:
            smtp, self._smtp = self._smtp, None
            if smtp is not None and smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()


def _failure(exc: BaseException) -> SmtpFailure:
    """Classify what aiosmtplib raised (see the module docstring)."""
    if isinstance(exc, SmtpFailure):
        return exc
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        first = exc.recipients[0] if exc.recipients else None
        code = first.code if first is not None else 550
        text = first.message if first is not None else ""
        return SmtpFailure(f"recipient refused: {code} {text}", temporary=400 <= code < 500, code=code)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SmtpFailure(f"the relay refused our credentials: {exc.code}", temporary=True,
                           code=exc.code, relay_down=True)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code
        relay_down = code == 421 or isinstance(
            exc, aiosmtplib.SMTPHeloError | aiosmtplib.SMTPConnectResponseError)
        return SmtpFailure(f"the relay answered {code} {exc.message}", temporary=code < 500 or relay_down,
                           code=code, relay_down=relay_down)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SmtpFailure(f"the relay does not support what the settings ask: {exc}", temporary=True,
                           relay_down=True)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | TimeoutError):
        return SmtpFailure(f"the relay cannot be reached: {type(exc).__name__}", temporary=True,
                           relay_down=True)
    return SmtpFailure(f"sending failed: {type(exc).__name__}", temporary=False)
