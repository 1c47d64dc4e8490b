"""The live map in a real browser: loads clean, colours regions live, restores on all-clear."""

from __future__ import annotations

import subprocess
import sys
import time
from typing import Any

import httpx

from web.conftest import (
    KHARKIV_OBLAST,
    KYIV,
    LVIV_OBLAST,
    ODESA_OBLAST,
    HubProcess,
    PageProblems,
    screenshot,
)

LIVE_DEADLINE_MS = 2000  # the issue's bar for the test; the product target is 1 s


def region(page: Any, code: str, state: str) -> str:
    return f'path[data-code="{code}"][data-state="{state}"]'


def open_map(page: Any, hub: HubProcess) -> None:
    page.goto(hub.url + "/")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#conn[data-state=live]")


def test_map_loads_clean_with_every_oblast(page: Any, hub: HubProcess) -> None:
    open_map(page, hub)
    assert page.locator("path[data-code]").count() == 27
    assert page.locator('path[data-state="clear"]').count() == 27
    assert page.locator("#no-alerts").is_visible()
    assert page.locator("html").get_attribute("lang") == "uk"
    screenshot(page, "01-map-clear")


def test_issued_alert_colours_its_region_live(page: Any, hub: HubProcess) -> None:
    open_map(page, hub)
    started = time.monotonic()
    answer = hub.issue((LVIV_OBLAST,), instruction="Негайно прямуйте до укриття")
    page.wait_for_selector(region(page, LVIV_OBLAST, "full"), timeout=LIVE_DEADLINE_MS)
    elapsed = time.monotonic() - started
    assert elapsed < LIVE_DEADLINE_MS / 1000
    path = page.locator(f'path[data-code="{LVIV_OBLAST}"]')
    assert path.get_attribute("data-kinds") == "air-raid"
    assert "url(#pat-diag-full)" in (path.get_attribute("fill") or "")  # pattern, not colour alone
    label = page.locator(".kind-label").first
    assert label.inner_text() == "Повітряна тривога"
    item = page.locator(f'.alert-item[data-id="{answer["id"]}"]')
    item.wait_for()
    text = item.inner_text()
    for expected in ("Повітряні сили", "Львівська", "надзвичайна", "Ймовірність", "висока",
                     "Негайно прямуйте до укриття"):
        assert expected in text
    announcer = page.locator("#announcer")
    assert announcer.get_attribute("aria-live") == "assertive"
    page.wait_for_function("document.getElementById('announcer').textContent.includes('Львівська')")
    assert "Нова тривога" in announcer.inner_text()
    assert page.locator(region(page, KYIV, "clear")).count() == 1
    screenshot(page, "02-map-alert")


def test_part_of_an_oblast_is_shown_partial_with_its_kind(page: Any, hub: HubProcess) -> None:
    raions = httpx.get(f"{hub.url}/api/v1/regions/{ODESA_OBLAST}").json()["children"]
    open_map(page, hub)
    hub.issue((raions[0]["code"],), kind="drone", issuer="demo-air-force")
    page.wait_for_selector(region(page, ODESA_OBLAST, "partial"), timeout=LIVE_DEADLINE_MS)
    path = page.locator(f'path[data-code="{ODESA_OBLAST}"]')
    assert "url(#pat-dots-partial)" in (path.get_attribute("fill") or "")
    screenshot(page, "03-map-partial")


def test_all_clear_restores_the_region(page: Any, hub: HubProcess) -> None:
    hub.issue((KHARKIV_OBLAST,))
    open_map(page, hub)
    page.wait_for_selector(region(page, KHARKIV_OBLAST, "full"))
    hub.issue((KHARKIV_OBLAST,), kind="all-clear")
    page.wait_for_selector(region(page, KHARKIV_OBLAST, "clear"), timeout=LIVE_DEADLINE_MS)
    page.wait_for_function("document.getElementById('announcer').textContent.startsWith('Відбій')")
    assert page.locator(".alert-item").count() == 0
    assert page.locator("#no-alerts").is_visible()
    screenshot(page, "04-map-all-clear")


def test_the_stream_reconnects_and_resumes_after_the_hub_restarts(
        page: Any, hub: HubProcess, problems: PageProblems) -> None:
    # The browser reports the outage itself: the cut stream, then refused reconnects.
    problems.allowed += ["ERR_CONNECTION_REFUSED", "ERR_INCOMPLETE_CHUNKED_ENCODING"]
    open_map(page, hub)
    hub.stop()
    page.wait_for_selector("#conn:not([data-state=live])", timeout=10000)
    hub.start()
    hub.issue((LVIV_OBLAST,))
    # EventSource retries after the hub's advertised 2 s; the page then re-reads the state.
    page.wait_for_selector(region(page, LVIV_OBLAST, "full"), timeout=15000)
    page.wait_for_selector("#conn[data-state=live]")


def test_keyboard_reaches_the_list_and_the_regions(page: Any, hub: HubProcess) -> None:
    hub.issue((LVIV_OBLAST,))
    open_map(page, hub)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    page.wait_for_function("location.hash === '#alerts'")
    oblast = page.locator(f'path[data-code="{LVIV_OBLAST}"]')
    assert oblast.get_attribute("tabindex") == "0"
    assert "Львівська" in (oblast.get_attribute("aria-label") or "")
    oblast.focus()
    page.keyboard.press("Enter")
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "Львівська" in popup.inner_text()
    popup.locator("a", has_text="Повітряна тривога").wait_for()


def test_language_switch_is_applied_and_remembered(page: Any, hub: HubProcess) -> None:
    hub.issue((LVIV_OBLAST,))
    open_map(page, hub)
    assert page.locator("#alerts-title").inner_text() == "Активні тривоги"
    page.click("#lang-switch")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#alerts-title").inner_text() == "Active alerts"
    assert "Air raid alert" in page.locator(".alert-item").first.inner_text()
    assert "Lviv" in page.locator(".alert-item").first.inner_text()
    assert page.locator(".kind-label").first.inner_text() == "Air raid alert"
    screenshot(page, "05-map-english")
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#alerts-title").inner_text() == "Active alerts"
    page.click("#lang-switch")
    assert page.locator("#alerts-title").inner_text() == "Активні тривоги"


def test_narrow_phone_screen_has_no_sideways_scroll(context: Any, hub: HubProcess,
                                                    problems: PageProblems) -> None:
    hub.issue((LVIV_OBLAST,), instruction="Негайно прямуйте до укриття")
    phone = context.new_page()
    phone.on("console", lambda m: problems.errors.append(m.text) if m.type == "error" else None)
    phone.set_viewport_size({"width": 360, "height": 740})
    phone.goto(hub.url + "/")
    phone.wait_for_selector("body[data-ready=true]")
    phone.locator(".alert-item").first.wait_for()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert phone.locator("#map").bounding_box()["width"] <= 360
    screenshot(phone, "06-phone")
    phone.close()


def test_first_load_is_under_1_mb_without_geometry(page: Any, hub: HubProcess) -> None:
    sizes: dict[str, int] = {}

    def record(response: Any) -> None:
        sizes[response.url] = len(response.body())

    page.on("response", record)
    open_map(page, hub)
    page.wait_for_load_state("networkidle")
    without_geometry = sum(n for url, n in sizes.items() if "/api/v1/map/layers/" not in url)
    geometry = sum(n for url, n in sizes.items() if "/api/v1/map/layers/" in url)
    assert without_geometry < 1_000_000, sizes
    assert 0 < geometry < 200_000  # the oblast layer only, until the reader zooms in


def test_newcomer_flow_issue_with_the_cli_then_click_through_to_the_verified_alert(
        page: Any, hub: HubProcess) -> None:
    """The issue's 'done when': ``tocsin issue`` colours the region; a click reaches the verdict."""
    open_map(page, hub)
    key = hub.data_dir / "demo-keys" / "demo-air-force.key"
    started = time.monotonic()
    issued = subprocess.run(
        [sys.executable, "-m", "tocsin", "issue", "--hub", hub.url, "--key", str(key),
         "--as", "demo-air-force", "--event", "Повітряна тривога", "--area", KYIV,
         "--instruction", "Негайно прямуйте до укриття"],
        capture_output=True, text=True, timeout=60, check=True)
    alert_id = issued.stdout.strip().split()[-1]
    page.wait_for_selector(region(page, KYIV, "full"), timeout=LIVE_DEADLINE_MS)
    assert time.monotonic() - started < 10  # includes starting the CLI's Python
    page.locator(f'.alert-item[data-id="{alert_id}"] h3 a').click()
    page.wait_for_selector("body[data-verdict=verified]", timeout=15000)
    assert page.url.endswith(f"/alerts/{alert_id}")
    assert page.locator("#verdict").inner_text().startswith("Перевірено. Джерело: Повітряні сили")
