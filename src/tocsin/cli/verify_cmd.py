"""``tocsin verify``: the offline verdict on one alert. Exit codes are the verdict.

0 authentic, 3 altered, 4 forged, 5 unauthorised, 2 unusable input.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, read_input_file, stderr, stdout
from tocsin.regions import default_region_set
from tocsin.trust.keyfiles import KeyFileError, read_verifier
from tocsin.trust.registry import RegistryError, load_registry, parse_time
from tocsin.trust.verify import VerifyInputError, verify_alert

EXIT_BY_STATUS = {"authentic": 0, "altered": 3, "forged": 4, "unauthorised": 5}
STYLE_BY_STATUS = {"authentic": "bold green", "altered": "bold red", "forged": "bold red",
                   "unauthorised": "bold yellow"}


@main.command("verify")
@click.argument("cap_file", type=click.Path(path_type=Path))
@click.option("--sig", "sig_file", type=click.Path(path_type=Path), default=None,
              help="The signed statement (default: CAP_FILE.sig).")
@click.option("--registry", "registry_file", required=True, type=click.Path(path_type=Path),
              help="The signed issuer registry (JSON).")
@click.option("--root", "root_file", type=click.Path(path_type=Path), default=None,
              help="Pin the registry root public key (.pub); strongly recommended.")
@click.option("--at", "at_text", default=None,
              help="When the alert was first seen (RFC 3339); refuses keys revoked by then.")
def verify(cap_file: Path, sig_file: Path | None, registry_file: Path, root_file: Path | None,
           at_text: str | None) -> None:
    """Verify CAP_FILE against its signed statement and the issuer registry."""
    cap_bytes = read_input_file(str(cap_file))
    sig_path = sig_file or cap_file.with_name(cap_file.name + ".sig")
    statement = read_input_file(str(sig_path), limit=64 * 1024)
    registry_bytes = read_input_file(str(registry_file))
    try:
        at: datetime | None = parse_time(at_text, "--at") if at_text is not None else None
    except RegistryError as exc:
        fail(escape(str(exc)))
    try:
        root = read_verifier(root_file) if root_file is not None else None
    except KeyFileError as exc:
        fail(escape(str(exc)))
    try:
        registry = load_registry(registry_bytes, root=root)
    except RegistryError as exc:
        fail(escape(f"{registry_file}: {exc}"))
    if root is None:
        stderr.print("warning: registry root key not pinned (--root); the registry's "
                     "integrity was checked, not who signed it")
    try:
        verdict = verify_alert(cap_bytes, statement, registry, regions=default_region_set(),
                               at=at)
    except VerifyInputError as exc:
        fail(escape(f"{sig_path}: {exc}"))
    style = STYLE_BY_STATUS[verdict.status]
    stdout.print(f"[{style}]{verdict.status}[/]: {escape(verdict.reason)}", markup=True)
    raise click.exceptions.Exit(EXIT_BY_STATUS[verdict.status])
