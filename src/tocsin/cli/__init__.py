"""The ``tocsin`` command line: one module per command, registered on one group."""

from __future__ import annotations

import click

from tocsin import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tocsin")
def main() -> None:
    """Tocsin: signed public warnings, a transparency log, live delivery by region."""


# Each command module registers itself on ``main`` when imported.
# Keep one import per line (helpers add theirs here).
from tocsin.cli import serve_cmd  # noqa: E402,F401
from tocsin.cli import issue_cmd  # noqa: E402,F401
from tocsin.cli import keys_cmd, registry_cmd, sign_cmd, verify_cmd  # noqa: E402,F401
from tocsin.cli import cap_cmd  # noqa: E402,F401
