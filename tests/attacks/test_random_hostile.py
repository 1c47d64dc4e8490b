"""Random hostile alerts (seeded, reproducible) through a real hub, and the same ones offline.

Each input is signed by a real demo issuer and mixes, at random: geocodes inside
and outside the issuer's jurisdiction, polygons (small, large, unclosed,
self-intersecting, over the sea, with swapped coordinates), circles (radius 0
to 3,000 km, centres inside and outside Ukraine), extra ``info`` blocks and
another issuer's sender. For every one:

* the hub never answers 5xx;
* a refusal stores nothing (GET by id is 404);
* an acceptance reaches only the issuer's jurisdiction (every full target
  inside it; partial ones inside it or above it);
* the offline verifier (``verify_alert``, the same rulebook) calls it
  ``authentic`` exactly when the hub accepted it.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime

import httpx

from tocsin.cap import CapError, to_xml
from tocsin.cap.model import Alert, Area, Circle, Polygon
from tocsin.client import issue_request, sign_cap
from tocsin.issue import alert_id_for
from tocsin.regions import default_region_set
from tocsin.testing import HubProcess
from tocsin.trust.registry import NATIONWIDE, load_registry
from tocsin.trust.statement import Statement
from tocsin.trust.verify import verify_alert

from .shapes import KYIV, alert, geocode_area

INPUTS = 240
SEED = 20261201
REGIONS = default_region_set()
ISSUERS = {  # issuer: a kind it may send
    "demo-kyiv-city": "air-raid",
    "demo-air-force": "air-raid",
    "demo-embassy": "facility-closed",
    "demo-defence-intelligence": "threat-notice",
}
CODES = [r.code for r in REGIONS.at_level("oblast")] + [r.code for r in REGIONS.at_level("raion")][:60]


def _centre(rng: random.Random) -> tuple[float, float]:
    if rng.random() < 0.4:  # near Kyiv: inside for Kyiv City, or just across its border
        return rng.uniform(50.3, 50.6), rng.uniform(30.3, 30.8)
    return rng.uniform(43.0, 53.5), rng.uniform(21.0, 41.5)


def _polygon(rng: random.Random) -> Polygon:
    lat, lon = _centre(rng)
    size = rng.choice([0.005, 0.01, 0.05, 0.1, 0.5, 3.0])
    n = rng.choice([3, 4, 8, 40])
    points = [(round(lat + rng.uniform(-size, size), 4), round(lon + rng.uniform(-size, size), 4))
              for _ in range(n)]
    shape = rng.random()
    if shape < 0.75:  # a simple ring (a star around the centre, closed)
        points = sorted(points, key=lambda p: __import__("math").atan2(p[0] - lat, p[1] - lon))
        points.append(points[0])
    elif shape < 0.85:
        pass  # unclosed
    else:
        points = [*points, points[0]]  # closed, probably self-intersecting
    if rng.random() < 0.05:
        points = [(b, a) for a, b in points]  # swapped
    return Polygon(points=tuple(points), text=" ".join(f"{a},{b}" for a, b in points))


def _circle(rng: random.Random) -> Circle:
    lat, lon = _centre(rng)
    km = rng.choice([0.0, 0.5, 1.0, 3.0, 5.0, 30.0, 150.0, 600.0, 1200.0, 3000.0])
    return Circle(lat=round(lat, 4), lon=round(lon, 4), radius_km=km, text=f"{lat:.4f},{lon:.4f} {km:g}")


def _area(rng: random.Random, issuer: str) -> Area:
    codes: list[str] = []
    if rng.random() < 0.6:
        codes.append(KYIV if rng.random() < 0.5 else rng.choice(CODES))
    polygons = tuple(_polygon(rng) for _ in range(rng.choice([0, 0, 1, 2])))
    circles = tuple(_circle(rng) for _ in range(rng.choice([0, 0, 1, 3])))
    if not codes and not polygons and not circles:
        codes.append(rng.choice(CODES))
    return Area(area_desc="random", geocode=geocode_area(*codes).geocode, polygon=polygons,
                circle=circles)


def _hostile(rng: random.Random) -> tuple[str, Alert]:
    issuer = rng.choice(sorted(ISSUERS))
    infos = [[_area(rng, issuer) for _ in range(rng.choice([1, 1, 2, 5]))]
             for _ in range(rng.choice([1, 1, 2]))]
    sender = None
    if rng.random() < 0.1:
        sender = f"{rng.choice(sorted(ISSUERS))}@tocsin"
    return issuer, alert(issuer, *infos, kind=ISSUERS[issuer], sender=sender)


def _sign_anyway(cap: bytes, hostile: Alert, hub: HubProcess, issuer: str) -> bytes:
    signer = hub.signer(issuer)
    return Statement.for_cap(cap, issuer=signer.name, key_id=signer.key_id,
                             identifier=hostile.identifier, sender=hostile.sender,
                             sent=hostile.sent).sign(signer)


def _inside(issuer_codes: tuple[str, ...], code: str, coverage: str) -> bool:
    if NATIONWIDE in issuer_codes:
        return True
    if any(REGIONS.covers(top, code) for top in issuer_codes):
        return True
    return coverage == "partial" and any(REGIONS.covers(code, top) for top in issuer_codes)


def test_random_hostile_alerts_never_5xx_and_agree_with_the_offline_verifier(hub: HubProcess) -> None:
    rng = random.Random(SEED)
    registry = load_registry((hub.data_dir / "registry.json").read_bytes())
    outcomes: Counter[str] = Counter()
    with httpx.Client(timeout=60) as http:
        for _ in range(INPUTS):
            issuer, hostile = _hostile(rng)
            cap = to_xml(hostile)
            try:
                statement = sign_cap(cap, hub.signer(issuer))
            except CapError:  # the signing tool refuses invalid CAP: sign the bytes by hand
                statement = _sign_anyway(cap, hostile, hub, issuer)
            response = http.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
            assert response.status_code < 500, response.text
            verdict = verify_alert(cap, statement, registry, regions=REGIONS,
                                   at=datetime.now(UTC))
            if response.status_code == 201:
                outcomes["201"] += 1
                assert verdict.status == "authentic", (verdict.reason, cap.decode())
                scope = registry.issuer(issuer).jurisdiction  # type: ignore[union-attr]
                for code, coverage in response.json()["targets"].items():
                    assert _inside(scope, code, coverage), (issuer, code, coverage)
            else:
                body = response.json()["error"]
                outcomes[f"{response.status_code} {body['code']}"] += 1
                if body["code"] in ("unauthorised", "sender_not_allowed", "alert_too_complex",
                                    "invalid_cap"):
                    assert verdict.status == "unauthorised", (body, verdict.reason)
                assert http.get(f"{hub.url}/api/v1/alerts/{alert_id_for(cap)}").status_code == 404
    print(dict(outcomes))
    assert outcomes["201"] > 10 and sum(outcomes.values()) == INPUTS
