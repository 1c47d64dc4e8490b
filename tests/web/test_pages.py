"""Region and issuer pages in the browser: history against baseline, jurisdiction, key fingerprints."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from tocsin.trust.note import Verifier
from web.conftest import KYIV, LVIV_OBLAST, HubProcess, screenshot


def test_region_page_shows_active_alerts_today_and_the_timeline(page: Any, hub: HubProcess) -> None:
    first = hub.issue((LVIV_OBLAST,))
    hub.issue((LVIV_OBLAST,), kind="all-clear")
    second = hub.issue((LVIV_OBLAST,), kind="missile")
    page.goto(f"{hub.url}/regions/{LVIV_OBLAST}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#region-name").inner_text() == "Львівська область"
    assert page.locator("#coverage").get_attribute("data-coverage") == "full"
    active = page.locator("#active").inner_text()
    assert "Ракетна загроза" in active and "Повітряна тривога" not in active
    assert page.locator("#today").inner_text() == "Сьогодні: 2."
    timeline = page.locator("#timeline li")
    assert timeline.count() == 2  # the all-clear ends an alert; it is not one
    assert page.locator(f'#timeline a[href="/alerts/{second["id"]}"]').count() == 1
    assert page.locator(f'#timeline a[href="/alerts/{first["id"]}"]').count() == 1
    assert page.locator("#bars .bar-day").count() == 30
    assert page.locator("#bars .bar-day.today").count() == 1
    ended = page.locator(f'#timeline li:has(a[href="/alerts/{first["id"]}"])')
    assert ended.get_attribute("data-coverage") == "ended"
    assert "завершено" in ended.inner_text()  # what is over says so (issue 12)
    assert page.locator("#active li").first.inner_text().startswith("Ракетна загроза ·")
    screenshot(page, "20-region")


def test_region_page_follows_the_stream(page: Any, hub: HubProcess) -> None:
    page.goto(f"{hub.url}/regions/{KYIV}")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#coverage").get_attribute("data-coverage") == "none"
    hub.issue((KYIV,))  # the page resumes from the event id it read the history at
    page.wait_for_selector('#coverage[data-coverage="full"]', timeout=3000)


def test_issuer_page_shows_kinds_jurisdiction_and_key_fingerprints(page: Any, hub: HubProcess) -> None:
    registry = json.loads(httpx.get(f"{hub.url}/api/v1/registry").content)["registry"]
    issuer = next(i for i in registry["issuers"] if i["id"] == "demo-kyiv-city")
    page.goto(f"{hub.url}/issuers/demo-kyiv-city")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#issuer-name").inner_text() == issuer["names"]["uk"]
    text = page.locator("#issuer-body").inner_text()
    assert "Повітряна тривога" in text and "Залишайтеся в укритті" in text
    assert page.locator("#jurisdiction li").count() == len(issuer["jurisdiction"])
    assert page.locator("#issuer-map path").count() >= 27
    for key in issuer["keys"]:
        verifier = Verifier.from_vkey(key["vkey"])
        item = page.locator(f'.keys li[data-key-id="{verifier.key_id:08x}"]')
        assert hashlib.sha256(verifier.public_key).hexdigest() in item.inner_text()
        assert key["vkey"] in item.inner_text()
    screenshot(page, "21-issuer")


def test_issuer_list_checks_the_registry_signature(page: Any, hub: HubProcess) -> None:
    page.goto(f"{hub.url}/issuers")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#issuer-body a[href^='/issuers/']").count() == 4
    check = page.locator("#registry-check")
    assert check.get_attribute("data-verdict") == "verified"
    root = Verifier.from_vkey(json.loads(httpx.get(f"{hub.url}/api/v1/registry").content)["registry"]["root"])
    assert hashlib.sha256(root.public_key).hexdigest() in check.inner_text()


def test_a_tampered_registry_is_flagged(page: Any, hub: HubProcess) -> None:
    def tamper(route: Any) -> None:
        body = route.fetch().body().replace(b'"demo-embassy"', b'"demo-embassy-x"')
        route.fulfill(body=body, content_type="application/json")

    page.route("**/api/v1/registry", tamper)
    page.goto(f"{hub.url}/issuers")
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#registry-check").get_attribute("data-verdict") == "failed"
    assert page.locator("#registry-check").get_attribute("role") == "alert"
