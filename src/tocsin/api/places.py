"""Places in HTTP requests and answers: query parameters naming regions or a point, with
their catalogued errors, and the JSON of a region and of its status.

Every adapter (the API, live streams, Web Push, the pages) reads places through these
functions, so the same input gets the same answer and the same error everywhere. They
are HTTP-shaped (they raise :class:`~tocsin.api.errors.ApiError`), which is why they live
here and not in :mod:`tocsin.runtime`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from tocsin.api.errors import ApiError
from tocsin.regions import Region

if TYPE_CHECKING:
    from tocsin.runtime import Hub


def require_region(hub: Hub, raw: str) -> str:
    code = hub.regions.canonical(raw.strip())
    if code is None:
        raise ApiError("unknown_region", f"{raw[:60]!r} is not a region code of this hub")
    return code


def region_params(hub: Hub, regions: str | None, lat: str | None, lon: str | None
                  ) -> list[str] | None:
    """Parse ``regions=A,B`` and/or ``lat=&lon=`` into canonical codes (None: everything)."""
    codes: list[str] = []
    if regions:
        parts = [p.strip() for p in regions.split(",") if p.strip()]
        if len(parts) > hub.settings.max_regions_per_subscription:
            raise ApiError("too_many_regions",
                           f"{len(parts)} regions named; the limit is "
                           f"{hub.settings.max_regions_per_subscription}")
        codes.extend(require_region(hub, p) for p in parts)
    point = point_param(hub, lat, lon)
    if point is not None:
        codes.extend(r.code for r in locate(hub, *point))
    if not regions and lat is None:
        return None
    # Targets are stored with everything below a named region as *full* and
    # everything above as *partial*, so a place's own codes are enough to
    # find alerts for it, for areas containing it and for areas inside it.
    return sorted(set(codes))


def point_param(hub: Hub, lat: str | None, lon: str | None) -> tuple[float, float] | None:
    """Parse ``lat``/``lon`` query values into a point inside the region set (or None)."""
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise ApiError("bad_parameter", "give both lat and lon")
    try:
        lat_f, lon_f = float(lat), float(lon)
    except ValueError:
        raise ApiError("bad_parameter", "lat and lon must be numbers") from None
    locate(hub, lat_f, lon_f)  # validates: range, swapped, outside (precise errors)
    return lat_f, lon_f


def locate(hub: Hub, lat: float, lon: float) -> list[Region]:
    from tocsin.regions.geometry import CoordinateError, OutsideRegionsError

    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise ApiError("bad_parameter", "lat and lon must be finite numbers")
    try:
        found = hub.regions.locate_strict(lat, lon)
    except CoordinateError as exc:
        raise ApiError("bad_parameter", str(exc)) from None
    except OutsideRegionsError as exc:
        raise ApiError("unknown_region", str(exc)) from None
    if not found:
        raise ApiError("unknown_region", f"({lat}, {lon}) is outside every region of this hub")
    return found


def region_json(hub: Hub, code: str, *, with_children: bool = False) -> dict[str, Any]:
    region = hub.regions.require(code)
    data: dict[str, Any] = {
        "code": region.code,
        "level": region.level,
        "name_uk": region.name_uk_full,
        "name_en": region.name_en,
        "parent": region.parent,
        "oblast": region.oblast,
    }
    if with_children:
        data["children"] = [
            {"code": c.code, "level": c.level, "name_uk": c.name_uk_full, "name_en": c.name_en}
            for c in hub.regions.children(code)
        ]
    return data


def region_status(hub: Hub, code: str) -> dict[str, Any]:
    """Whether a region is under a threat (all of it or part), its threats, and apart, its notices.

    Only threats count in ``coverage`` and ``alerts`` (the class is
    :func:`tocsin.kinds.kind_class`): an embassy closing its doors is a notice, never
    "under alert"; a denial is about a message, not a place, and is not listed.
    """
    from tocsin.api.views import Views, record_class
    from tocsin.kinds import KindClass

    now = hub.clock()
    records = hub.store.list_alerts(regions=[code], active_at=now, limit=1000)
    views = Views(now=now, regions=hub.regions, registry=hub.registry, get=hub.store.get,
                  log_size=hub.checkpointer.size)
    coverage = "none"
    threats: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for record in records:
        cov = record.targets.get(code)
        klass = record_class(record)
        if cov is None or klass not in (KindClass.THREAT, KindClass.NOTICE):
            continue
        view = views.one(record)
        del view["targets"]  # hundreds of codes for an oblast alert; ``coverage`` says it here
        view["coverage"] = cov
        view["url"] = f"/api/v1/alerts/{record.id}"
        if klass is KindClass.NOTICE:
            notices.append(view)
            continue
        if cov == "full":
            coverage = "full"
        elif coverage == "none":
            coverage = "partial"
        threats.append(view)
    return {"region": region_json(hub, code), "coverage": coverage, "alerts": threats,
            "notices": notices}
