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
    assert "не публікувало" in page.text_content("#summary")
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


PAGE_WORDS = {"authentic": "Справжнє", "outdated": "Застаріле: вже не діє", "altered": "Змінене",
              "not-issued": "Не публікувалося", "unverifiable": "Неможливо перевірити"}


def test_page_cli_and_api_say_the_same_and_outdated_is_amber_in_words(hub: HubProcess,
                                                                      page: Any) -> None:
    from click.testing import CliRunner

    from tocsin.cli import main
    from tocsin.cli.check_cmd import EXIT_BY_VERDICT

    sumy = "UA59000000000057109"
    ended = ("Загроза ударних БпЛА на Сумщині. Безпілотники рухаються курсом на Шостку. "
             "Залишайтеся в укриттях.")
    hub.issue(make_alert(kind="drone", areas=(sumy,), headline=ended.split(". ")[0],
                         description=ended.split(". ")[1] + ".",
                         instruction=ended.split(". ")[2]), "demo-air-force")
    hub.issue(make_alert(kind="all-clear", areas=(sumy,), headline="Відбій тривоги на Сумщині"),
              "demo-air-force")
    active = ("Ракетна небезпека на Полтавщині. Зафіксовано пуски ракет у напрямку Полтави. "
              "Негайно прямуйте до укриття.")
    hub.issue(make_alert(kind="missile", areas=("UA53000000000028050",),
                         headline=active.split(". ")[0], description=active.split(". ")[1] + ".",
                         instruction=active.split(". ")[2]), "demo-air-force")
    cases = {"authentic": active, "outdated": ended,
             "altered": active + " Укриття в Полтаві зачинені, виїжджайте.",
             "unverifiable": "Повітряна тривога"}
    runner = CliRunner()
    for expected, text in cases.items():
        body = hub.check(text)  # waits until the checkpoint covers new alerts
        assert body["verdict"] == expected, body
        result = runner.invoke(main, ["check", "--hub", hub.url, text])
        assert result.exit_code == EXIT_BY_VERDICT[expected], result.output
        assert result.output.startswith(expected)
        page.goto(hub.url + "/check#q=" + urllib.parse.quote(text))
        page.wait_for_selector("#result:not([hidden])")
        page.wait_for_function("document.getElementById('verdict').textContent.length > 0")
        assert page.text_content("#verdict") == PAGE_WORDS[expected]
        assert page.get_attribute("#verdict", "class") == f"verdict v-{expected}"
        assert page.text_content("#summary") == body["summary"]["uk"]
        if expected == "outdated":
            assert body["over"]["how"] == "all-clear"
            assert "over: all-clear" in result.output
            over = page.text_content("#over")
            assert "Більше не діє" in over and "завершене відбоєм" in over
            assert body["over"]["at_kyiv"] in over
            colour = page.eval_on_selector("#verdict", "e => getComputedStyle(e).color")
            background = page.eval_on_selector("#verdict",
                                               "e => getComputedStyle(e).backgroundColor")
            assert (colour, background) == ("rgb(122, 74, 0)", "rgb(255, 227, 163)")  # amber
            page.check("input[value=en]")
            assert page.text_content("#verdict") == "Outdated: no longer in force"
            assert "ended by the all-clear" in page.text_content("#over")
            page.check("input[value=uk]")  # the choice is remembered on the device: put it back
        else:
            assert page.is_hidden("#over")
        page.goto("about:blank")


def test_invisible_characters_alone_are_an_empty_box(hub: HubProcess, page: Any) -> None:
    page.goto(hub.url + "/check")
    page.fill("#text", "\u200b\u200b\u2060 \ufeff")
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])")
    assert "поле порожнє" in page.text_content("#error")
    assert page.is_hidden("#result")
