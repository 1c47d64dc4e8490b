"""Every error the regions package raises, importable without loading geometry.

All are ``ValueError`` subclasses except :class:`UnknownRegionError`, which is
also a ``KeyError`` (it is a failed lookup); callers at an input boundary can
catch :class:`RegionsError` for all of them and show ``str(exc)``.
"""

from __future__ import annotations


class RegionsError(Exception):
    """Base class: the message names the problem and the offending input."""


class RegionDataError(RegionsError, ValueError):
    """A code table or boundary file is malformed (bad row, unknown parent, duplicate)."""


class UnknownRegionError(RegionsError, KeyError):
    """A code or alias names no region in the set."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return (
            f"unknown region code {self.code!r} (expected a KATOTTG code such as "
            "UA80000000000093317, an ISO 3166-2 code such as UA-30, or an alerts.in.ua "
            "oblast UID such as alerts.in.ua:31)"
        )


class CoordinateError(RegionsError, ValueError):
    """A latitude/longitude pair that is not a point on Earth (NaN, out of range)."""


class OutsideRegionsError(RegionsError, ValueError):
    """A point or shape lies outside every region of the set."""


class AreaError(RegionsError, ValueError):
    """A CAP area that cannot be resolved to regions; the message names the problem."""


class AreaOutsideError(AreaError, OutsideRegionsError):
    """A shape of the area lies entirely outside the region set."""
