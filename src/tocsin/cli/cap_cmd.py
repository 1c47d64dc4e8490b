"""``tocsin cap``: check CAP documents and convert them between XML and JSON.

``validate`` prints one line per problem (``FILE: line N: /alert/...: what was
expected``) and exits 0 only if every file is valid CAP 1.2 or 1.1; ``convert``
writes the other format to stdout. Neither ever shows a traceback.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import click
from rich.console import Console

from tocsin.cap import CapError, ParseLimits, Problem, from_json, parse_alert, to_json, to_xml
from tocsin.cap.model import Alert
from tocsin.cli import main
from tocsin.cli.common import EXIT_INVALID, EXIT_OK, fail, read_input_file, stderr, stdout
from tocsin.compose import AlertFacts, ComposeError, compose_alert
from tocsin.kinds import KINDS

_DEFAULT = ParseLimits()
_READ_LIMIT = 16 << 20  # bytes; beyond this a file is not read at all


@main.group("cap")
def cap() -> None:
    """Validate CAP 1.2/1.1 alerts and convert them between XML and JSON."""


def _limits(max_bytes: int, max_depth: int) -> ParseLimits:
    try:
        return ParseLimits(max_bytes=max_bytes, max_depth=max_depth)
    except ValueError as exc:
        fail(str(exc))


def _line(path: str, problem: Problem) -> str:
    return f"{path}: {problem}"


def _say(console: Console, text: str) -> None:
    """Print literally: alert text must not become rich markup or emoji."""
    console.print(text, markup=False, emoji=False)


def _read(path: str, limits: ParseLimits) -> bytes:
    """Read up to 16 MiB, so an oversized file is reported by the parser, per file."""
    return read_input_file(path, limit=max(_READ_LIMIT, limits.max_bytes + 1))


_limit_options = [
    click.option("--max-bytes", type=int, default=_DEFAULT.max_bytes, show_default=True,
                 help="Refuse documents larger than this many bytes."),
    click.option("--max-depth", type=int, default=_DEFAULT.max_depth, show_default=True,
                 help="Refuse documents nested deeper than this."),
]


def _with_limits(func: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_limit_options):
        func = option(func)
    return func


@cap.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--strict", is_flag=True,
              help="Apply the rules for alerts Tocsin issues (default: lenient, for feeds).")
@click.option("-q", "--quiet", is_flag=True, help="Print problems only, not valid files.")
@_with_limits
def validate(files: tuple[str, ...], strict: bool, quiet: bool, max_bytes: int,
             max_depth: int) -> None:
    """Check each FILE is valid CAP; exit 0 if all are, 1 otherwise."""
    limits = _limits(max_bytes, max_depth)
    invalid = 0
    for path in files:
        data = _read(path, limits)
        try:
            parsed = parse_alert(data, strict=strict, limits=limits)
        except CapError as exc:
            invalid += 1
            for problem in exc.problems:
                _say(stdout, _line(path, problem))
            continue
        for warning in parsed.warnings:
            _say(stdout, _line(path, warning))
        if not quiet:
            mode = "strict" if strict else "lenient"
            _say(stdout, f"{path}: valid CAP {parsed.version} ({mode})")
    if invalid:
        _say(stderr, f"{invalid} of {len(files)} file(s) invalid")
    raise click.exceptions.Exit(EXIT_INVALID if invalid else EXIT_OK)


def _read_any(path: str, data: bytes, strict: bool, limits: ParseLimits) -> Alert:
    """XML or JSON, told apart by the first non-blank byte."""
    try:
        if data.lstrip()[:1] == b"{":
            return from_json(data, strict=strict, limits=limits)
        parsed = parse_alert(data, strict=strict, limits=limits)
    except CapError as exc:
        for problem in exc.problems:
            _say(stderr, f"error: {_line(path, problem)}")
        raise click.exceptions.Exit(EXIT_INVALID) from None
    for warning in parsed.warnings:
        _say(stderr, _line(path, warning))
    return parsed.alert


@cap.command("convert")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--to", "target", type=click.Choice(["json", "xml"]), required=True,
              help="The format to write to stdout.")
@click.option("--strict", is_flag=True, help="Apply the rules for alerts Tocsin issues.")
@_with_limits
def convert(file: str, target: str, strict: bool, max_bytes: int, max_depth: int) -> None:
    """Convert FILE (CAP XML 1.2/1.1 or CAP JSON) to CAP 1.2 XML or JSON on stdout."""
    limits = _limits(max_bytes, max_depth)
    alert = _read_any(file, _read(file, limits), strict, limits)
    try:
        output = to_json(alert) + b"\n" if target == "json" else to_xml(alert)
    except CapError as exc:
        fail(f"{file}: {exc}", EXIT_INVALID)
    click.echo(output, nl=False)


@cap.command("new")
@click.option("--issuer", required=True, help="Issuer id (also the default sender).")
@click.option("--kind", type=click.Choice(sorted(KINDS)), default="air-raid", show_default=True)
@click.option("--area", "areas", multiple=True, required=True,
              help="Region code (KATOTTG or ISO 3166-2); repeat for several.")
@click.option("--event", help="Event text (default: the kind's name).")
@click.option("--instruction", help="What people should do.")
@click.option("--language", default="uk-UA", show_default=True)
@click.option("--expires-in", type=click.IntRange(1, 7 * 24 * 60), default=360, show_default=True,
              help="Minutes until the alert ends by itself.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout.")
def new(issuer: str, kind: str, areas: tuple[str, ...], event: str | None,
        instruction: str | None, language: str, expires_in: int, out_file: Path | None) -> None:
    """Write a new CAP 1.2 alert from a few facts (no XML by hand)."""
    try:
        alert = compose_alert(AlertFacts(
            issuer_id=issuer, kind=kind, areas=list(areas), event=event, instruction=instruction,
            language=language,
            expires_in=None if kind == "all-clear" else timedelta(minutes=expires_in),
        ))
        data = to_xml(alert)
        parse_alert(data, strict=True)
    except (ComposeError, CapError) as exc:
        fail(str(exc))
    if out_file is None:
        sys.stdout.buffer.write(data)
    else:
        out_file.write_bytes(data)
