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

import functools
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tocsin.regions.errors import OutsideRegionsError, RegionDataError, UnknownRegionError

if TYPE_CHECKING:  # shapely is imported only when geometry is first needed
    from tocsin.regions.geometry import GeometryIndex
    from tocsin.regions.names import NameIndex

Level = Literal["oblast", "raion", "hromada", "district"]

#: Levels from the top of the hierarchy down; a region's ancestors are above it.
LEVELS: tuple[Level, ...] = ("oblast", "raion", "hromada", "district")

ALERTS_IN_UA_PREFIX = "alerts.in.ua:"
NEAR_MISS_KM = 50.0  # a miss this close is named with its nearest region (reservoirs, coasts)


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
        code_scheme: str = "KATOTTG",
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
        #: The CAP geocode valueName of this set's own codes ("KATOTTG" for Ukraine's).
        self.code_scheme = code_scheme.strip()
        #: Every geocode valueName that names a region of this set (upper case).
        self.geocode_names = frozenset({self.code_scheme.upper(), "ISO3166-2"})
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
            if not (text.isascii() and text.isdigit()):
                return None
            upper = text
        if upper.isascii() and upper.isdigit():
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
        code, km = self.geometry().nearest(lat, lon)
        hint = ""
        if km <= NEAR_MISS_KM:
            near = self.require(code)
            hint = f" (the nearest is {near.name_uk_full}, {near.name_en}, {code}, {km:.1f} km away)"
        raise OutsideRegionsError(f"point lat={lat}, lon={lon} is outside every region{hint}")


# -- loading (in tocsin.regions.loading; imported lazily to avoid a cycle) -----


def load_region_set(
    code_table: Path,
    geometry: Path | None = None,
    cities: Path | None = None,
    *,
    code_property: str = "katottg",
) -> RegionSet:
    """Load any country's hierarchy from a CSV code table and (optionally) GeoJSON.

    See :func:`tocsin.regions.loading.load_region_set` for the file formats.
    """
    from tocsin.regions import loading

    return loading.load_region_set(code_table, geometry, cities, code_property=code_property)


@functools.cache
def region_set_for(directory: Path | None) -> RegionSet:
    """The region set a setting chooses: a data directory, or Ukraine when None; cached."""
    if directory is None:
        return default_region_set()
    from tocsin.regions import loading

    return loading.load_region_dir(directory.resolve())


@functools.cache
def default_region_set() -> RegionSet:
    """Ukraine (KATOTTG, edition 16.05.2025), shipped in the package; cached.

    Loads codes only (~15 ms); hromada boundaries and names load on first use.
    """
    from tocsin.regions import loading

    return loading.load_default()
