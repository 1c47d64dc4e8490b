"""``tocsin regions``: look up Ukraine's regions by point, code or name; target CAP areas.

Every command prints one region per line as tab-separated fields
(``CODE  LEVEL  NAME_UK_FULL  NAME_EN``, plus coverage for ``target``) so the
output pipes into ``cut`` and ``grep`` (written with ``click.echo``: rich would
expand the tabs); ``--json`` gives the same as JSON.
Bad input exits 2 with ``error: ...``; a well-formed query that finds nothing
(a point outside Ukraine, an unknown name) exits 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import click

from tocsin.cli import main
from tocsin.cli.common import EXIT_INVALID, fail, load_regions, read_input_file, regions_option
from tocsin.regions import (
    AreaError,
    CoordinateError,
    OutsideRegionsError,
    Region,
    RegionSet,
)


@main.group("regions")
@regions_option
@click.pass_context
def regions(ctx: click.Context, regions_dir: Path | None) -> None:
    """Ukraine's oblasts, raions and hromadas (KATOTTG): lookup and CAP area targeting.

    Codes may be KATOTTG (UA80000000000093317), ISO 3166-2 (UA-30) or
    alerts.in.ua oblast UIDs (alerts.in.ua:31 or 31). With --regions DIR, another
    country's region data instead (docs/regions.md).
    """
    ctx.obj = regions_dir


def _region_set() -> RegionSet:
    """The region set the group's ``--regions`` chose (Ukraine by default)."""
    parent = click.get_current_context().parent
    directory = parent.obj if parent is not None and isinstance(parent.obj, Path) else None
    return load_regions(directory)


def _row(region: Region, *extra: str) -> str:
    return "\t".join((region.code, region.level, region.name_uk_full, region.name_en, *extra))


def _as_dict(region: Region) -> dict[str, object]:
    return {
        "code": region.code,
        "level": region.level,
        "name_uk": region.name_uk,
        "name_uk_full": region.name_uk_full,
        "name_en": region.name_en,
        "parent": region.parent,
        "oblast": region.oblast,
        "iso_3166_2": region.iso_3166_2,
        "alerts_in_ua_uid": region.alerts_in_ua_uid,
    }


def _print(found: Iterable[Region], as_json: bool) -> None:
    items = list(found)
    if as_json:
        click.echo(json.dumps([_as_dict(r) for r in items], ensure_ascii=False))
        return
    for region in items:
        click.echo(_row(region))


def _require(rs: RegionSet, code: str) -> Region:
    region = rs.get(code)
    if region is None:
        fail(
            f"unknown region code {code!r} (expected KATOTTG such as UA80000000000093317, "
            "ISO 3166-2 such as UA-30, or alerts.in.ua:31)"
        )
    return region


_json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON instead.")


@regions.command("locate")
@click.argument("lat", type=float)
@click.argument("lon", type=float)
@_json_option
def locate(lat: float, lon: float, as_json: bool) -> None:
    """Print the hromada, raion and oblast containing LAT LON (hromada first).

    A point on a border or in an overlap prints the units of both sides.
    Kyiv, Sevastopol and Crimea have no finer geometry and print one line.
    """
    rs = _region_set()
    try:
        found = rs.locate_strict(lat, lon)
    except CoordinateError as exc:
        fail(str(exc))
    except OutsideRegionsError as exc:
        fail(str(exc), EXIT_INVALID)
    _print(found, as_json)


@regions.command("show")
@click.argument("code")
@_json_option
def show(code: str, as_json: bool) -> None:
    """Print the region CODE and the regions above it, nearest first."""
    rs = _region_set()
    region = _require(rs, code)
    _print([region, *rs.ancestors(region.code)], as_json)


@regions.command("children")
@click.argument("code")
@_json_option
def children(code: str, as_json: bool) -> None:
    """Print the regions directly below CODE."""
    rs = _region_set()
    _print(rs.children(_require(rs, code).code), as_json)


@regions.command("find")
@click.argument("words", nargs=-1, required=True)
@click.option("--lang", type=click.Choice(["uk", "en"]), help="Only names in this language.")
@_json_option
def find(words: tuple[str, ...], lang: str | None, as_json: bool) -> None:
    """Find regions by name, Ukrainian in any case form or Latin ("у Києві", "Kyivska oblast")."""
    text = " ".join(words)
    found = _region_set().find_by_name(text, lang)
    if not found:
        fail(f"no region is named {text!r}", EXIT_INVALID)
    _print(found, as_json)


@regions.command("target")
@click.argument("file", type=click.Path(dir_okay=False))
@_json_option
def target(file: str, as_json: bool) -> None:
    """Print every region each area of the CAP alert FILE reaches, full or partial."""
    from tocsin.cap import CapError, parse_alert
    from tocsin.regions.targeting import target_area

    data = read_input_file(file)
    try:
        alert = parse_alert(data, strict=False).alert
    except CapError as exc:
        fail(f"{file}: not valid CAP: {exc.problems[0] if exc.problems else exc}", EXIT_INVALID)
    rs = _region_set()
    merged: dict[str, str] = {}
    areas = [area for info in alert.info for area in info.area]
    if not areas:
        fail(f"{file}: the alert has no <area>", EXIT_INVALID)
    for area in areas:
        try:
            for code, coverage in target_area(area, rs).items():
                if merged.get(code) != "full":
                    merged[code] = coverage
        except AreaError as exc:
            fail(f"{file}: {exc}", EXIT_INVALID)
    order = {"oblast": 0, "raion": 1, "hromada": 2, "district": 3}
    found = sorted((rs.require(c) for c in merged), key=lambda r: (order[r.level], r.code))
    if as_json:
        rows = [{**_as_dict(r), "coverage": merged[r.code]} for r in found]
        click.echo(json.dumps(rows, ensure_ascii=False))
        return
    for region in found:
        click.echo(_row(region, merged[region.code]))
