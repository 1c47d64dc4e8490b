"""``tocsin check``: is this warning real? ``tocsin deny``: publish a signed denial of a fake.

``tocsin check`` sends the text (or ``-`` for standard input) to a hub's
``POST /api/v1/check`` and prints the verdict in plain words with its
evidence. Exit codes, so scripts can act on the verdict:

====  ==============================================================
0     authentic (every claim is backed by one logged, verified alert)
14    outdated (a real alert, but over: all-clear, cancelled, expired)
10    altered (close to a real alert, a claim is changed or added)
11    not-issued (names an issuer that published nothing like it)
12    denied (the issuer published a signed denial of it)
13    unverifiable (names no known issuer, matches no logged alert)
2     the input or the hub could not be used
====  ==============================================================
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import httpx

from tocsin.cli import main
from tocsin.cli.common import fail, read_input_file, stdout

EXIT_BY_VERDICT = {"authentic": 0, "altered": 10, "not-issued": 11, "denied": 12,
                   "unverifiable": 13, "outdated": 14}
MAX_STDIN_BYTES = 256 * 1024
_STYLE = {"authentic": "bold green", "outdated": "bold dark_orange", "altered": "bold yellow",
          "not-issued": "bold red", "denied": "bold red", "unverifiable": "bold blue"}


def _read_text(text: str) -> str:
    if text != "-":
        return text
    data = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(data) > MAX_STDIN_BYTES:
        fail(f"standard input is larger than {MAX_STDIN_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        fail("standard input is not UTF-8 text")


def _print_result(body: dict[str, Any], hub: str) -> None:
    verdict = str(body.get("verdict"))
    stdout.print(f"[{_STYLE.get(verdict, 'bold')}]{verdict}[/]", markup=True)
    summary = body.get("summary", {})
    stdout.print(summary.get("uk", ""), markup=False)
    stdout.print(summary.get("en", ""), markup=False)
    alert = body.get("alert") or body.get("denial")
    if alert:
        log = alert.get("log", {})
        stdout.print(f"alert: {hub}{alert['links']['self']}  (log index {log.get('index')}, "
                     f"checkpoint size {log.get('checkpoint_size')}, signature "
                     f"{alert['signature']['status']})", markup=False)
        stdout.print(f"proof: {hub}{alert['links']['proof']}", markup=False)
    over = body.get("over")
    if over:
        stdout.print(f"  over: {over['how']}" + (f" at {over['at']}" if over.get("at") else "")
                     + (f" by {hub}{over['by_url']}" if over.get("by_url") else ""),
                     markup=False)
    for diff in body.get("differences", []):
        stdout.print(f"  {diff['fact_en']}: message says {diff['message']!r}, "
                     f"the alert says {diff['alert']!r}", markup=False)
    for part in body.get("omitted", []):
        stdout.print(f"  left out of the alert: {part!r}", markup=False)
    for item in body.get("issuer_recent", []) + body.get("current_alerts", []):
        where = ", ".join(w["name_en"] for w in item.get("where", []))
        stdout.print(f"  log: {item['sent']} {item['issuer']} {', '.join(item['kinds'])} "
                     f"{hub}{item['url']}" + (f" ({where})" if where else ""), markup=False)
    for note in body.get("notes", []):
        stdout.print(f"  note: {note}", markup=False)


@main.command("check")
@click.argument("text")
@click.option("--hub", "hub_url", default="http://127.0.0.1:8000", show_default=True,
              help="The hub whose log to check against.")
@click.option("--json", "as_json", is_flag=True, help="Print the hub's JSON answer.")
def check(text: str, hub_url: str, as_json: bool) -> None:
    """Is this warning real? Check TEXT (or - for standard input) against a hub's log.

    TEXT may be a post, a forwarded alert, a CAP document, a proof bundle,
    an alert id or a link to one. Exit code by verdict: 0 authentic,
    14 outdated, 10 altered, 11 not-issued, 12 denied, 13 unverifiable,
    2 unusable.
    """
    message = _read_text(text)
    hub = hub_url.rstrip("/")
    try:
        response = httpx.post(f"{hub}/api/v1/check", json={"text": message}, timeout=30)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {hub}: {exc}")
    try:
        body = response.json()
    except ValueError:
        fail(f"the hub answered {response.status_code} with no JSON")
    if response.status_code != 200:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        fail(f"{error.get('code', response.status_code)}: "
             f"{error.get('detail') or error.get('message')}")
    if as_json:
        import json

        click.echo(json.dumps(body, ensure_ascii=False, indent=2))
    else:
        _print_result(body, hub)
    raise click.exceptions.Exit(EXIT_BY_VERDICT.get(str(body.get("verdict")), 2))


@main.command("deny")
@click.argument("text")
@click.option("--hub", "hub_url", default="http://127.0.0.1:8000", show_default=True)
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The issuer's signing key (a note signer key file).")
@click.option("--as", "issuer_id", required=True, help="The issuer id in the registry.")
@click.option("--area", "areas", multiple=True,
              help="Region code the denial is addressed to (repeatable; default: none — a "
                   "denial is about a message, not a place, and colours no region).")
def deny(text: str, hub_url: str, key_file: Path, issuer_id: str, areas: tuple[str, ...]) -> None:
    """Publish a signed denial of the fake message TEXT (or - for standard input).

    The denial is an alert of kind ``denial`` carrying the message's
    normal-form SHA-256 and its text; once logged, ``tocsin check`` answers
    ``denied`` for the message and close reposts of it.
    """
    from tocsin.check.denial import compose_denial
    from tocsin.check.normalise import normal_sha256
    from tocsin.client import HubClient, HubError
    from tocsin.compose import ComposeError
    from tocsin.trust.note import NoteError, Signer

    message = _read_text(text)
    try:
        signer = Signer.from_skey(read_input_file(str(key_file)).decode("utf-8").strip())
    except (NoteError, UnicodeDecodeError) as exc:
        fail(f"{key_file}: not a signing key ({exc})")
    if signer.name != issuer_id:
        fail(f"{key_file} is a key of {signer.name!r}, not of {issuer_id!r}")
    try:
        alert = compose_denial(issuer_id=issuer_id, denied_text=message, areas=areas)
    except ComposeError as exc:
        fail(str(exc))
    try:
        with HubClient(hub_url) as client:
            body = client.issue(alert, signer)
    except HubError as exc:
        fail(f"the hub refused the denial: {exc.code}: {exc.detail}")
    except httpx.HTTPError as exc:
        fail(f"cannot reach the hub at {hub_url}: {exc}")
    stdout.print(f"denial {body['id']} logged; it denies the message with normal-form "
                 f"SHA-256 {normal_sha256(message)}", markup=False)
