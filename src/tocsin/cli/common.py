"""Helpers every command shares: one way to report errors and exit.

Commands never let a traceback reach the user: they catch the library's own
errors and call :func:`fail` with a precise message and a documented exit code.
"""

from __future__ import annotations

from typing import NoReturn

import click
from rich.console import Console

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
