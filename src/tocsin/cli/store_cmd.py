"""``tocsin store check DATA_DIR``: does the store agree with itself, its log and its key?

Read-only (the database is opened immutable or read-only), so it is safe on
a running hub's directory and on a copy taken for diagnosis. Exit 0 when
everything agrees, 1 with the list of problems otherwise, 2 when there is
nothing to check (no directory, no database, an unreadable key).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import EXIT_INVALID, fail, stdout


@main.group()
def store() -> None:
    """Inspect a hub's data directory."""


@store.command("check")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--origin", default=None,
              help="The log's origin (default: the name of DATA_DIR/log.key or log.pub).")
@click.option("--adopt", is_flag=True,
              help="Once, for a data directory from before log.checkpoint existed: when every "
                   "other check agrees, write log.checkpoint from the store's last checkpoint.")
def check(data_dir: Path, origin: str | None, adopt: bool) -> None:
    """SQLite integrity, every leaf rehashed against the tree, every checkpoint against the store."""
    from tocsin.store.integrity import StartupRefused, adopt_checkpoint_file, check_store

    if not data_dir.is_dir():
        fail(escape(f"{data_dir}: no such data directory"))
    try:
        report = check_store(data_dir, origin)
    except StartupRefused as exc:
        fail(escape(str(exc)))
    for fact in report.facts:
        stdout.print(escape(f"ok: {fact}"))
    for problem in report.problems:
        stdout.print(escape(f"PROBLEM: {problem}"))
    missing_file_only = adopt and all("log.checkpoint" in p and "missing" in p for p in report.problems)
    if not report.ok and not missing_file_only:
        stdout.print(escape(f"{len(report.problems)} problem(s): keep a copy of {data_dir}, restore the "
                            "store from a backup, and run this check again before serving it"))
        raise click.exceptions.Exit(EXIT_INVALID)
    stdout.print("the store, its log and the last signed checkpoint agree")
    if adopt:
        try:
            written = adopt_checkpoint_file(data_dir, origin)
        except StartupRefused as exc:
            fail(escape(str(exc)))
        stdout.print(escape(f"adopted: {written}"))
