"""The /check page reads as Ukrainian, in local time, on a phone without sideways scrolling."""

from __future__ import annotations

import re
from typing import Any

from web.conftest import LVIV_OBLAST, HubProcess, screenshot


def check(tab: Any, hub: HubProcess, text: str) -> None:
    tab.goto(hub.url + "/check")
    tab.fill("#text", text)
    tab.click("#submit")
    tab.wait_for_selector("#result:not([hidden])")


def test_a_match_reads_in_ukrainian_local_time_and_fits_the_screen(
        tab: Any, hub: HubProcess, screen: str) -> None:
    alert = hub.issue((LVIV_OBLAST,), instruction="Негайно прямуйте до укриття")
    check(tab, hub, alert["id"])
    tab.wait_for_selector("#alert-box:not([hidden])")
    tab.wait_for_selector("#alert-box [data-field=where]")
    text = tab.locator("#result").inner_text()
    assert "authentic" not in text.lower()
    assert not re.search(r"\d+ / \d+", text), text  # not "Запис у журналі 7 / 9"
    assert "+00:00" not in text and not re.search(r"\d{4}-\d\d-\d\dT", text)
    assert "за київським часом" in text
    assert "Львівська область" in tab.locator("#alert-box [data-field=where]").inner_text()
    assert "чинне" in tab.locator("#alert-box [data-field=in-force]").inner_text()
    # The share link wraps: no sideways scroll on a phone.
    assert tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert tab.locator("header.site").count() == 1
    screenshot(tab, f"50-check-{screen}")


def test_whitespace_only_input_gets_feedback(tab: Any, hub: HubProcess) -> None:
    tab.goto(hub.url + "/check")
    tab.fill("#text", "   \n  ")
    tab.click("#submit")
    error = tab.locator("#error")
    error.wait_for()
    assert "Вставте" in error.inner_text()


def test_a_long_text_share_link_does_not_widen_the_phone_page(tab: Any, hub: HubProcess) -> None:
    check(tab, hub, "Повітряна тривога у Львові " * 60)
    assert tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
