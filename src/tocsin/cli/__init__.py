"""The ``tocsin`` command line: one module per command, registered on one group."""

from __future__ import annotations

import click

from tocsin import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tocsin")
def main() -> None:
    """Tocsin: signed public warnings, a transparency log, live delivery by region."""


# Each command module registers itself on ``main`` when imported.
# A new command module adds its name to this list.
from tocsin.cli import (  # noqa: E402,F401
    cap_cmd,
    check_cmd,
    follow_cmd,
    issue_cmd,
    keys_cmd,
    monitor_cmd,
    org_cmd,
    regions_cmd,
    registry_cmd,
    serve_cmd,
    sign_cmd,
    store_cmd,
    verify_cmd,
    witness_cmd,
)
