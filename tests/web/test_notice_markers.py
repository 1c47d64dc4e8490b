"""Notice markers never cover each other on the map (found by an independent review).

A notice for Kyiv city and one for Kyiv oblast put their "i" markers at almost the same
point (the oblast's centre is the city), so one hid the other.
"""

from __future__ import annotations

from typing import Any

from web.conftest import KYIV, HubProcess

KYIV_OBLAST = "UA32000000000030281"


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"]
                or a["y"] + a["height"] <= b["y"] or b["y"] + b["height"] <= a["y"])


def test_notice_markers_of_nearby_regions_do_not_overlap(page: Any, hub: HubProcess) -> None:
    hub.issue((KYIV,), issuer="demo-embassy", kind="facility-closed", event="Посольство зачинене")
    hub.issue((KYIV_OBLAST,), issuer="demo-defence-intelligence", kind="threat-notice")
    page.goto(hub.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    city = page.locator(f'.notice-marker[data-code="{KYIV}"]')
    oblast = page.locator(f'.notice-marker[data-code="{KYIV_OBLAST}"]')
    city.wait_for()
    oblast.wait_for()
    for zoom_in in (False, True):
        a, b = city.bounding_box(), oblast.bounding_box()
        assert a is not None and b is not None
        assert not _overlap(a, b), (a, b)
        if not zoom_in:
            page.locator(".leaflet-control-zoom-in").click()
            page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
