"""The followed-feeds file: which feeds this hub polls and what it trusts for each.

Trust is configured, never learnt from the feed (no trust on first use): a Tocsin hub is
followed with its registry root key and its log key (and optionally a witness policy),
copied from that hub's operator over a channel the operator trusts; a plain CAP feed with
the certificates its XML signatures must verify against, if any. The file is TOML::

    [[feed]]
    name = "hub-a"                       # shown as "from hub hub-a, verified"
    url = "https://a.example/feeds/alerts.atom"
    kind = "tocsin"                      # or "cap"
    registry_root = "hub-a-root+0123abcd+AQ..."   # tocsin: registry root verifier key
    log_key = "a.example/log+89abcdef+AQ..."      # tocsin: log verifier key
    origin = "a.example/log"             # tocsin: log origin (default: the log key's name)
    witness_policy = "/etc/tocsin/hub-a-witnesses.txt"  # tocsin, optional: k-of-n cosigners
    certificates = ["/etc/tocsin/ipaws.pem"]  # cap, optional: XML-DSig certificates (PEM)
    interval_secs = 60                   # poll interval, MIN..MAX_INTERVAL_SECS

Every value is checked when the file is read; a bad file stops the hub at start with the
feed and field named (:class:`FollowConfigError`), never a feed silently dropped.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tocsin.tlog.proof import PolicyError, WitnessPolicy, parse_policy
from tocsin.trust.note import NoteError, Verifier

MIN_INTERVAL_SECS = 1.0
MAX_INTERVAL_SECS = 3600.0
DEFAULT_INTERVAL_SECS = 60.0
MAX_FEEDS = 100
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
FeedKind = Literal["tocsin", "cap"]


class FollowConfigError(ValueError):
    """The followed-feeds file cannot be used; the message names the feed and the field."""


@dataclass(frozen=True, slots=True)
class FollowedFeed:
    """One followed feed and what its alerts are verified against."""

    name: str
    url: str
    kind: FeedKind
    interval_secs: float = DEFAULT_INTERVAL_SECS
    registry_root: Verifier | None = None
    log_key: Verifier | None = None
    origin: str | None = None
    witness_policy: WitnessPolicy | None = None
    certificates: tuple[bytes, ...] = ()  # PEM, each one certificate

    @property
    def public_url(self) -> str:
        """The URL as shown to anyone (``/api/v1/follows``, the log): its query, which may
        hold an API key, is left out (``?…``)."""
        head, sep, _ = self.url.partition("?")
        return head + ("?…" if sep else "")

    def redact(self, text: str) -> str:
        """``text`` with the URL's query (a possible API key) replaced by ``…``, also where a
        message cut the URL short."""
        head, sep, query = self.url.partition("?")
        if not sep or not query:
            return text
        return re.sub(re.escape(head) + r"\?\S*", lambda _m: head + "?…", text.replace(query, "…"))

    @property
    def api_base(self) -> str:
        """A Tocsin hub's base URL: the feed URL up to its ``/feeds/`` path."""
        head, sep, _ = self.url.partition("/feeds/")
        return head if sep else self.url.rstrip("/")

    def as_toml(self, *, policy_path: str | None, cert_paths: tuple[str, ...]) -> str:
        """This feed as one ``[[feed]]`` table (keys written as vkey text)."""
        lines = ["[[feed]]", f"name = {_q(self.name)}", f"url = {_q(self.url)}", f"kind = {_q(self.kind)}",
                 f"interval_secs = {self.interval_secs:g}"]
        if self.registry_root is not None:
            lines.append(f"registry_root = {_q(self.registry_root.vkey)}")
        if self.log_key is not None:
            lines.append(f"log_key = {_q(self.log_key.vkey)}")
        if self.origin is not None:
            lines.append(f"origin = {_q(self.origin)}")
        if policy_path is not None:
            lines.append(f"witness_policy = {_q(policy_path)}")
        if cert_paths:
            lines.append("certificates = [" + ", ".join(_q(p) for p in cert_paths) + "]")
        return "\n".join(lines) + "\n"


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(table: dict[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise FollowConfigError(f"{where}: {key} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise FollowConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _verifier(table: dict[str, Any], key: str, where: str, base: Path) -> Verifier | None:
    """A verifier key given as vkey text or as the path of a ``.pub`` file holding one."""
    text = _text(table, key, where)
    if text is None:
        return None
    if text.endswith(".pub") and (base / text).is_file():
        text = (base / text).read_text(encoding="utf-8").strip()
    try:
        return Verifier.from_vkey(text)
    except NoteError as exc:
        raise FollowConfigError(f"{where}: {key} is not a verifier key ({exc})") from None


def feed_from_table(table: dict[str, Any], base: Path, index: int) -> FollowedFeed:
    """One ``[[feed]]`` table, checked; relative paths are read from ``base``."""
    where = f"feed {index + 1}"
    unknown = sorted(set(table) - {"name", "url", "kind", "interval_secs", "registry_root", "log_key",
                                   "origin", "witness_policy", "certificates"})
    if unknown:
        raise FollowConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = _text(table, "name", where, required=True) or ""
    if not NAME_RE.fullmatch(name):
        raise FollowConfigError(f"{where}: name must be 1-63 letters, digits, '.', '_' or '-'")
    where = f"feed {name!r}"
    url = _text(table, "url", where, required=True) or ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FollowConfigError(f"{where}: url must be an http(s) URL, got {url[:80]!r}")
    if parts.username is not None or parts.password is not None:  # the URL itself is not repeated
        raise FollowConfigError(f"{where}: url must not carry user info (fetches refuse it, and a "
                                "password would be shown at /api/v1/follows); an API key may go in "
                                "the query, which is never shown")
    kind = _text(table, "kind", where) or "cap"
    if kind not in ("tocsin", "cap"):
        raise FollowConfigError(f"{where}: kind must be 'tocsin' or 'cap', got {kind!r}")
    interval = table.get("interval_secs", DEFAULT_INTERVAL_SECS)
    if isinstance(interval, bool) or not isinstance(interval, int | float) or not math.isfinite(interval) \
            or not MIN_INTERVAL_SECS <= interval <= MAX_INTERVAL_SECS:
        raise FollowConfigError(f"{where}: interval_secs must be {MIN_INTERVAL_SECS:g}.."
                                f"{MAX_INTERVAL_SECS:g} seconds, got {interval!r}")
    root = _verifier(table, "registry_root", where, base)
    log_key = _verifier(table, "log_key", where, base)
    origin = _text(table, "origin", where)
    policy: WitnessPolicy | None = None
    policy_path = _text(table, "witness_policy", where)
    if kind == "tocsin":
        if root is None or log_key is None:
            raise FollowConfigError(f"{where}: a Tocsin hub is followed with its registry_root and "
                                    "log_key (trust is configured, never taken from the feed)")
        origin = origin or log_key.name
        if policy_path is not None:
            try:
                policy = parse_policy((base / policy_path).read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, PolicyError) as exc:
                raise FollowConfigError(f"{where}: witness_policy {policy_path}: {exc}") from None
    elif root is not None or log_key is not None or policy_path is not None:
        raise FollowConfigError(f"{where}: registry_root, log_key and witness_policy are for "
                                "kind = 'tocsin'")
    certs: list[bytes] = []
    raw_certs = table.get("certificates", [])
    if not isinstance(raw_certs, list) or not all(isinstance(c, str) for c in raw_certs):
        raise FollowConfigError(f"{where}: certificates must be a list of PEM file paths")
    if raw_certs and kind != "cap":
        raise FollowConfigError(f"{where}: certificates are for kind = 'cap' (XML-DSig)")
    for cert_path in raw_certs:
        from tocsin.follow.xmldsig import CertificateError, load_certificate

        try:
            certs.append(load_certificate((base / cert_path).read_bytes()))
        except (OSError, CertificateError) as exc:
            raise FollowConfigError(f"{where}: certificate {cert_path}: {exc}") from None
    return FollowedFeed(name=name, url=url, kind=kind,  # type: ignore[arg-type]
                        interval_secs=float(interval), registry_root=root, log_key=log_key,
                        origin=origin, witness_policy=policy, certificates=tuple(certs))


def load_follows(path: Path) -> list[FollowedFeed]:
    """Every feed in ``path`` (none if the file does not exist); names are unique."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise FollowConfigError(f"{path}: {exc}") from None
    unknown = sorted(set(data) - {"feed"})
    if unknown:
        raise FollowConfigError(f"{path}: unknown table(s) {', '.join(unknown)} (expected [[feed]])")
    tables = data.get("feed", [])
    if not isinstance(tables, list) or len(tables) > MAX_FEEDS:
        raise FollowConfigError(f"{path}: expected at most {MAX_FEEDS} [[feed]] tables")
    feeds = [feed_from_table(t, path.parent, i) for i, t in enumerate(tables)]
    names = [f.name for f in feeds]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise FollowConfigError(f"{path}: feed name {duplicate!r} is used twice")
    return feeds
