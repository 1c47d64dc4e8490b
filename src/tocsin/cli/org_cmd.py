"""``tocsin org create NAME --admin-email EMAIL``: a new organisation and its owner's enrolment link.

The link is printed once and never stored (only its SHA-256 is): whoever opens it first
registers a passkey as the organisation's owner, within seven days. docs/organisations.md.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stdout


@main.group()
def org() -> None:
    """Organisations: their own people, messages and check-ins (docs/organisations.md)."""


@org.command("create")
@click.argument("name")
@click.option("--admin-email", required=True, help="The owner's email (the admin who enrols first).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The hub's data directory (default: the data_dir setting).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="A TOML settings file (as for tocsin serve).")
@click.option("--public-url", default=None, help="The hub's public URL, for the link.")
def create(name: str, admin_email: str, data_dir: Path | None, config_file: Path | None,
           public_url: str | None) -> None:
    """Create organisation NAME and print its owner's one-time enrolment link."""
    from tocsin.config import SettingsError, load_settings
    from tocsin.org.signing import new_signer
    from tocsin.org.store import FILE_NAME, OrgStore

    try:
        settings = load_settings({"data_dir": data_dir, "public_url": public_url}, config_file=config_file)
    except SettingsError as exc:
        fail(escape(str(exc)))
    name = " ".join(name.split())
    email = admin_email.strip()
    if not name or len(name) > 200:
        fail("the organisation needs a name of 1 to 200 characters")
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        fail(escape(f"{admin_email!r} is not an email address"))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = OrgStore(settings.data_dir / FILE_NAME)
    try:
        created, _admin, token = store.create_org(name, new_signer, email)
    finally:
        store.close()
    stdout.print(escape(f"organisation {created.id} ({created.name}) created"))
    stdout.print(escape(f"key {created.public_vkey}"))
    stdout.print(escape(f"enrolment link for {email} (owner; shown once, valid 7 days):"))
    click.echo(f"{settings.base_url}/org/enrol/{token}")
