"""Regions: a country's hierarchy (codes, names, aliases), point lookup and area targeting.

Importing this package is cheap: boundaries load only when geometry is needed.
"""

from tocsin.regions.hierarchy import (
    LEVELS,
    Level,
    Region,
    RegionDataError,
    RegionSet,
    UnknownRegionError,
    default_region_set,
    load_region_set,
)

__all__ = [
    "LEVELS",
    "Level",
    "Region",
    "RegionDataError",
    "RegionSet",
    "UnknownRegionError",
    "default_region_set",
    "load_region_set",
]
