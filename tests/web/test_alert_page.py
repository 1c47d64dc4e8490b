"""The alert page says at the top, in words, when an alert is over; a phone sees Where and What first."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from tocsin.cap.model import Reference
from tocsin.client import HubClient
from tocsin.compose import compose_cancel
from web.conftest import KYIV, LVIV_OBLAST, SCREENS, HubProcess, PageProblems, screenshot


def open_alert(tab: Any, hub: HubProcess, alert_id: str) -> None:
    tab.goto(f"{hub.url}/alerts/{alert_id}")
    tab.wait_for_selector("body[data-verdict=verified]", timeout=15000)


def above_the_fold(tab: Any, selector: str, screen: str) -> bool:
    box = tab.locator(selector).bounding_box()
    return box is not None and box["y"] + box["height"] <= SCREENS[screen]["height"]


def test_an_ended_alert_says_ended_by_whom_and_when_above_the_fold(
        tab: Any, hub: HubProcess, screen: str) -> None:
    first = hub.issue((LVIV_OBLAST,), instruction="Негайно прямуйте до укриття")
    hub.issue((LVIV_OBLAST,), kind="all-clear")
    open_alert(tab, hub, first["id"])
    over = tab.locator("#over")
    assert over.get_attribute("data-reason") == "ended"
    text = over.inner_text()
    assert text.startswith("Завершено"), text
    assert "Повітряні сили" in text and "за київським часом" in text
    assert above_the_fold(tab, "#over", screen)
    verdict = tab.locator("#verdict").inner_text()
    assert "вже не чинне" in verdict  # verified, but never presented as live
    assert tab.locator("#trust").get_attribute("data-over") == "ended"
    screenshot(tab, f"40-alert-ended-{screen}")


def test_the_alert_page_opens_with_where_and_what_to_do(tab: Any, hub: HubProcess, screen: str) -> None:
    live = hub.issue((KYIV,), instruction="Негайно прямуйте до укриття")
    open_alert(tab, hub, live["id"])
    assert tab.locator("#over").is_hidden()
    where = tab.locator("#where")
    assert where.inner_text().startswith("Де") and "Київ" in where.inner_text()
    assert "UA80" not in tab.locator("#where").inner_text()
    assert "Негайно прямуйте до укриття" in tab.locator("#todo").inner_text()
    assert above_the_fold(tab, "#where", screen) and above_the_fold(tab, "#todo", screen)
    assert tab.locator("#where").bounding_box()["y"] < tab.locator("#trust").bounding_box()["y"]
    assert tab.locator("#verdict").inner_text().startswith("Перевірено")
    text = tab.locator("main").inner_text()
    assert "Ймовірність" in text and "Достовірність" not in text
    screenshot(tab, f"41-alert-live-{screen}")


def test_a_test_or_exercise_alert_says_so_at_the_top(tab: Any, hub: HubProcess, screen: str) -> None:
    """An independent review found a Test air raid's page looked exactly like a live one."""
    for status, words in (("Test", "ТЕСТ"), ("Exercise", "НАВЧАННЯ")):
        drill = hub.issue((KYIV,), status=status, instruction="Негайно прямуйте до укриття")
        open_alert(tab, hub, drill["id"])
        over = tab.locator("#over")
        assert over.get_attribute("data-reason") == "not-actual"
        assert over.inner_text().startswith(words) and "не справжня тривога" in over.inner_text()
        assert above_the_fold(tab, "#over", screen)
        assert "не справжня тривога" in tab.locator("#verdict").inner_text()
        assert tab.locator("#trust").get_attribute("data-over") == "not-actual"


def test_a_cancelled_alert_says_cancelled(tab: Any, hub: HubProcess, screen: str) -> None:
    first = hub.issue((KYIV,), issuer="demo-kyiv-city", identifier="kyiv-cancel-1")
    ref = Reference(sender=first["sender"], identifier=first["identifier"], sent=first["sent"])
    with HubClient(hub.url) as client:
        client.issue(compose_cancel(issuer_id="demo-kyiv-city", sender=first["sender"], original=ref),
                     hub.signer("demo-kyiv-city"))
    open_alert(tab, hub, first["id"])
    over = tab.locator("#over")
    assert over.get_attribute("data-reason") == "cancelled"
    assert over.inner_text().startswith("Скасовано")
    assert above_the_fold(tab, "#over", screen)


def test_an_alert_that_expires_while_open_says_expired(tab: Any, hub: HubProcess) -> None:
    short = hub.issue((KYIV,), expires_in=timedelta(seconds=4))
    open_alert(tab, hub, short["id"])
    tab.wait_for_selector("#over[data-reason=expired]", timeout=10000)
    assert tab.locator("#over").inner_text().startswith("Термін дії минув")


def test_an_unknown_alert_id_is_not_found_not_a_failed_check(
        tab: Any, hub: HubProcess, problems: PageProblems) -> None:
    problems.allowed.append("404 (Not Found)")  # the browser logs the page's own status
    missing = "0" * 64
    assert httpx.get(f"{hub.url}/alerts/{missing}").status_code == 404
    tab.goto(f"{hub.url}/alerts/{missing}")
    text = tab.locator("main").inner_text()
    assert "не знайдено" in text.lower()
    assert "перевірка не пройшла" not in text.lower()
