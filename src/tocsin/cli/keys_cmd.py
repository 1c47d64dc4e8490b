"""``tocsin keys generate``: make an issuer's (or the registry root's) Ed25519 key pair."""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stdout
from tocsin.trust.keyfiles import KeyFileError, write_key_pair
from tocsin.trust.note import Signer
from tocsin.trust.registry import ISSUER_ID


@main.group("keys")
def keys() -> None:
    """Manage signing keys (C2SP signed-note Ed25519 keys)."""


@keys.command("generate")
@click.option("--issuer", "issuer_id", required=True,
              help="Issuer id, used as the key name (e.g. ua.kova).")
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory for <issuer>.key (mode 0600) and <issuer>.pub.")
def generate(issuer_id: str, out_dir: Path) -> None:
    """Generate a key pair; the private key file is created with mode 0600."""
    if not ISSUER_ID.fullmatch(issuer_id):
        fail(escape(f"issuer id {issuer_id!r} must match {ISSUER_ID.pattern} "
                    "(lowercase letters, digits, '.', '_', '/', '-')"))
    signer = Signer.generate(issuer_id)
    try:
        private, public = write_key_pair(signer, out_dir)
    except KeyFileError as exc:
        fail(escape(str(exc)))
    stdout.print(f"private key: {private} (keep it secret)")
    stdout.print(f"public key:  {public}")
    stdout.print(f"verifier key: {signer.verifier().vkey}")
