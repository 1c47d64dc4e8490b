"""Point subscriptions indexed by region, so one alert never scans every subscriber.

Each subscriber is a point. When it is added, its hromada(s) are looked up once
and its slot number is stored in a set per hromada ("pre-computed region
membership"). Matching an alert then costs:

* geocodes: the union of the member sets of the hromadas they cover;
* a polygon/circle: the union of the member sets of hromadas it covers fully,
  plus one vectorised point-in-shape test over the members of the hromadas it
  only meets (a few per cent of subscribers for a typical shape).

Coordinates live in numpy arrays (16 bytes a subscriber); ids in a dict. A
point on a border is a member of both hromadas, and so gets both sides' alerts.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Generic, TypeVar

import numpy as np
import numpy.typing as npt
import shapely

from tocsin.cap.model import Area
from tocsin.regions.geometry import CoordinateError, OutsideRegionsError, check_coordinates
from tocsin.regions.hierarchy import RegionSet, default_region_set
from tocsin.regions.targeting import leaves_under, resolve_area

K = TypeVar("K", bound=Hashable)

_INITIAL_CAPACITY = 1024


class PointIndex(Generic[K]):
    """Subscriber ids at points, matched against alert areas or region codes.

    Not thread-safe: use it from one thread (the hub's event loop), or lock.
    """

    def __init__(self, regions: RegionSet | None = None) -> None:
        self.regions = regions if regions is not None else default_region_set()
        self._geometry = self.regions.geometry()
        self._slot_of: dict[K, int] = {}
        self._ids: list[K | None] = []
        self._free: list[int] = []
        self._lat: npt.NDArray[np.float64] = np.zeros(_INITIAL_CAPACITY)
        self._lon: npt.NDArray[np.float64] = np.zeros(_INITIAL_CAPACITY)
        self._members: dict[str, set[int]] = {}

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, sub_id: object) -> bool:
        return sub_id in self._slot_of

    # -- changes ------------------------------------------------------------

    def add(self, sub_id: K, lat: float, lon: float) -> list[str]:
        """Subscribe ``sub_id`` at a point (re-adding moves it); returns its hromada codes.

        Raises :class:`CoordinateError` for impossible coordinates and
        :class:`OutsideRegionsError` (with a swap hint) for points outside
        every region, rather than keeping a subscriber nothing could reach.
        """
        if sub_id is None:
            raise ValueError("subscriber id must not be None")
        check_coordinates(lat, lon)
        leaves = self._geometry.codes_at(lat, lon)
        if not leaves:
            self.regions.locate_strict(lat, lon)  # raises with the precise message
            raise OutsideRegionsError(f"point lat={lat}, lon={lon} is outside every region")
        self.remove(sub_id)
        slot = self._new_slot(sub_id, lat, lon)
        for leaf in leaves:
            self._members.setdefault(leaf, set()).add(slot)
        return leaves

    def add_many(self, sub_ids: Sequence[K], lats: npt.ArrayLike, lons: npt.ArrayLike) -> list[K]:
        """Bulk :meth:`add` with one vectorised lookup; returns ids left out (outside).

        All coordinates are checked first; one impossible pair refuses the
        whole batch with :class:`CoordinateError` naming its position.
        """
        lat_arr = np.asarray(lats, dtype=float)
        lon_arr = np.asarray(lons, dtype=float)
        if not len(sub_ids) == len(lat_arr) == len(lon_arr):
            raise ValueError("add_many: ids, lats and lons differ in length")
        if any(sub_id is None for sub_id in sub_ids):
            raise ValueError("subscriber id must not be None")
        if len(set(sub_ids)) != len(sub_ids):
            raise ValueError("add_many: an id appears more than once in the batch")
        bad = ~(
            np.isfinite(lat_arr)
            & np.isfinite(lon_arr)
            & (np.abs(lat_arr) <= 90.0)
            & (np.abs(lon_arr) <= 180.0)
        )
        if bad.any():
            first = int(np.argmax(bad))
            try:
                check_coordinates(float(lat_arr[first]), float(lon_arr[first]))
            except CoordinateError as exc:
                raise CoordinateError(f"point #{first} ({sub_ids[first]!r}): {exc}") from exc
        point_idx, shape_idx = self._geometry.query_points(lat_arr, lon_arr)
        found = np.zeros(len(sub_ids), dtype=bool)
        found[point_idx] = True
        for sub_id in sub_ids:
            if sub_id in self._slot_of:
                self.remove(sub_id)
        slots = self._new_slots(sub_ids, lat_arr, lon_arr, found)
        codes = self._geometry.codes
        for p, s in zip(point_idx.tolist(), shape_idx.tolist(), strict=True):
            self._members.setdefault(codes[s], set()).add(slots[p])
        return [sub_id for sub_id, hit in zip(sub_ids, found, strict=True) if not hit]

    def remove(self, sub_id: K) -> bool:
        """Unsubscribe ``sub_id``; False if it was not subscribed."""
        slot = self._slot_of.pop(sub_id, None)
        if slot is None:
            return False
        lat, lon = float(self._lat[slot]), float(self._lon[slot])
        for leaf in self._geometry.codes_at(lat, lon):
            members = self._members.get(leaf)
            if members is not None:
                members.discard(slot)
        self._ids[slot] = None
        self._free.append(slot)
        return True

    def _new_slots(
        self,
        sub_ids: Sequence[K],
        lats: npt.NDArray[np.float64],
        lons: npt.NDArray[np.float64],
        keep: npt.NDArray[np.bool_],
    ) -> list[int]:
        """Slots for a batch, appended in one numpy copy (free slots are reused first)."""
        slots = [-1] * len(sub_ids)
        order = np.flatnonzero(keep).tolist()
        while self._free and order:
            i = order.pop()
            slots[i] = self._new_slot(sub_ids[i], float(lats[i]), float(lons[i]))
        if not order:
            return slots
        start = len(self._ids)
        end = start + len(order)
        if end > len(self._lat):
            size = max(_INITIAL_CAPACITY, 2 * len(self._lat), end)
            self._lat = np.resize(self._lat, size)
            self._lon = np.resize(self._lon, size)
        picked = np.asarray(order, dtype=np.int64)
        self._lat[start:end] = lats[picked]
        self._lon[start:end] = lons[picked]
        for slot, i in enumerate(order, start=start):
            sub_id = sub_ids[i]
            self._ids.append(sub_id)
            self._slot_of[sub_id] = slot
            slots[i] = slot
        return slots

    def _new_slot(self, sub_id: K, lat: float, lon: float) -> int:
        if self._free:
            slot = self._free.pop()
            self._ids[slot] = sub_id
        else:
            slot = len(self._ids)
            self._ids.append(sub_id)
            if slot >= len(self._lat):
                size = max(_INITIAL_CAPACITY, 2 * len(self._lat))
                self._lat = np.resize(self._lat, size)
                self._lon = np.resize(self._lon, size)
        self._lat[slot] = lat
        self._lon[slot] = lon
        self._slot_of[sub_id] = slot
        return slot

    # -- matching -----------------------------------------------------------

    def match(self, target: Area | Iterable[str]) -> set[K]:
        """Ids of every subscriber an alert area (or a set of region codes) reaches.

        Codes (KATOTTG or aliases) reach every subscriber in a region they
        cover; a code below the finest mapped level (a Kyiv district, a Crimean
        hromada) reaches the whole mapped unit holding it, since we cannot tell
        where inside it a subscriber is. Shapes reach the points they contain
        or touch. Unknown codes raise
        :class:`~tocsin.regions.hierarchy.UnknownRegionError`; bad areas raise
        :class:`~tocsin.regions.targeting.AreaError`.
        """
        if isinstance(target, str):  # one code, not an iterable of characters
            target = [target]
        if isinstance(target, Area):
            resolved = resolve_area(target, self.regions)
            codes: Iterable[str] = resolved.geocodes
            shape = resolved.shape
        else:
            codes = [self.regions.require(code).code for code in target]
            shape = None
        whole = self._leaves_for_codes(codes)
        slots: set[int] = set()
        for leaf in whole:
            slots |= self._members.get(leaf, set())
        if shape is not None:
            for leaf, is_full in self._geometry.overlay(shape).items():
                members = self._members.get(leaf)
                if not members or leaf in whole:
                    continue
                if is_full:
                    slots |= members
                else:
                    slots.update(self._inside(shape, members))
        ids = self._ids
        return {ids[s] for s in slots}  # type: ignore[misc]  # live slots hold ids

    def _leaves_for_codes(self, codes: Iterable[str]) -> set[str]:
        under = leaves_under(self.regions)
        leaves: set[str] = set()
        for code in codes:
            below = under.get(code)
            if below:
                leaves |= below
                continue
            for above in self.regions.ancestors(code):  # finer than any geometry
                if above.code in under:
                    leaves |= under[above.code]
                    break
        return leaves

    def _inside(self, shape: shapely.Geometry, members: set[int]) -> list[int]:
        slot_arr = np.fromiter(members, dtype=np.int64, count=len(members))
        hit = shapely.intersects_xy(shape, self._lon[slot_arr], self._lat[slot_arr])
        result: list[int] = slot_arr[hit].tolist()
        return result
