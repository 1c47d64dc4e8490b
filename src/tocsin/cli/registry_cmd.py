"""``tocsin registry ...``: create, edit, sign and show the issuer registry.

Every edit loads the file (checking its root signature against the root key
given), makes the next version and re-signs it; the file is replaced
atomically, so a failed edit leaves the previous version intact.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, load_regions, read_input_file, regions_option, stdout
from tocsin.trust.keyfiles import KeyFileError, read_signer, read_verifier
from tocsin.trust.note import Signer, Verifier
from tocsin.trust.registry import (
    NATIONWIDE,
    Issuer,
    IssuerKey,
    Registry,
    RegistryError,
    format_time,
    load_registry,
    parse_time,
)

ROOT_KEY_HELP = "The registry root's private key file."


def _root(path: Path) -> Signer:
    try:
        return read_signer(path)
    except KeyFileError as exc:
        fail(escape(str(exc)))


def _load(path: Path, root: Verifier | None) -> Registry:
    try:
        return load_registry(read_input_file(str(path)), root=root)
    except RegistryError as exc:
        fail(escape(f"{path}: {exc}"))


def _time(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_time(text, option)
    except RegistryError as exc:
        fail(escape(str(exc)))


def _save(registry: Registry, root: Signer, path: Path) -> None:
    try:
        data = registry.sign(root)
    except RegistryError as exc:
        fail(escape(str(exc)))
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        fail(escape(f"{path}: cannot write ({exc.strerror})"))
    stdout.print(f"{path}: version {registry.version}, {len(registry.issuers)} issuer(s), "
                 f"signed by {root.name}+{root.key_id:08x}")


def _issuer_key(pub: Path, not_before: str | None, expires: str | None) -> IssuerKey:
    try:
        verifier = read_verifier(pub)
    except KeyFileError as exc:
        fail(escape(str(exc)))
    start = _time(not_before, "--not-before") or datetime.now(UTC).replace(microsecond=0)
    return IssuerKey(verifier, not_before=start, expires=_time(expires, "--expires"))


@main.group("registry")
def registry() -> None:
    """Manage the signed issuer registry (who may warn about what, where)."""


@registry.command("init")
@click.option("--root-key", required=True, type=click.Path(path_type=Path), help=ROOT_KEY_HELP)
@click.option("--out", "out_file", required=True, type=click.Path(path_type=Path))
def init(root_key: Path, out_file: Path) -> None:
    """Create version 1: an empty registry signed by the root key."""
    if out_file.exists():
        fail(escape(f"{out_file} exists already; edit it with the other registry commands"))
    root = _root(root_key)
    _save(Registry.empty(root.verifier()), root, out_file)


@registry.command("add-issuer")
@click.argument("registry_file", type=click.Path(path_type=Path))
@click.option("--root-key", required=True, type=click.Path(path_type=Path), help=ROOT_KEY_HELP)
@click.option("--id", "issuer_id", required=True, help="Issuer id (the name of its keys).")
@click.option("--name-uk", required=True, help="Official name in Ukrainian.")
@click.option("--name-en", required=True, help="Official name in English.")
@click.option("--alias-uk", multiple=True, help="Another Ukrainian name (repeatable).")
@click.option("--alias-en", multiple=True, help="Another English name (repeatable).")
@click.option("--kind", "kinds", multiple=True, required=True,
              help="A warning kind it may send (repeatable), e.g. air-raid.")
@click.option("--region", "regions", multiple=True, required=True,
              help="A region code it covers (repeatable; KATOTTG or ISO 3166-2; '*' = nationwide).")
@click.option("--sender", "senders", multiple=True,
              help="A CAP <sender> it may use (repeatable; default: ID@<any host>).")
@click.option("--key", "pub", type=click.Path(path_type=Path), default=None,
              help="The issuer's public key file (.pub).")
@click.option("--not-before", default=None, help="Key valid from (RFC 3339; default now).")
@click.option("--expires", default=None, help="Key expiry (RFC 3339; default never).")
@regions_option
def add_issuer(registry_file: Path, root_key: Path, issuer_id: str, name_uk: str, name_en: str,
               alias_uk: tuple[str, ...], alias_en: tuple[str, ...], kinds: tuple[str, ...],
               regions: tuple[str, ...], senders: tuple[str, ...], pub: Path | None,
               not_before: str | None, expires: str | None,
               regions_dir: Path | None = None) -> None:
    """Add an issuer (or replace the one with this id) and re-sign."""
    root = _root(root_key)
    current = _load(registry_file, root.verifier())
    region_set = load_regions(regions_dir)
    jurisdiction: list[str] = []
    for code in regions:
        canonical = NATIONWIDE if code == NATIONWIDE else region_set.canonical(code)
        if canonical is None:
            fail(escape(f"--region {code!r}: unknown region code"))
        jurisdiction.append(canonical)
    keys = (_issuer_key(pub, not_before, expires),) if pub is not None else ()
    try:
        issuer = Issuer(id=issuer_id, name_uk=name_uk, name_en=name_en, kinds=frozenset(kinds),
                        jurisdiction=tuple(jurisdiction), keys=keys, aliases_uk=alias_uk,
                        aliases_en=alias_en, senders=senders)
        updated = current.with_issuer(issuer)
    except RegistryError as exc:
        fail(escape(str(exc)))
    _save(updated, root, registry_file)


@registry.command("add-key")
@click.argument("registry_file", type=click.Path(path_type=Path))
@click.option("--root-key", required=True, type=click.Path(path_type=Path), help=ROOT_KEY_HELP)
@click.option("--issuer", "issuer_id", required=True)
@click.option("--key", "pub", required=True, type=click.Path(path_type=Path),
              help="The new public key file (.pub).")
@click.option("--not-before", default=None, help="Key valid from (RFC 3339; default now).")
@click.option("--expires", default=None, help="Key expiry (RFC 3339; default never).")
def add_key(registry_file: Path, root_key: Path, issuer_id: str, pub: Path,
            not_before: str | None, expires: str | None) -> None:
    """Give an issuer another key (rotation) and re-sign."""
    root = _root(root_key)
    current = _load(registry_file, root.verifier())
    try:
        updated = current.with_key(issuer_id, _issuer_key(pub, not_before, expires))
    except RegistryError as exc:
        fail(escape(str(exc)))
    _save(updated, root, registry_file)


@registry.command("revoke-key")
@click.argument("registry_file", type=click.Path(path_type=Path))
@click.option("--root-key", required=True, type=click.Path(path_type=Path), help=ROOT_KEY_HELP)
@click.option("--issuer", "issuer_id", required=True)
@click.option("--key-id", required=True, help="The key ID, 8 hex digits.")
@click.option("--at", "at_text", default=None, help="Revoked from (RFC 3339; default now).")
def revoke_key(registry_file: Path, root_key: Path, issuer_id: str, key_id: str,
               at_text: str | None) -> None:
    """Revoke a key: alerts sent from --at on are refused, earlier ones stay valid."""
    root = _root(root_key)
    current = _load(registry_file, root.verifier())
    try:
        number = int(key_id, 16) if len(key_id) == 8 else -1
    except ValueError:
        number = -1
    if number < 0:
        fail(escape(f"--key-id {key_id!r}: expected 8 hex digits"))
    at = _time(at_text, "--at") or datetime.now(UTC).replace(microsecond=0)
    try:
        updated = current.with_key_revoked(issuer_id, number, at)
    except RegistryError as exc:
        fail(escape(str(exc)))
    _save(updated, root, registry_file)


@registry.command("show")
@click.argument("registry_file", type=click.Path(path_type=Path))
@click.option("--root", "root_file", type=click.Path(path_type=Path), default=None,
              help="Pin the root public key (.pub).")
def show(registry_file: Path, root_file: Path | None) -> None:
    """Verify the registry's root signature and list its issuers and keys."""
    try:
        root = read_verifier(root_file) if root_file is not None else None
    except KeyFileError as exc:
        fail(escape(str(exc)))
    current = _load(registry_file, root)
    pinned = "pinned" if root is not None else "NOT pinned"
    stdout.print(escape(f"registry version {current.version}, root {current.root.vkey} "
                        f"({pinned}), signature OK"))
    for issuer in sorted(current.issuers, key=lambda i: i.id):
        stdout.print(escape(f"{issuer.id}: {issuer.name_en} / {issuer.name_uk}"))
        stdout.print(escape(f"  kinds: {', '.join(sorted(issuer.kinds))}"))
        stdout.print(escape(f"  jurisdiction: {', '.join(issuer.jurisdiction)}"))
        stdout.print(escape(f"  senders: {issuer.sender_rule()}"))
        for key in issuer.keys:
            window = f"from {format_time(key.not_before)}"
            if key.expires is not None:
                window += f" until {format_time(key.expires)}"
            if key.revoked_at is not None:
                window += f", REVOKED at {format_time(key.revoked_at)}"
            stdout.print(escape(f"  key {key.key_id:08x} {window}"))
