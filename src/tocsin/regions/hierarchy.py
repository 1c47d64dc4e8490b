"""A country's administrative hierarchy as data: codes, names, parents, aliases.

The hierarchy is what jurisdiction checks and subscriptions reason about, so it
must load fast and without geometry: :func:`default_region_set` reads only the
code table (about 2,000 rows for Ukraine) and defers the large boundary file
until a caller needs a point lookup or polygon targeting.

Codes are canonical KATOTTG codes (``UA80000000000093317`` = Kyiv). Accepted
aliases, resolved by :meth:`RegionSet.canonical`:

* the KATOTTG code itself, in any letter case;
* ISO 3166-2 subdivision codes (``UA-30`` = Kyiv), oblast level only;
* alerts.in.ua oblast UIDs, written ``alerts.in.ua:31`` or as plain digits
  (``31``). Plain digits are unambiguous because KATOTTG and ISO codes always
  start with letters.
"""

from __future__ import annotations

import csv
import functools
import io
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tocsin.regions.errors import OutsideRegionsError, RegionDataError, UnknownRegionError

if TYPE_CHECKING:  # shapely is imported only when geometry is first needed
    from tocsin.regions.geometry import GeometryIndex
    from tocsin.regions.names import NameIndex

Level = Literal["oblast", "raion", "hromada", "district"]

#: Levels from the top of the hierarchy down; a region's ancestors are above it.
LEVELS: tuple[Level, ...] = ("oblast", "raion", "hromada", "district")

#: KATOTTG category letter -> level. K (cities with special status) sit beside oblasts.
_CATEGORY_LEVEL: dict[str, Level] = {
    "O": "oblast",
    "K": "oblast",
    "P": "raion",
    "H": "hromada",
    "B": "district",
}

ALERTS_IN_UA_PREFIX = "alerts.in.ua:"
DEFAULT_DATA_PACKAGE = "tocsin.regions.data"
DEFAULT_CODE_TABLE = "katottg_units.csv"
DEFAULT_GEOMETRY = "ua_hromadas.geojson"
DEFAULT_CITIES = "katottg_cities.csv"


@dataclass(frozen=True, slots=True)
class Region:
    """One administrative unit: its canonical code, level, names and place in the tree."""

    code: str
    level: Level
    name_uk: str
    name_uk_full: str
    name_en: str
    parent: str | None  # None for the top level
    oblast: str  # the top-level ancestor (itself for an oblast)
    iso_3166_2: str | None = None
    alerts_in_ua_uid: int | None = None


@dataclass(slots=True)
class _Tree:
    by_code: dict[str, Region] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


class RegionSet:
    """An immutable set of regions with hierarchy queries and alias resolution.

    Geometry (for :meth:`locate` and area targeting) is attached lazily from
    ``geometry_path``: building a ``RegionSet`` never parses boundaries.
    """

    def __init__(
        self,
        regions: Iterable[Region],
        *,
        geometry_path: Path | None = None,
        geometry_code_property: str = "katottg",
        cities_path: Path | None = None,
    ) -> None:
        tree = _Tree()
        for region in regions:
            if region.code in tree.by_code:
                raise RegionDataError(f"duplicate region code {region.code}")
            tree.by_code[region.code] = region
        for region in tree.by_code.values():
            if region.parent is not None:
                if region.parent not in tree.by_code:
                    raise RegionDataError(f"region {region.code} names unknown parent {region.parent}")
                tree.children.setdefault(region.parent, []).append(region.code)
            if region.iso_3166_2:
                tree.aliases[region.iso_3166_2.upper()] = region.code
            if region.alerts_in_ua_uid is not None:
                tree.aliases[str(region.alerts_in_ua_uid)] = region.code
        for kids in tree.children.values():
            kids.sort()
        for code, region in list(tree.by_code.items()):
            top, seen = region, {code}
            while top.parent is not None:
                top = tree.by_code[top.parent]
                if top.code in seen:
                    raise RegionDataError(f"region {code} is its own ancestor")
                seen.add(top.code)
            if region.oblast != top.code:
                tree.by_code[code] = replace(region, oblast=top.code)
        self._tree = tree
        self.geometry_path = geometry_path
        self.geometry_code_property = geometry_code_property
        self.cities_path = cities_path
        self._names: NameIndex | None = None
        self._geometry: GeometryIndex | None = None
        self._geometry_lock = threading.Lock()

    # -- codes --------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tree.by_code)

    def __iter__(self) -> Iterator[Region]:
        return iter(self._tree.by_code.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.canonical(code) is not None

    def get(self, code: str) -> Region | None:
        """The region for a code or alias, or None when nothing matches."""
        canon = self.canonical(code)
        return None if canon is None else self._tree.by_code[canon]

    def require(self, code: str) -> Region:
        """Like :meth:`get` but raises :class:`UnknownRegionError` naming the bad code."""
        region = self.get(code)
        if region is None:
            raise UnknownRegionError(code)
        return region

    def canonical(self, code: str) -> str | None:
        """The canonical KATOTTG code for a code or alias, or None if unknown.

        Accepts KATOTTG codes (any case), ISO 3166-2 (``UA-30``) and alerts.in.ua
        oblast UIDs (``alerts.in.ua:31`` or ``31``); surrounding spaces are ignored.
        """
        text = code.strip()
        upper = text.upper()
        if upper in self._tree.by_code:
            return upper
        if text.lower().startswith(ALERTS_IN_UA_PREFIX):
            text = text[len(ALERTS_IN_UA_PREFIX) :].strip()
            if not text.isdigit():
                return None
            upper = text
        if upper.isdigit():
            upper = str(int(upper))  # "031" and "31" are the same UID
        return self._tree.aliases.get(upper)

    # -- hierarchy ----------------------------------------------------------

    def ancestors(self, code: str) -> list[Region]:
        """The chain of regions above ``code``, nearest first (empty for the top level)."""
        region = self.require(code)
        chain: list[Region] = []
        while region.parent is not None:
            region = self._tree.by_code[region.parent]
            chain.append(region)
        return chain

    def covers(self, ancestor: str, code: str) -> bool:
        """True if ``ancestor`` is ``code`` itself or any region above it.

        Both arguments accept aliases. An unknown code on either side covers
        nothing (False): callers that must reject unknown codes with a message
        check :meth:`canonical` first.
        """
        top = self.canonical(ancestor)
        current = self.canonical(code)
        if top is None or current is None:
            return False
        while current is not None:
            if current == top:
                return True
            current = self._tree.by_code[current].parent
        return False

    def children(self, code: str) -> list[Region]:
        """The regions directly below ``code``, sorted by code."""
        canon = self.require(code).code
        return [self._tree.by_code[c] for c in self._tree.children.get(canon, ())]

    def descendants(self, code: str) -> list[Region]:
        """Every region below ``code`` (not including it), parents before children."""
        out: list[Region] = []
        stack = [self.require(code).code]
        while stack:
            for kid in self._tree.children.get(stack.pop(), ()):
                out.append(self._tree.by_code[kid])
                stack.append(kid)
        return out

    def at_level(self, level: Level) -> list[Region]:
        """All regions of one level, sorted by code."""
        return sorted((r for r in self if r.level == level), key=lambda r: r.code)

    # -- geometry (lazy) ----------------------------------------------------

    def geometry(self) -> GeometryIndex:
        """The boundary index, loaded on first call (about 0.3 s for Ukraine)."""
        if self._geometry is None:
            with self._geometry_lock:
                if self._geometry is None:
                    from tocsin.regions.geometry import GeometryIndex

                    if self.geometry_path is None:
                        raise RegionDataError("this region set has no geometry")
                    index = GeometryIndex.from_geojson(
                        self.geometry_path, code_property=self.geometry_code_property
                    )
                    unknown = sorted(set(index.codes) - self._tree.by_code.keys())
                    if unknown:
                        raise RegionDataError(
                            f"{self.geometry_path}: {len(unknown)} feature code(s) not in the "
                            f"code table, e.g. {unknown[0]}"
                        )
                    self._geometry = index
        return self._geometry

    def find_by_name(self, text: str, lang: str | None = None) -> list[Region]:
        """Regions named by ``text`` in Ukrainian (any case form) or Latin, best first.

        ``lang`` ("uk" or "en") restricts the script considered; unit words
        ("область", "raion") narrow the level. Empty when nothing matches.
        See :mod:`tocsin.regions.names` for what is indexed.
        """
        if lang not in (None, "uk", "en"):
            raise ValueError(f"lang must be 'uk', 'en' or None, not {lang!r}")
        if self._names is None:
            with self._geometry_lock:
                if self._names is None:
                    from tocsin.regions.names import NameIndex, read_cities

                    cities: list[tuple[str, str]] = []
                    if self.cities_path is not None:
                        try:
                            text_ = self.cities_path.read_text(encoding="utf-8")
                        except OSError as exc:
                            raise RegionDataError(
                                f"{self.cities_path}: cannot read ({exc.strerror})"
                            ) from exc
                        cities = read_cities(text_)
                    self._names = NameIndex(self, cities)
        return self._names.find(text, lang)  # type: ignore[arg-type]

    def with_ancestors(self, codes: Iterable[str]) -> list[Region]:
        """Regions for ``codes`` plus all their ancestors, finest level first, no repeats."""
        seen: dict[str, Region] = {}
        for code in codes:
            region: Region | None = self.require(code)
            while region is not None:
                seen.setdefault(region.code, region)
                region = None if region.parent is None else self._tree.by_code[region.parent]
        rank = {level: i for i, level in enumerate(reversed(LEVELS))}
        return sorted(seen.values(), key=lambda r: (rank[r.level], r.code))

    def locate(self, lat: float, lon: float) -> list[Region]:
        """Every region containing the point, hromada first, then raion, then oblast.

        A point on a border or in an overlap returns the units of both sides.
        Kyiv, Sevastopol and Crimea have no finer geometry, so a point there
        returns just that unit. Empty only if the point is outside every
        region; :meth:`locate_strict` turns that into an explained error.
        Raises :class:`~tocsin.regions.errors.CoordinateError` for
        coordinates that are not on Earth.
        """
        return self.with_ancestors(self.geometry().codes_at(lat, lon))

    def locate_strict(self, lat: float, lon: float) -> list[Region]:
        """Like :meth:`locate`, but a point outside every region raises
        :class:`~tocsin.regions.errors.OutsideRegionsError`, saying so when the
        point read as ``(lon, lat)`` would be inside (swapped coordinates)."""
        found = self.locate(lat, lon)
        if found:
            return found
        if self.geometry().swapped_inside(lat, lon):
            raise OutsideRegionsError(
                f"point lat={lat}, lon={lon} is outside every region, but lat={lon}, "
                f"lon={lat} is inside: latitude and longitude look swapped"
            )
        raise OutsideRegionsError(f"point lat={lat}, lon={lon} is outside every region")


# -- loading -----------------------------------------------------------------


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
        if uid_text and not uid_text.isdigit():
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
    )


@functools.cache
def default_region_set() -> RegionSet:
    """Ukraine (KATOTTG, edition 16.05.2025), shipped in the package; cached.

    Loads codes only (a few milliseconds); hromada boundaries load on first use.
    """
    data = resources.files(DEFAULT_DATA_PACKAGE)
    text = data.joinpath(DEFAULT_CODE_TABLE).read_text(encoding="utf-8")
    return RegionSet(
        parse_code_table(text, source=DEFAULT_CODE_TABLE),
        geometry_path=Path(str(data.joinpath(DEFAULT_GEOMETRY))),
        cities_path=Path(str(data.joinpath(DEFAULT_CITIES))),
    )
