"""The /check page in a real browser (Debian chromium via Playwright): verdicts, no HTML injection."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from tests.check.conftest import HubProcess, make_alert

from tocsin.testing import chromium

HOSTILE = ('<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> '
           "ГУР МО попереджає: завтра <b>масований</b> удар по Києву")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(locale="uk-UA")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: errors.append(f"dialog: {dialog.message}"))
    yield page
    context.close()
    assert errors == []


def test_pasting_hostile_text_shows_a_verdict_and_never_runs_it(hub: HubProcess, page: Any) -> None:
    page.goto(hub.url + "/check")
    page.fill("#text", HOSTILE)
    page.click("#submit")
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#verdict") == "Не публікувалося"
    assert "не публікували" in page.text_content("#summary")
    assert page.evaluate("window.__pwned") is None
    assert page.query_selector("#result img") is None and page.query_selector("#result b") is None
    page.check("input[value=en]")
    assert page.text_content("#verdict") == "Not issued"
    share = page.get_attribute("#share", "href")
    assert share.startswith("/check#q=")
    assert urllib.parse.unquote(share.removeprefix("/check#q=")) == HOSTILE


def test_a_shared_link_reruns_the_check_and_shows_the_alert(hub: HubProcess, page: Any) -> None:
    text = "Повітряна тривога у місті Києві. Загроза ударних БпЛА з Чернігівщини. Прямуйте в укриття."
    hub.issue(make_alert(kind="drone", headline="Повітряна тривога у місті Києві",
                         description="Загроза ударних БпЛА з Чернігівщини.",
                         instruction="Прямуйте в укриття."), "demo-air-force")
    hub.check(text)  # until the checkpoint covers it
    page.goto(hub.url + "/check#q=" + urllib.parse.quote(text))
    page.wait_for_selector("#result:not([hidden])")
    assert page.text_content("#verdict") == "Справжнє"
    assert page.input_value("#text") == text
    links = page.eval_on_selector_all("#alert a", "els => els.map(e => e.getAttribute('href'))")
    assert any(h.endswith("/proof") for h in links)
