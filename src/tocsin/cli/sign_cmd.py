"""``tocsin sign``: sign the exact bytes of a CAP file with an issuer key."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cap.errors import CapError
from tocsin.cap.parse import parse_alert
from tocsin.cli import main
from tocsin.cli.common import EXIT_INVALID, fail, read_input_file, stdout
from tocsin.trust.keyfiles import KeyFileError, read_signer
from tocsin.trust.statement import Statement, StatementError


@main.command("sign")
@click.option("--key", "key_file", required=True, type=click.Path(path_type=Path),
              help="The issuer's private key file (PRIVATE+KEY+...).")
@click.option("--out", "out_file", type=click.Path(path_type=Path), default=None,
              help="Where to write the signed statement (default: CAP_FILE.sig).")
@click.argument("cap_file", type=click.Path(path_type=Path))
def sign(key_file: Path, out_file: Path | None, cap_file: Path) -> None:
    """Write a signed issuer statement for CAP_FILE (the file itself is never changed)."""
    cap_bytes = read_input_file(str(cap_file))
    try:
        signer = read_signer(key_file)
    except KeyFileError as exc:
        fail(escape(str(exc)))
    try:
        alert = parse_alert(cap_bytes, strict=False).alert
    except CapError as exc:
        fail(escape(f"{cap_file}: not a valid CAP alert: {exc}"), EXIT_INVALID)
    try:
        statement = Statement.for_cap(
            cap_bytes, issuer=signer.name, key_id=signer.key_id,
            identifier=alert.identifier, sender=alert.sender, sent=alert.sent,
        )
    except StatementError as exc:
        fail(escape(f"{cap_file}: cannot state this alert: {exc}"), EXIT_INVALID)
    target = out_file or cap_file.with_name(cap_file.name + ".sig")
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_bytes(statement.sign(signer))
        os.replace(tmp, target)
    except OSError as exc:
        fail(escape(f"{target}: cannot write ({exc.strerror})"))
    stdout.print(f"signed {cap_file} as {signer.name}+{signer.key_id:08x} -> {target}")
