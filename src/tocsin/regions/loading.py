"""Reading region sets from files: CSV code tables, and the shipped Ukrainian data.

Kept apart from :mod:`tocsin.regions.hierarchy` so the tree itself stays small;
:func:`tocsin.regions.hierarchy.default_region_set` and
:func:`tocsin.regions.hierarchy.load_region_set` delegate here.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from importlib import resources
from pathlib import Path

from tocsin.regions.errors import RegionDataError
from tocsin.regions.hierarchy import LEVELS, Level, Region, RegionSet

#: KATOTTG category letter -> level. K (cities with special status) sit beside oblasts.
_CATEGORY_LEVEL: dict[str, Level] = {
    "O": "oblast",
    "K": "oblast",
    "P": "raion",
    "H": "hromada",
    "B": "district",
}

DEFAULT_DATA_PACKAGE = "tocsin.regions.data"
DEFAULT_CODE_TABLE = "katottg_units.csv"
DEFAULT_GEOMETRY = "ua_hromadas.geojson"
DEFAULT_CITIES = "katottg_cities.csv"


def _column(fields: list[str], *names: str) -> str | None:
    return next((name for name in names if name in fields), None)


def parse_code_table(text: str, *, source: str = "code table") -> list[Region]:
    """Parse a CSV code table into regions.

    The shipped KATOTTG table has ``katottg, category, name_uk, name_uk_full,
    name_en, parent_katottg`` and optionally ``oblast_katottg, iso_3166_2,
    alerts_in_ua_uid``; the category letter decides the level (O/K oblast,
    P raion, H hromada, B district). Other countries may instead use ``code``,
    ``parent``, ``level`` (a level name: oblast, raion, hromada, district) and
    ``name`` (used for every name column that is absent).
    """
    reader = csv.DictReader(io.StringIO(text))
    fields = list(reader.fieldnames or ())
    code_col = _column(fields, "katottg", "code")
    parent_col = _column(fields, "parent_katottg", "parent")
    level_col = _column(fields, "category", "level")
    name_col = _column(fields, "name_uk", "name", "name_en")
    missing = [
        label
        for label, col in (
            ("katottg or code", code_col),
            ("parent_katottg or parent", parent_col),
            ("category or level", level_col),
            ("name_uk, name or name_en", name_col),
        )
        if col is None
    ]
    if missing or code_col is None or parent_col is None or level_col is None or not name_col:
        raise RegionDataError(f"{source}: missing column(s) {'; '.join(missing)}")
    regions: list[Region] = []
    for lineno, row in enumerate(reader, start=2):
        code = (row[code_col] or "").strip().upper()
        if not code:
            raise RegionDataError(f"{source} line {lineno}: empty code")
        raw_level = (row[level_col] or "").strip()
        level = _CATEGORY_LEVEL.get(raw_level.upper())
        if level is None and raw_level.lower() in LEVELS:
            level = LEVELS[LEVELS.index(raw_level.lower())]
        if level is None:
            raise RegionDataError(f"{source} line {lineno}: unknown level {raw_level!r}")
        uid_text = (row.get("alerts_in_ua_uid") or "").strip()
        if uid_text and not (uid_text.isascii() and uid_text.isdigit()):
            raise RegionDataError(f"{source} line {lineno}: bad alerts.in.ua UID {uid_text!r}")
        name = (row[name_col] or "").strip()
        regions.append(
            Region(
                code=code,
                level=level,
                name_uk=(row.get("name_uk") or name).strip(),
                name_uk_full=(row.get("name_uk_full") or row.get("name_uk") or name).strip(),
                name_en=(row.get("name_en") or name).strip(),
                parent=(row[parent_col] or "").strip().upper() or None,
                oblast=(row.get("oblast_katottg") or "").strip().upper() or code,
                iso_3166_2=(row.get("iso_3166_2") or "").strip().upper() or None,
                alerts_in_ua_uid=int(uid_text) if uid_text else None,
            )
        )
    return _attach_districts(regions)


def _attach_districts(regions: list[Region]) -> list[Region]:
    """Point city districts (B) whose parent is a settlement at their hromada instead.

    KATOTTG makes a city district the child of its city (an M settlement code),
    and settlements are not in the code table. The hromada holding that city
    shares the first 9 characters of the code (``UA`` + oblast + raion + hromada).
    """
    known = {r.code for r in regions}
    hromada_by_prefix = {r.code[:9]: r.code for r in regions if r.level == "hromada"}
    out: list[Region] = []
    for region in regions:
        if region.parent is not None and region.parent not in known:
            hromada = hromada_by_prefix.get(region.code[:9])
            if region.level == "district" and hromada is not None:
                region = replace(region, parent=hromada)
        out.append(region)
    return out


def load_region_set(
    code_table: Path,
    geometry: Path | None = None,
    cities: Path | None = None,
    *,
    code_property: str = "katottg",
    code_scheme: str = "KATOTTG",
) -> RegionSet:
    """Load any country's hierarchy from a code table and (optionally) a GeoJSON file.

    The GeoJSON holds the finest level with geometry, one feature per code in
    the ``code_property`` property; coarser levels are derived through the
    hierarchy, so they need no geometry of their own.
    ``cities`` is an optional CSV (``name_uk, hromada_katottg``) of town names
    that name lookup maps to the hromada holding each town.
    """
    try:
        text = code_table.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegionDataError(f"{code_table}: cannot read ({exc.strerror})") from exc
    return RegionSet(
        parse_code_table(text, source=str(code_table)),
        geometry_path=geometry,
        geometry_code_property=code_property,
        cities_path=cities,
        code_scheme=code_scheme,
    )


def load_default() -> RegionSet:
    """Ukraine (KATOTTG, edition 16.05.2025) from the package data; not cached here.

    Callers want :func:`tocsin.regions.hierarchy.default_region_set`, which caches.
    """
    data = resources.files(DEFAULT_DATA_PACKAGE)
    text = data.joinpath(DEFAULT_CODE_TABLE).read_text(encoding="utf-8")
    return RegionSet(
        parse_code_table(text, source=DEFAULT_CODE_TABLE),
        geometry_path=Path(str(data.joinpath(DEFAULT_GEOMETRY))),
        cities_path=Path(str(data.joinpath(DEFAULT_CITIES))),
    )


REGION_DIR_TABLE = "units.csv"
REGION_DIR_GEOMETRY = "units.geojson"
REGION_DIR_CITIES = "cities.csv"
REGION_DIR_SCHEME = "scheme.txt"


def load_region_dir(directory: Path) -> RegionSet:
    """Any country's regions from a directory: ``units.csv`` (the code table, as
    :func:`parse_code_table` reads it), ``units.geojson`` (finest level, one feature per code
    in its ``code`` property), ``cities.csv``, and ``scheme.txt`` (the CAP geocode valueName
    of the codes; default ``REGION``); all but the code table optional."""
    geometry = directory / REGION_DIR_GEOMETRY
    cities = directory / REGION_DIR_CITIES
    scheme = directory / REGION_DIR_SCHEME
    try:
        code_scheme = scheme.read_text(encoding="utf-8").strip() if scheme.exists() else "REGION"
    except (OSError, UnicodeDecodeError) as exc:
        raise RegionDataError(f"{scheme}: cannot read ({exc})") from exc
    if not code_scheme or any(c.isspace() for c in code_scheme):
        raise RegionDataError(f"{scheme}: the geocode valueName must be one word")
    return load_region_set(directory / REGION_DIR_TABLE,
                           geometry if geometry.exists() else None,
                           cities if cities.exists() else None, code_property="code",
                           code_scheme=code_scheme)
