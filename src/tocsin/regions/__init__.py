"""Regions: a country's hierarchy (codes, names, aliases), point lookup and area targeting.

Importing this package is cheap (no shapely): codes and jurisdiction checks
need only :func:`default_region_set`. Geometry-backed pieces live in their
modules and load boundaries on first use:

* :mod:`tocsin.regions.targeting` — ``target_area(area, regions) -> {code: Coverage}``
* :mod:`tocsin.regions.subscriptions` — ``PointIndex`` (subscribers at points)
* :mod:`tocsin.regions.geometry` — the STRtree over hromada boundaries
"""

from tocsin.regions.errors import (
    AreaError,
    AreaOutsideError,
    CoordinateError,
    OutsideRegionsError,
    RegionDataError,
    RegionsError,
    UnknownRegionError,
)
from tocsin.regions.hierarchy import (
    LEVELS,
    Level,
    Region,
    RegionSet,
    default_region_set,
    load_region_set,
    region_set_for,
)

__all__ = [
    "LEVELS",
    "AreaError",
    "AreaOutsideError",
    "CoordinateError",
    "Level",
    "OutsideRegionsError",
    "Region",
    "RegionDataError",
    "RegionSet",
    "RegionsError",
    "UnknownRegionError",
    "default_region_set",
    "load_region_set",
    "region_set_for",
]
