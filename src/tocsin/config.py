"""One typed settings object for the hub; every field documented.

Precedence, highest first: command-line flags, environment variables
(``TOCSIN_<FIELD>``, e.g. ``TOCSIN_PORT=9000``), a TOML file
(``--config FILE`` or ``TOCSIN_CONFIG``), then the defaults below. Nothing
else in Tocsin reads the environment.
"""

from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the hub cannot use; the message names it."""


@dataclass(frozen=True, slots=True)
class Settings:
    #: Interface to listen on. The default serves only this machine.
    host: str = "127.0.0.1"
    #: TCP port to listen on.
    port: int = 8000
    #: Directory for the database, the hub's log key and (in demo mode) demo keys.
    data_dir: Path = field(default_factory=lambda: Path("data"))
    #: Where alerts and the log are stored. Empty (the default): SQLite in
    #: ``DATA_DIR/tocsin.sqlite3``, one process. A PostgreSQL URL
    #: (``postgresql://user@host:5432/tocsin``): the shared store several hub processes can use
    #: (docs/operations.md). It may carry a password: it is never logged or printed.
    store: str = ""
    #: Create demo issuers, a signed demo registry and their keys on first run.
    demo: bool = False
    #: Issuer registry file (signed JSON); demo mode writes ``DATA_DIR/registry.json``.
    registry: Path | None = None
    #: Region data directory (``units.csv`` code table, optional ``units.geojson`` and
    #: ``cities.csv``; docs/regions.md). Unset: Ukraine's KATOTTG regions, shipped.
    regions: Path | None = None
    #: Largest request body accepted, in bytes; refused before it is read whole.
    max_body_bytes: int = 1 << 20
    #: Seconds between heartbeats on idle live streams.
    heartbeat_secs: float = 15.0
    #: Events a live subscriber may have queued before it is told to resume.
    subscriber_queue_max: int = 256
    #: Live subscriptions one client address may hold at once.
    max_subscriptions_per_client: int = 64
    #: Region codes one subscription may name.
    max_regions_per_subscription: int = 200
    #: How far an alert's ``sent`` may lie in the past, in seconds, when issued.
    max_sent_age_secs: float = 600.0
    #: How far an alert's ``sent`` may lie in the future (clock skew), in seconds.
    max_sent_skew_secs: float = 120.0
    #: The transparency log's origin line (a schema-less URL naming this log; never change it).
    log_origin: str = "tocsin.localhost/log"
    #: Witness policy file: ``witness NAME VKEY URL`` lines (and ``quorum K``); the hub asks
    #: each witness with a URL to cosign every checkpoint. Demo mode adds a local witness.
    witness_policy: Path | None = None
    #: Public base URL used in links (Atom feeds), e.g. ``https://alerts.example.org``. Unset: the
    #: listen address (``http://HOST:PORT``). Never taken from a request's ``Host`` header.
    public_url: str | None = None
    #: Checks (``POST /api/v1/check``) one client may send in a burst, and the refill rate per
    #: second; beyond them ``429 rate_limited`` with ``Retry-After``.
    check_burst: int = 120
    check_rate_per_sec: float = 2.0
    #: Refused writes (``POST /api/v1/alerts`` or ``/api/v1/registry`` answered 4xx) one client may
    #: make in a burst, and the refill rate per second; once spent, that client's writes get 429
    #: until a token is back. Accepted writes never count.
    failed_write_burst: int = 30
    failed_write_rate_per_sec: float = 0.5
    #: Comma-separated addresses of reverse proxies whose ``X-Forwarded-For`` names the client.
    #: Empty (the default): the client is always the TCP peer; the header is ignored.
    trusted_proxies: str = ""
    #: Seconds a connection may take to send a request's headers (from connecting, or from the
    #: first byte of a following request); then it is closed.
    header_timeout_secs: float = 10.0
    #: Seconds a request may take to send its body; then ``408 request_timeout`` and the
    #: connection is closed.
    body_timeout_secs: float = 30.0
    #: A second TCP port serving the alerts.in.ua-compatible API at its root (``/v1/...``),
    #: for clients that drop a base URL's path (docs/compat.md); 0 = off.
    compat_port: int = 0
    #: Token the alerts.in.ua-compatible API requires (``Authorization: Bearer``); unset:
    #: any token is accepted and ignored. A secret: never logged.
    compat_token: str | None = None
    #: Hosts (comma-separated names or addresses) whose push endpoints may be plain
    #: ``http`` or at private addresses, e.g. ``127.0.0.1`` for a test push service. Empty:
    #: only public HTTPS push services are called (docs/push.md).
    push_allowed_hosts: str = ""
    #: The VAPID ``sub`` contact push services may reach the operator at (``mailto:`` or
    #: ``https:`` URL).
    push_contact: str = "mailto:tocsin@localhost"
    #: Push subscriptions the hub holds at most (a new one beyond is refused).
    max_push_subscriptions: int = 1_000_000
    #: Followed CAP feeds (TOML, ``[[feed]]`` tables; docs/federation.md). ``tocsin follow URL``
    #: adds to it. Unset: ``DATA_DIR/follows.toml`` if it exists, else no feed is followed.
    follows: Path | None = None
    #: Hosts (comma-separated) a followed feed may be fetched from over plain ``http`` or at a
    #: private address, e.g. ``127.0.0.1`` in tests. Empty: public HTTPS only (as push).
    follow_allowed_hosts: str = ""
    #: Hosts (comma-separated names or addresses) whose webhook URLs and WebSub callbacks may
    #: be plain ``http`` or at private addresses, e.g. ``127.0.0.1`` for a test receiver.
    #: Empty: only public HTTPS receivers are called (docs/webhooks.md).
    callback_allowed_hosts: str = ""
    #: Seconds a webhook or WebSub delivery is retried (backoff from 1 s, doubling, at most
    #: 5 minutes) before it is given up: a webhook's goes to its dead-letter list.
    callback_retry_secs: float = 86400.0
    #: Length of one second of callback time, in real seconds: it scales retry delays, the
    #: retry window and WebSub leases. 1 in production; tests set e.g. 0.005 so that a
    #: 10-minute outage of a receiver is lived through in 3 seconds by the real sender.
    callback_time_scale: float = 1.0
    #: Webhook endpoints plus WebSub subscriptions the hub holds at most.
    max_callbacks: int = 10_000
    #: Organisations (docs/organisations.md): the SMS gateway org messages are posted to
    #: (``POST`` JSON ``{"to", "text", "reference"}``; the SSRF rule of push endpoints applies,
    #: ``push_allowed_hosts`` included). Empty: no SMS channel (deliveries say so).
    org_sms_gateway_url: str = ""
    #: Bearer token sent to the SMS gateway. A secret: never logged.
    org_sms_gateway_token: str | None = None
    #: SMTP relay for email alerts (docs/email.md): its host name; empty (the default): email
    #: alerts are off and ``/api/v1/email/...`` answers ``503 email_unavailable``.
    email_smtp_host: str = ""
    #: The relay's port (587 submission with STARTTLS; 465 implicit TLS; 25).
    email_smtp_port: int = 587
    #: ``starttls`` (upgrade, required), ``tls`` (implicit TLS) or ``none`` (plain: a relay on
    #: this machine or a test server only).
    email_smtp_security: str = "starttls"
    #: Credentials for the relay, if it asks for them. The password is a secret: never logged.
    email_smtp_username: str = ""
    email_smtp_password: str = field(default="", repr=False)
    #: CA certificates (PEM) the relay's TLS certificate is verified by; unset: the system's.
    #: The certificate is always verified, host name included.
    email_smtp_ca_file: Path | None = None
    #: Seconds any one SMTP step (connect, a command, the data) may take.
    email_smtp_timeout_secs: float = 30.0
    #: The ``From`` of every email: ``Name <address>`` or an address.
    email_from: str = "Tocsin <tocsin@localhost.localdomain>"
    #: Connections to the relay open at once (each sends one message at a time).
    email_workers: int = 4
    #: Email subscriptions (confirmed or waiting for confirmation) the hub holds at most.
    max_email_subscriptions: int = 1_000_000

    @property
    def db_path(self) -> Path:
        return self.data_dir / "tocsin.sqlite3"

    @property
    def follows_path(self) -> Path:
        """The followed-feeds file: ``follows`` if set, else ``DATA_DIR/follows.toml``."""
        return self.follows or self.data_dir / "follows.toml"

    def validated(self) -> Settings:
        if not (0 < self.port < 65536):
            raise SettingsError(f"port must be 1..65535, got {self.port}")
        if not (0 <= self.compat_port < 65536) or self.compat_port == self.port:
            raise SettingsError(f"compat_port must be 0 (off) or a port other than {self.port}, "
                                f"got {self.compat_port}")
        for name in ("max_body_bytes", "subscriber_queue_max", "max_subscriptions_per_client",
                     "max_regions_per_subscription", "check_burst", "failed_write_burst",
                     "max_push_subscriptions", "max_callbacks", "email_workers",
                     "max_email_subscriptions"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("heartbeat_secs", "max_sent_age_secs", "max_sent_skew_secs", "check_rate_per_sec",
                     "failed_write_rate_per_sec", "header_timeout_secs", "body_timeout_secs",
                     "callback_retry_secs", "callback_time_scale", "email_smtp_timeout_secs"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise SettingsError(f"{name} must be a positive number of seconds, got {value}")
        if self.store and not self.store.startswith(("postgresql://", "postgres://")):
            raise SettingsError("store must be empty (SQLite in the data directory) or a "
                                "postgresql:// URL")
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError(f"public_url must start with http:// or https://, got {self.public_url!r}")
        if self.email_smtp_security not in ("starttls", "tls", "none"):
            raise SettingsError("email_smtp_security must be starttls, tls or none, got "
                                f"{self.email_smtp_security!r}")
        if not (0 < self.email_smtp_port < 65536):
            raise SettingsError(f"email_smtp_port must be 1..65535, got {self.email_smtp_port}")
        if self.email_smtp_host:
            from tocsin.mail.addresses import from_address_of

            try:
                from_address_of(self.email_from)
            except ValueError as exc:
                raise SettingsError(f"email_from: {exc}") from None
        for address in self.proxy_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise SettingsError(f"trusted_proxies: {address!r} is not an IP address") from None
        return self

    @property
    def proxy_addresses(self) -> frozenset[str]:
        """The trusted reverse proxies' addresses, parsed from :attr:`trusted_proxies`."""
        return frozenset(a.strip() for a in self.trusted_proxies.split(",") if a.strip())

    @property
    def base_url(self) -> str:
        """The base of every absolute link the hub writes (never from a request header)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = str(_FIELD_TYPES[name])
    try:
        if "Path" in kind:
            return None if value in (None, "") else Path(value)
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"not a boolean: {value!r}")
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return None if value is None else str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: {exc}") from None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build settings from defaults, a TOML file, the environment and overrides."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or (Path(env["TOCSIN_CONFIG"]) if env.get("TOCSIN_CONFIG") else None)
    if path is not None:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path}: no such file") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"config file {path}: {exc}") from None
        unknown = sorted(set(data) - set(_FIELD_TYPES))
        if unknown:
            raise SettingsError(f"config file {path}: unknown settings {', '.join(unknown)}")
        values.update({k: _coerce(k, v) for k, v in data.items()})
    for name in _FIELD_TYPES:
        key = f"TOCSIN_{name.upper()}"
        if key in env:
            values[name] = _coerce(name, env[key])
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    return replace(Settings(), **values).validated()
