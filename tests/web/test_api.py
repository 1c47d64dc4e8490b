"""The web module's HTTP surface on a real hub: pages, layers, map state, history, keys."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import httpx
import pytest

from tocsin.kinds import KINDS
from tocsin.regions import default_region_set
from tocsin.trust.note import Verifier, Verifiers, open_note
from tocsin.web.geometry import GEO_DIR, build_level, encode
from web.conftest import KYIV, LVIV_OBLAST, HubProcess

STATIC = Path(__file__).resolve().parents[2] / "src" / "tocsin" / "web" / "static"


@pytest.mark.parametrize(("path", "status"), [
    ("/", 200), ("/alerts/abc", 404), (f"/regions/{KYIV}", 200), ("/issuers", 200),
    ("/issuers/demo-air-force", 200), ("/about", 200), ("/nowhere", 404)])
def test_pages_are_html_under_a_strict_csp(hub: HubProcess, path: str, status: int) -> None:
    # An alert that does not exist is a 404 page, not a page served 200 that fails later.
    response = httpx.get(hub.url + path, headers={"Accept": "text/html"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp


def test_no_page_carries_inline_script_or_style() -> None:
    for page in STATIC.glob("*.html"):
        html = page.read_text()
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, page.name
        assert " style=" not in html and "<style" not in html, page.name
        assert re.search(r"\son[a-z]+\s*=", html) is None, page.name  # no onclick= and kin


def test_leaflet_is_vendored_with_its_licence(hub: HubProcess) -> None:
    assert httpx.get(hub.url + "/static/vendor/leaflet/leaflet.js").status_code == 200
    licence = (STATIC / "vendor" / "leaflet" / "LICENSE").read_text()
    assert "Volodymyr Agafonkin" in licence
    for page in STATIC.glob("*.html"):
        assert "http://" not in page.read_text() and "https://" not in page.read_text(), page.name


def test_layers_are_gzipped_when_accepted(hub: HubProcess) -> None:
    raw = httpx.get(hub.url + "/api/v1/map/layers/oblast.json", headers={"Accept-Encoding": "identity"})
    assert raw.headers.get("content-encoding") is None
    packed = httpx.get(hub.url + "/api/v1/map/layers/oblast.json",
                       headers={"Accept-Encoding": "gzip"}, follow_redirects=True)
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(raw.content) / 2
    assert packed.content == raw.content  # httpx decodes it
    doc = raw.json()
    assert len(doc["features"]) == 27


def test_unknown_layers_are_catalogued_errors(hub: HubProcess) -> None:
    response = httpx.get(hub.url + "/api/v1/map/layers/county.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    raion = httpx.get(f"{hub.url}/api/v1/regions/{LVIV_OBLAST}").json()["children"][0]["code"]
    response = httpx.get(f"{hub.url}/api/v1/map/layers/hromada-{raion}.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_region"


def test_layers_nest_and_name_real_regions() -> None:
    regions = default_region_set()
    oblasts = json.loads((GEO_DIR / "oblast.json").read_bytes())["features"]
    raions = json.loads((GEO_DIR / "raion.json").read_bytes())["features"]
    oblast_codes = {f["properties"]["code"] for f in oblasts}
    assert oblast_codes == {r.code for r in regions.at_level("oblast")}
    for feature in raions:
        props = feature["properties"]
        assert props["oblast"] in oblast_codes
        assert regions.require(props["code"]).name_en == props["name_en"]
    hromada_total = 0
    for code in oblast_codes:
        features = json.loads((GEO_DIR / f"hromada-{code}.json").read_bytes())["features"]
        assert all(f["properties"]["oblast"] == code for f in features)
        hromada_total += len(features)
    assert hromada_total == len(regions.geometry().codes)


def test_shipped_layers_are_current_and_small() -> None:
    shipped = (GEO_DIR / "oblast.json").read_bytes()
    assert shipped == encode(build_level(default_region_set(), "oblast")), \
        "rebuild with: python -m tocsin.web.geometry"
    assert len(gzip.compress(shipped)) < 40_000  # the whole first paint of the map
    assert len(gzip.compress((GEO_DIR / "raion.json").read_bytes())) < 150_000
    biggest = max(p.stat().st_size for p in GEO_DIR.glob("hromada-*.json"))
    assert biggest < 150_000


def test_map_state_names_every_region_and_alert(hub: HubProcess) -> None:
    empty = httpx.get(hub.url + "/api/v1/map/state").json()
    assert empty["regions"] == {} and empty["alerts"] == []
    answer = hub.issue((LVIV_OBLAST,), instruction="Негайно прямуйте до укриття")
    state = httpx.get(hub.url + "/api/v1/map/state").json()
    assert state["event_id"] > empty["event_id"]
    lviv = state["regions"][LVIV_OBLAST]
    assert lviv == {"coverage": "full", "kinds": ["air-raid"], "alerts": [answer["id"]]}
    children = httpx.get(f"{hub.url}/api/v1/regions/{LVIV_OBLAST}").json()["children"]
    assert all(state["regions"][c["code"]]["coverage"] == "full" for c in children)
    [alert] = state["alerts"]
    assert alert["area_codes"] == [LVIV_OBLAST]
    assert alert["info"][0]["instruction"] == "Негайно прямуйте до укриття"
    assert alert["info"][0]["severity"] == "Extreme"
    hub.issue((LVIV_OBLAST,), kind="all-clear")
    assert httpx.get(hub.url + "/api/v1/map/state").json()["regions"] == {}


def test_history_endpoint(hub: HubProcess) -> None:
    hub.issue((KYIV,))
    data = httpx.get(f"{hub.url}/api/v1/regions/{KYIV}/history").json()
    assert data["region"]["code"] == KYIV
    assert data["today"]["count"] == 1 and len(data["days"]) == 30
    assert data["event_id"] >= 1
    assert len(httpx.get(f"{hub.url}/api/v1/regions/{KYIV}/history?days=7").json()["days"]) == 7
    for bad in ("0", "91", "x", "-1"):
        response = httpx.get(f"{hub.url}/api/v1/regions/{KYIV}/history?days={bad}")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_parameter"
    response = httpx.get(f"{hub.url}/api/v1/regions/UA99999999999999999/history")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_region"


def test_log_key_opens_the_hubs_checkpoint(hub: HubProcess) -> None:
    hub.issue((KYIV,))
    key = httpx.get(hub.url + "/api/v1/log/key").json()
    verifier = Verifier.from_vkey(key["vkey"])
    note = open_note(httpx.get(hub.url + "/checkpoint").content, Verifiers([verifier]))
    assert note.text.split("\n")[0] == key["origin"]


def test_kinds_endpoint(hub: HubProcess) -> None:
    kinds = httpx.get(hub.url + "/api/v1/kinds").json()
    assert kinds == {code: {"uk": k.name_uk, "en": k.name_en, "class": str(k.klass)}
                     for code, k in KINDS.items()}


def test_the_catch_all_yields_to_routes_added_after_it() -> None:
    """Routes other modules add after the web routes (compat API, witness) stay reachable."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from tocsin.testing import serve_asgi
    from tocsin.web.routes import _LastResort

    async def caught(request: Request) -> PlainTextResponse:
        return PlainTextResponse("caught", status_code=404)

    async def later(request: Request) -> PlainTextResponse:
        return PlainTextResponse("later")

    app = Starlette(routes=[_LastResort("/{path:path}", caught, methods=["GET", "POST"]),
                            Route("/later", later, methods=["GET"])])
    with serve_asgi(app) as url:
        assert httpx.get(url + "/later").text == "later"
        assert httpx.get(url + "/elsewhere").text == "caught"
        assert httpx.post(url + "/later").status_code == 405  # the later route's method rule holds
