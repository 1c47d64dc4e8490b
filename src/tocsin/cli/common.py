"""Helpers every command shares: one way to report errors and exit.

Commands never let a traceback reach the user: they catch the library's own
errors and call :func:`fail` with a precise message and a documented exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click
from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from tocsin.regions import RegionSet
    from tocsin.tlog.proof import WitnessPolicy
    from tocsin.trust.note import Verifier

# Exit codes used across commands (``tocsin verify`` documents the verdict codes).
EXIT_OK = 0
EXIT_INVALID = 1  # the input was read but is not valid (e.g. `cap validate`)
EXIT_UNUSABLE = 2  # the input could not be used at all (missing, unreadable, malformed)

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = EXIT_UNUSABLE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True)
    raise click.exceptions.Exit(code)


def read_input_file(path: str, *, limit: int = 16 * 1024 * 1024) -> bytes:
    """Read a file for a command, refusing what is missing, a directory or too big."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        fail(f"{path}: no such file")
    except IsADirectoryError:
        fail(f"{path}: is a directory, expected a file")
    except PermissionError:
        fail(f"{path}: permission denied")
    except OSError as exc:
        fail(f"{path}: cannot read ({exc.strerror})")
    if len(data) > limit:
        fail(f"{path}: larger than {limit} bytes")
    return data


def read_log_key(value: str) -> Verifier:
    """A log's verifier key: a vkey given inline, or a file holding one (``.pub``)."""
    from tocsin.trust.keyfiles import KeyFileError, read_verifier
    from tocsin.trust.note import NoteError, Verifier

    path = Path(value)
    try:
        return read_verifier(path) if path.is_file() else Verifier.from_vkey(value)
    except (KeyFileError, NoteError) as exc:
        fail(escape(f"--log-key {value}: not a vkey or a key file ({exc})"))


def read_policy(path: Path) -> WitnessPolicy:
    """A witness policy file (``log``, ``witness`` and ``quorum`` lines)."""
    from tocsin.tlog.proof import PolicyError, parse_policy

    try:
        return parse_policy(read_input_file(str(path)).decode("utf-8"))
    except (PolicyError, UnicodeDecodeError) as exc:
        fail(escape(f"{path}: {exc}"))


regions_option = click.option(
    "--regions", "regions_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
    envvar="TOCSIN_REGIONS", show_envvar=True,
    help="Region data directory (units.csv, units.geojson); default: Ukraine, shipped. "
         "Offline checks must use the hub's region data.")


def load_regions(directory: Path | None) -> RegionSet:
    """The region set for ``--regions`` / ``TOCSIN_REGIONS``, or a clear error (exit 2)."""
    from tocsin.regions import RegionDataError, region_set_for

    try:
        regions = region_set_for(directory)
        regions.require  # noqa: B018 - codes are loaded eagerly; geometry on first use
    except RegionDataError as exc:
        fail(f"region data {directory}: {exc}")
    return regions
