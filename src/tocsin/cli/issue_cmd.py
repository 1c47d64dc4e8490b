"""``tocsin issue``: build, sign and submit an alert to a hub."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click
import httpx

from tocsin.cli import main
from tocsin.cli.common import fail, read_input_file, stdout
from tocsin.compose import AlertFacts, ComposeError, compose_alert, compose_cancel
from tocsin.kinds import KINDS


def _load_signer(path: Path, issuer: str):  # type: ignore[no-untyped-def]
    from tocsin.trust.note import NoteError, Signer

    text = read_input_file(str(path), limit=4096).decode("utf-8", "replace").strip()
    try:
        signer = Signer.from_skey(text)
    except NoteError as exc:
        fail(f"{path}: not a Tocsin private key ({exc})")
    if signer.name != issuer:
        fail(f"{path} is the key of {signer.name!r}, not of --as {issuer!r}")
    return signer


def _submit(hub: str, cap: bytes, statement: bytes) -> dict[str, object]:
    from tocsin.client import HubClient, HubError

    try:
        with HubClient(hub) as client:
            return client.issue_bytes(cap, statement)
    except HubError as exc:
        fail(f"the hub refused the alert ({exc.status} {exc.code}): {exc.detail}", code=1)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {hub}: {exc}")


@main.command("issue")
@click.option("--hub", required=True, help="Hub URL, e.g. http://127.0.0.1:8000")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The issuer's private key file.")
@click.option("--as", "issuer", required=True, help="Issuer id (must match the key).")
@click.option("--event", help="Event text shown to people (default: the kind's name).")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default=None,
              help="Warning kind (default air-raid; all-clear with --all-clear).")
@click.option("--area", "areas", multiple=True, help="Region code (KATOTTG or ISO 3166-2); repeat.")
@click.option("--instruction", help="What people should do.")
@click.option("--headline", help="A short headline.")
@click.option("--description", help="Longer description.")
@click.option("--language", default="uk-UA", show_default=True)
@click.option("--expires-in", type=click.IntRange(1, 7 * 24 * 60), default=360, show_default=True,
              help="Minutes until the alert ends by itself.")
@click.option("--severity", type=click.Choice(["Extreme", "Severe", "Moderate", "Minor", "Unknown"]))
@click.option("--certainty",
              type=click.Choice(["Observed", "Likely", "Possible", "Unlikely", "Unknown"]))
@click.option("--status", type=click.Choice(["Actual", "Exercise", "Test"]), default="Actual",
              show_default=True)
@click.option("--all-clear", is_flag=True, help="End the threat for the given areas.")
@click.option("--cancel", "cancel_id", help="Withdraw the alert with this hub id.")
@click.option("--file", "cap_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Sign and submit this CAP file as it is.")
def issue(hub: str, key_file: Path, issuer: str, event: str | None, kind: str | None,
          areas: tuple[str, ...], instruction: str | None, headline: str | None,
          description: str | None, language: str, expires_in: int, severity: str | None,
          certainty: str | None, status: str, all_clear: bool, cancel_id: str | None,
          cap_file: Path | None) -> None:
    """Build, sign and submit an alert; print its id."""
    from tocsin.cap import CapError, parse_alert, to_xml
    from tocsin.cap.model import Reference
    from tocsin.trust.statement import Statement, StatementError

    signer = _load_signer(key_file, issuer)
    try:
        if cap_file is not None:
            cap = read_input_file(str(cap_file))
        elif cancel_id is not None:
            try:
                got = httpx.get(f"{hub.rstrip('/')}/api/v1/alerts/{cancel_id}", timeout=30.0)
            except httpx.HTTPError as exc:
                fail(f"cannot reach the hub at {hub}: {exc}")
            if got.status_code != 200:
                fail(f"the hub has no alert {cancel_id} ({got.status_code})", code=1)
            original = got.json()
            cap = to_xml(compose_cancel(
                issuer_id=issuer, sender=original["sender"],
                original=Reference(sender=original["sender"], identifier=original["identifier"],
                                   sent=original["sent"]),
            ))
        else:
            if not areas:
                fail("name at least one --area (a region code)")
            chosen = "all-clear" if all_clear else (kind or "air-raid")
            cap = to_xml(compose_alert(AlertFacts(
                issuer_id=issuer, kind=chosen, areas=list(areas), event=event,
                headline=headline, description=description, instruction=instruction,
                language=language, status=status, severity=severity, certainty=certainty,
                expires_in=None if chosen == "all-clear" else timedelta(minutes=expires_in),
            )))
        alert = parse_alert(cap, strict=False).alert
    except (ComposeError, CapError) as exc:
        fail(str(exc))
    try:
        statement = Statement.for_cap(cap, issuer=issuer, key_id=signer.key_id,
                                      identifier=alert.identifier, sender=alert.sender,
                                      sent=alert.sent).sign(signer)
    except StatementError as exc:  # e.g. a <sender> with spaces around it cannot be signed for
        fail(f"cannot sign this alert: {exc}")
    body = _submit(hub, cap, statement)
    stdout.print(str(body["id"]))
