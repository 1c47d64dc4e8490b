"""``tocsin witness``: run a C2SP tlog-witness for one or more logs.

The witness key lives in ``DATA_DIR/witness.key`` (created on first run, mode
0600) and its public vkey in ``DATA_DIR/witness.vkey``; give that vkey to the
hub's witness policy. State (what was cosigned per log) is
``DATA_DIR/witness.sqlite``. Exit codes: 0 stopped cleanly, 2 unusable
arguments or files.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stderr
from tocsin.services.witness import Witness
from tocsin.services.witness_http import witness_app
from tocsin.tlog.checkpoint import CosignatureError, Cosigner
from tocsin.trust.note import KeyFormatError, Verifier, Verifiers


def _load_or_create_key(data_dir: Path, name: str) -> Cosigner:
    """Read the witness key, or create it (0600, never overwritten) on first run."""
    key_path, vkey_path = data_dir / "witness.key", data_dir / "witness.vkey"
    if key_path.exists():
        try:
            cosigner = Cosigner.from_skey(key_path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, CosignatureError) as exc:
            fail(escape(f"{key_path}: not a usable witness key ({exc})"))
        if cosigner.name != name:
            fail(escape(f"{key_path} holds the key of witness {cosigner.name!r}, not {name!r}"))
        return cosigner
    try:
        cosigner = Cosigner.generate(name)
    except CosignatureError as exc:
        fail(escape(f"--name: {exc}"))
    try:
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(cosigner.skey + "\n")
        vkey_path.write_text(cosigner.verifier().vkey + "\n", encoding="ascii")
    except OSError as exc:
        fail(escape(f"{data_dir}: cannot write the witness key ({exc.strerror})"))
    return cosigner


@main.command("witness")
@click.option("--data-dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the witness key and state (created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=7380, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--name", default="witness.tocsin.local", show_default=True,
              help="The witness key name (a schema-less URL) used in its cosignatures.")
@click.option("--log-vkey", "log_vkeys", multiple=True, required=True,
              help="A log key to trust (vkey, type 0x01); repeat for several logs.")
@click.option("--origin", "origins", multiple=True,
              help="Origin of the log whose --log-vkey is at the same position (default: the key's name).")
def witness(data_dir: Path, host: str, port: int, name: str, log_vkeys: tuple[str, ...],
            origins: tuple[str, ...]) -> None:
    """Cosign checkpoints of the given logs that extend what this witness cosigned before."""
    if origins and len(origins) != len(log_vkeys):
        fail("give one --origin per --log-vkey, in the same order (or none)")
    logs: dict[str, list[Verifier]] = {}
    for position, vkey in enumerate(log_vkeys):
        try:
            verifier = Verifier.from_vkey(vkey)
        except KeyFormatError as exc:
            fail(escape(f"--log-vkey {vkey[:60]!r}: {exc}"))
        logs.setdefault(origins[position] if origins else verifier.name, []).append(verifier)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(escape(f"{data_dir}: cannot create ({exc.strerror})"))
    cosigner = _load_or_create_key(data_dir, name)
    try:
        core = Witness(cosigner, {o: Verifiers(v) for o, v in logs.items()}, data_dir / "witness.sqlite")
    except Exception as exc:  # sqlite3 errors: unreadable or corrupt state
        fail(escape(f"{data_dir / 'witness.sqlite'}: cannot open the witness state ({exc})"))
    import uvicorn

    stderr.print(f"witness {escape(cosigner.verifier().vkey)}")
    for origin in logs:
        stderr.print(f"  log {escape(origin)}")
    try:
        uvicorn.run(witness_app(core), host=host, port=port, log_level="info", lifespan="off")
    finally:
        core.close()
