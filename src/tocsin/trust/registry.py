"""The issuer registry: who may sign which kinds of warning, for where, with which keys.

On disk the registry is a JSON document::

    {"registry": {"format": "tocsin/issuer-registry/v1", "version": 3,
                  "root": "<root vkey>", "issuers": [...]},
     "signatures": ["— <root name> <base64(keyID || sig)>"]}

The ``signatures`` are C2SP signed-note signature lines over the note text
``JCS(registry) + "\\n"`` (RFC 8785 canonical bytes), so any signed-note
verifier can check a registry and whitespace or key order in the file never
matter. Loading verifies the root signature *before* reading any issuer, and
refuses unknown fields, duplicate JSON keys, duplicate ids and bad values with
a message naming the place. Registries are immutable: :meth:`Registry.with_issuer`
and friends return the next version, which :meth:`Registry.sign` turns into a file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import rfc8785

from tocsin.kinds import KINDS
from tocsin.trust.note import (
    KeyFormatError,
    NoteError,
    Signer,
    Verifier,
    Verifiers,
    open_note,
    sign_note,
)

REGISTRY_FORMAT = "tocsin/issuer-registry/v1"
NATIONWIDE = "*"  # a jurisdiction entry that covers every region (and geocode-less areas)
MAX_REGISTRY_BYTES = 16 * 1024 * 1024
ISSUER_ID = re.compile(r"[a-z0-9][a-z0-9._/-]{0,127}")


class RegistryError(ValueError):
    """The registry is unusable: bad signature, bad structure or a bad edit."""


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z``, seconds precision: one spelling per instant."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, where: str) -> datetime:
    """Parse an RFC 3339 time that has an offset; ``where`` names it in errors."""
    value = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RegistryError(f"{where}: {text!r} is not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise RegistryError(f"{where}: {text!r} has no UTC offset")
    return parsed


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """One of an issuer's public keys and the window in which it may sign."""

    verifier: Verifier
    not_before: datetime
    expires: datetime | None = None
    revoked_at: datetime | None = None

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def invalid_reason(self, at: datetime) -> str | None:
        """Why this key may not sign at ``at``, or None if it may."""
        label = f"key {self.verifier.name}+{self.key_id:08x}"
        if at < self.not_before:
            return f"{label} is not valid before {format_time(self.not_before)}"
        if self.expires is not None and at >= self.expires:
            return f"{label} expired at {format_time(self.expires)}"
        if self.revoked_at is not None and at >= self.revoked_at:
            return f"{label} was revoked at {format_time(self.revoked_at)}"
        return None


@dataclass(frozen=True, slots=True)
class Issuer:
    """An authority allowed to issue warnings of some kinds inside its jurisdiction."""

    id: str
    name_uk: str
    name_en: str
    kinds: frozenset[str]
    jurisdiction: tuple[str, ...]  # region codes, or NATIONWIDE
    keys: tuple[IssuerKey, ...] = ()
    aliases_uk: tuple[str, ...] = ()
    aliases_en: tuple[str, ...] = ()
    #: CAP ``<sender>`` values this issuer may use. Empty: the derived rule,
    #: ``<id>@<anything>`` (see :meth:`may_send_as`).
    senders: tuple[str, ...] = ()

    def key(self, key_id: int) -> IssuerKey | None:
        return next((k for k in self.keys if k.key_id == key_id), None)

    def may_send_as(self, sender: str) -> bool:
        """Whether the registry binds the CAP sender ``sender`` to this issuer.

        With a ``senders`` list, exactly those strings (compared exactly, as
        CAP compares senders). Without one, the derived rule: the part before
        the first ``@`` is this issuer's id and something follows the ``@``
        (``demo-air-force@tocsin``). Ids cannot contain ``@``, so a derived
        sender names exactly one issuer; :func:`_check_issuers` refuses a
        registry in which any sender could belong to two issuers.
        """
        if self.senders:
            return sender in self.senders
        local, at, host = sender.partition("@")
        return bool(at) and bool(host) and local == self.id

    def sender_rule(self) -> str:
        """The senders this issuer may use, in words (for refusals and ``registry show``)."""
        if self.senders:
            return ", ".join(self.senders)
        return f"{self.id}@<host> (derived from its id)"


@dataclass(frozen=True, slots=True)
class Registry:
    """A verified (or about to be signed) registry version."""

    version: int
    root: Verifier
    issuers: tuple[Issuer, ...] = ()
    _by_id: dict[str, Issuer] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_issuers(self.issuers)
        self._by_id.update({issuer.id: issuer for issuer in self.issuers})

    @classmethod
    def empty(cls, root: Verifier) -> Registry:
        """Version 1 with no issuers, to be filled with :meth:`with_issuer`."""
        return cls(version=1, root=root)

    def issuer(self, issuer_id: str) -> Issuer | None:
        return self._by_id.get(issuer_id)

    def verifiers(self) -> Verifiers:
        """Every issuer key (valid or not: validity is judged after the signature)."""
        return Verifiers(k.verifier for i in self.issuers for k in i.keys)

    def with_issuer(self, issuer: Issuer) -> Registry:
        """The next version with ``issuer`` added, or replacing the one with its id."""
        others = tuple(i for i in self.issuers if i.id != issuer.id)
        return replace(self, version=self.version + 1, issuers=(*others, issuer), _by_id={})

    def with_key(self, issuer_id: str, key: IssuerKey) -> Registry:
        issuer = self._require(issuer_id)
        return self.with_issuer(replace(issuer, keys=(*issuer.keys, key)))

    def with_key_revoked(self, issuer_id: str, key_id: int, at: datetime) -> Registry:
        """The next version with one key revoked from ``at`` (earlier alerts stay valid)."""
        issuer = self._require(issuer_id)
        if issuer.key(key_id) is None:
            raise RegistryError(f"issuer {issuer_id!r} has no key {key_id:08x}")
        keys = tuple(replace(k, revoked_at=at) if k.key_id == key_id else k for k in issuer.keys)
        return self.with_issuer(replace(issuer, keys=keys))

    def _require(self, issuer_id: str) -> Issuer:
        issuer = self.issuer(issuer_id)
        if issuer is None:
            raise RegistryError(f"no issuer {issuer_id!r} in registry version {self.version}")
        return issuer

    def document(self) -> dict[str, Any]:
        """The JSON object that is canonicalised and signed."""
        return {
            "format": REGISTRY_FORMAT,
            "version": self.version,
            "root": self.root.vkey,
            "issuers": [_issuer_json(i) for i in sorted(self.issuers, key=lambda i: i.id)],
        }

    def sign(self, root: Signer) -> bytes:
        """The registry file, signed by the root key this registry names."""
        if root.verifier() != self.root:
            raise RegistryError("the signing key is not this registry's root key")
        text = rfc8785.dumps(self.document()).decode() + "\n"
        note = open_note(sign_note(text, [root]), Verifiers([self.root]))
        out = {"registry": self.document(), "signatures": [s.line[:-1] for s in note.verified_sigs]}
        return (json.dumps(out, ensure_ascii=False, indent=2) + "\n").encode()


def _issuer_json(issuer: Issuer) -> dict[str, Any]:
    return {
        "id": issuer.id,
        "names": {"uk": issuer.name_uk, "en": issuer.name_en},
        "aliases": {"uk": list(issuer.aliases_uk), "en": list(issuer.aliases_en)},
        "kinds": sorted(issuer.kinds),
        "jurisdiction": list(issuer.jurisdiction),
        **({"senders": list(issuer.senders)} if issuer.senders else {}),
        "keys": [
            {
                "vkey": k.verifier.vkey,
                "not_before": format_time(k.not_before),
                "expires": None if k.expires is None else format_time(k.expires),
                "revoked_at": None if k.revoked_at is None else format_time(k.revoked_at),
            }
            for k in issuer.keys
        ],
    }


SENDER = re.compile(r"[^\s,<&\x00-\x1f\x7f]{1,256}")


def _check_senders(issuers: Iterable[Issuer]) -> None:
    """No CAP sender may belong to two issuers (compared case-insensitively, to refuse
    look-alikes too), whether listed or derived from an id."""
    listed: dict[str, str] = {}
    derived = {i.id for i in issuers if not i.senders}
    for issuer in issuers:
        for sender in issuer.senders:
            where = f"issuer {issuer.id!r}: sender {sender!r}"
            if not SENDER.fullmatch(sender):
                raise RegistryError(f"{where}: a CAP sender has no spaces, commas, '<', '&' "
                                    "or control characters (1-256 characters)")
            key = sender.casefold()
            if listed.get(key, issuer.id) != issuer.id:
                raise RegistryError(f"{where}: also listed by issuer {listed[key]!r}")
            listed[key] = issuer.id
            local, at, host = sender.partition("@")
            owner = next((d for d in derived if d.casefold() == local.casefold()), None)
            if at and host and owner is not None and owner != issuer.id:
                raise RegistryError(f"{where}: belongs to issuer {owner!r} by the derived rule "
                                    f"({owner}@<host>)")


def _check_issuers(issuers: Iterable[Issuer]) -> None:
    issuers = tuple(issuers)
    _check_senders(issuers)
    seen: set[str] = set()
    for issuer in issuers:
        where = f"issuer {issuer.id!r}"
        if not ISSUER_ID.fullmatch(issuer.id):
            raise RegistryError(f"{where}: id must match {ISSUER_ID.pattern}")
        if issuer.id in seen:
            raise RegistryError(f"{where}: listed twice")
        seen.add(issuer.id)
        if not issuer.name_uk.strip() or not issuer.name_en.strip():
            raise RegistryError(f"{where}: needs a Ukrainian and an English name")
        unknown = sorted(issuer.kinds - KINDS.keys())
        if unknown:
            raise RegistryError(f"{where}: unknown kind(s) {', '.join(unknown)}")
        if not issuer.jurisdiction or any(not c.strip() for c in issuer.jurisdiction):
            raise RegistryError(f"{where}: jurisdiction must list at least one region code")
        key_ids: set[int] = set()
        for key in issuer.keys:
            if key.verifier.name != issuer.id:
                raise RegistryError(f"{where}: key {key.verifier.vkey} is named for another issuer")
            if key.key_id in key_ids:
                raise RegistryError(f"{where}: key {key.key_id:08x} listed twice")
            key_ids.add(key.key_id)
            if key.expires is not None and key.expires <= key.not_before:
                raise RegistryError(f"{where}: key {key.key_id:08x} expires before it starts")


# -- loading -------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RegistryError(f"duplicate JSON key {key!r}")
        out[key] = value
    return out


def _fields(obj: Any, where: str, required: set[str], optional: frozenset[str] = frozenset()
            ) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise RegistryError(f"{where}: expected a JSON object")
    missing = sorted(required - obj.keys())
    if missing:
        raise RegistryError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(obj.keys() - required - optional)
    if unknown:
        raise RegistryError(f"{where}: unknown field(s) {', '.join(unknown)}")
    return obj


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise RegistryError(f"{where}: expected a non-empty string")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise RegistryError(f"{where}: expected a list of strings")
    return tuple(_string(v, f"{where}[{n}]") for n, v in enumerate(value))


def _opt_time(value: Any, where: str) -> datetime | None:
    return None if value is None else parse_time(_string(value, where), where)


def _key_from_json(obj: Any, where: str) -> IssuerKey:
    keys = {"vkey", "not_before"}
    data = _fields(obj, where, keys, frozenset({"expires", "revoked_at"}))
    try:
        verifier = Verifier.from_vkey(_string(data["vkey"], f"{where}.vkey"))
    except KeyFormatError as exc:
        raise RegistryError(f"{where}.vkey: {exc}") from None
    return IssuerKey(
        verifier=verifier,
        not_before=parse_time(_string(data["not_before"], f"{where}.not_before"),
                              f"{where}.not_before"),
        expires=_opt_time(data.get("expires"), f"{where}.expires"),
        revoked_at=_opt_time(data.get("revoked_at"), f"{where}.revoked_at"),
    )


def _issuer_from_json(obj: Any, where: str) -> Issuer:
    data = _fields(obj, where, {"id", "names", "kinds", "jurisdiction", "keys"},
                   frozenset({"aliases", "senders"}))
    names = _fields(data["names"], f"{where}.names", {"uk", "en"})
    aliases = _fields(data.get("aliases", {}), f"{where}.aliases", set(),
                      frozenset({"uk", "en"}))
    if not isinstance(data["keys"], list):
        raise RegistryError(f"{where}.keys: expected a list")
    return Issuer(
        id=_string(data["id"], f"{where}.id"),
        name_uk=_string(names["uk"], f"{where}.names.uk"),
        name_en=_string(names["en"], f"{where}.names.en"),
        aliases_uk=_strings(aliases.get("uk", []), f"{where}.aliases.uk"),
        aliases_en=_strings(aliases.get("en", []), f"{where}.aliases.en"),
        kinds=frozenset(_strings(data["kinds"], f"{where}.kinds")),
        jurisdiction=_strings(data["jurisdiction"], f"{where}.jurisdiction"),
        senders=_strings(data.get("senders", []), f"{where}.senders"),
        keys=tuple(_key_from_json(k, f"{where}.keys[{n}]") for n, k in enumerate(data["keys"])),
    )


def load_registry(data: bytes, *, root: Verifier | None = None) -> Registry:
    """Verify and load a registry file.

    With ``root`` (the pinned root key, recommended) the file must name and be
    signed by exactly that key; without it the file is only checked to be
    signed by the root key it names itself, which proves integrity, not origin.
    """
    if len(data) > MAX_REGISTRY_BYTES:
        raise RegistryError(f"registry larger than {MAX_REGISTRY_BYTES} bytes")
    try:
        outer = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RegistryError(f"registry is not UTF-8 JSON: {exc}") from None
    except RecursionError:
        raise RegistryError("registry JSON is nested too deeply") from None
    envelope = _fields(outer, "registry file", {"registry", "signatures"})
    body = _fields(envelope["registry"], "registry", {"format", "version", "root", "issuers"})
    if body["format"] != REGISTRY_FORMAT:
        raise RegistryError(f"registry.format must be {REGISTRY_FORMAT!r}")
    try:
        named_root = Verifier.from_vkey(_string(body["root"], "registry.root"))
    except KeyFormatError as exc:
        raise RegistryError(f"registry.root: {exc}") from None
    if root is not None and named_root != root:
        raise RegistryError(f"registry root key {named_root.vkey} is not the pinned root key")
    lines = _strings(envelope["signatures"], "signatures")
    if not lines:
        raise RegistryError("registry is not signed")
    if any("\n" in line for line in lines):
        raise RegistryError("signatures: a signature line holds a newline")
    try:
        text = rfc8785.dumps(body).decode() + "\n"
        note_bytes = (text + "\n" + "".join(line + "\n" for line in lines)).encode()
        if open_note(note_bytes, Verifiers([named_root])).text != text:
            raise RegistryError("bad root signature: signed text is not the registry")
    except RegistryError:
        raise
    except NoteError as exc:
        raise RegistryError(f"bad root signature: {exc}") from None
    except (rfc8785.CanonicalizationError, ValueError, RecursionError) as exc:
        raise RegistryError(f"registry cannot be canonicalised: {exc}") from None

    version = body["version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RegistryError("registry.version must be a positive integer")
    if not isinstance(body["issuers"], list):
        raise RegistryError("registry.issuers: expected a list")
    issuers = tuple(
        _issuer_from_json(obj, f"registry.issuers[{n}]") for n, obj in enumerate(body["issuers"])
    )
    return Registry(version=version, root=named_root, issuers=issuers)


__all__ = [
    "NATIONWIDE",
    "REGISTRY_FORMAT",
    "Issuer",
    "IssuerKey",
    "Registry",
    "RegistryError",
    "format_time",
    "load_registry",
    "parse_time",
]
