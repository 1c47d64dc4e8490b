"""My place: chosen by name (any case form) or by geolocation, remembered, said first."""

from __future__ import annotations

from typing import Any

from web.conftest import KYIV, LVIV_OBLAST, HubProcess, PageProblems, open_tab, screenshot

LVIV_CITY = (49.8419, 24.0315)


def test_choose_my_place_by_name_and_it_is_said_first_and_remembered(
        tab: Any, hub: HubProcess, screen: str) -> None:
    tab.goto(hub.url + "/")
    tab.wait_for_selector("body[data-ready=true]")
    status = tab.locator("#my-place")
    assert status.get_attribute("data-state") == "unset"
    tab.fill("#place-input", "у Києві")  # an inflected form finds the city
    tab.click("#place-search")
    tab.locator(f'#place-results button[data-code="{KYIV}"]').click()
    tab.wait_for_selector("#my-place[data-state=clear]")
    assert status.inner_text() == "Київ: тривоги немає"
    assert tab.locator(f'path[data-code="{KYIV}"]').get_attribute("class").find("my-place") >= 0
    # The status line is the first thing on the page after the header.
    first = tab.evaluate("document.querySelector('main').firstElementChild.id")
    assert first == "my-place-box"
    hub.issue((KYIV,), instruction="Негайно прямуйте до укриття")
    tab.wait_for_selector("#my-place[data-state=threat]", timeout=3000)
    assert status.inner_text().startswith("Київ: повітряна тривога, ")
    todo = tab.locator("#my-place-todo")  # since when and what to do, right under it
    assert "Негайно прямуйте до укриття" in todo.inner_text() and todo.inner_text().startswith("Відколи")
    box = status.bounding_box()
    assert box["y"] + box["height"] < 300  # at the very top, on a phone too
    screenshot(tab, f"33-my-place-{screen}")
    tab.reload()
    tab.wait_for_selector("#my-place[data-state=threat]")
    assert tab.evaluate("localStorage.getItem('tocsin.place')") is not None


def test_a_notice_for_my_place_is_not_a_threat(tab: Any, hub: HubProcess) -> None:
    hub.issue((KYIV,), issuer="demo-embassy", kind="facility-closed")
    tab.goto(hub.url + "/")
    tab.wait_for_selector("body[data-ready=true]")
    tab.evaluate(f"localStorage.setItem('tocsin.place', JSON.stringify({{code: '{KYIV}'}}))")
    tab.reload()
    tab.wait_for_selector("#my-place[data-state=notice]")
    text = tab.locator("#my-place").inner_text()
    assert text.startswith("Київ: тривоги немає"), text
    assert "Установа зачинена" in text


def test_choose_my_place_by_geolocation(browser: Any, hub: HubProcess, problems: PageProblems) -> None:
    hub.issue((LVIV_OBLAST,))
    tab = open_tab(browser, problems, "phone", permissions=["geolocation"],
                   geolocation={"latitude": LVIV_CITY[0], "longitude": LVIV_CITY[1]})
    tab.goto(hub.url + "/")
    tab.wait_for_selector("body[data-ready=true]")
    tab.click("#place-locate")
    tab.wait_for_selector("#my-place[data-state=threat]", timeout=5000)
    text = tab.locator("#my-place").inner_text()
    assert text.startswith("Львівська") and "повітряна тривога" in text, text
    code = tab.evaluate("JSON.parse(localStorage.getItem('tocsin.place')).code")
    assert code.startswith("UA46")  # a hromada of Lviv oblast
    tab.context.close()
    assert problems.unexpected() == []
