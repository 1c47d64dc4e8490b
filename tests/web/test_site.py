"""One header on every page, the demo banner, HTML errors with the right status, a favicon."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from web.conftest import KYIV, HubProcess, PageProblems

PAGES = ["/", "/check", "/issuers", f"/regions/{KYIV}", "/about"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_one_header_and_the_demo_banner(tab: Any, hub: HubProcess, path: str) -> None:
    tab.goto(hub.url + path)
    header = tab.locator("header.site")
    assert header.count() == 1
    hrefs = header.locator("a").evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    for target in ("/", "/check", "/issuers", "/about"):
        assert target in hrefs, (path, hrefs)
    banner = tab.locator("#demo-banner")
    assert banner.is_visible()
    assert "ДЕМО — це не справжні тривоги" in banner.inner_text()
    assert "DEMO — not real alerts" in banner.inner_text()
    assert tab.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def test_the_about_page_says_what_tocsin_is(tab: Any, hub: HubProcess) -> None:
    response = tab.goto(hub.url + "/about")
    assert response.status == 200
    assert "Tocsin" in tab.locator("main h2").first.inner_text()


@pytest.mark.parametrize("path", ["/alrts/1234", "/regions/UA99", "/issuers/nobody", "/nothing/here",
                                  "/alerts/" + "0" * 64])
def test_html_errors_carry_the_status_and_the_page_language(hub: HubProcess, path: str) -> None:
    response = httpx.get(hub.url + path, headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="uk">' in response.text
    assert 'class="site' in response.text and "Не знайдено" in response.text


def test_api_errors_stay_json(hub: HubProcess) -> None:
    response = httpx.get(hub.url + "/api/v1/nothing", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert httpx.post(hub.url + "/api/v1/map/state").status_code == 405


def test_the_error_page_switches_language_with_the_reader(
        tab: Any, hub: HubProcess, problems: PageProblems) -> None:
    problems.allowed.append("404 (Not Found)")  # the browser logs the page's own status
    tab.goto(hub.url + "/")
    tab.evaluate("localStorage.setItem('tocsin.lang', 'en')")
    response = tab.goto(hub.url + "/no/such/page")
    assert response.status == 404
    tab.wait_for_function("document.documentElement.lang === 'en'")
    assert "Not found" in tab.locator("main").inner_text()


def test_a_favicon_is_served(hub: HubProcess) -> None:
    for path in ("/favicon.ico", "/static/favicon.svg"):
        response = httpx.get(hub.url + path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("image/")
    page = httpx.get(hub.url + "/").text
    assert 'rel="icon" href="/static/favicon.svg"' in page


def test_region_page_counts_threats_only_and_says_durations_in_words(tab: Any, hub: HubProcess) -> None:
    hub.issue((KYIV,), issuer="demo-embassy", kind="facility-closed", event="Посольство зачинене")
    tab.goto(f"{hub.url}/regions/{KYIV}")
    tab.wait_for_selector("body[data-ready=true]")
    assert tab.locator("#coverage").get_attribute("data-coverage") == "none"
    assert "Посольство зачинене" in tab.locator("#notices").inner_text()
    assert "UA80" not in tab.locator("main").inner_text()
    assert tab.evaluate("duration(3900)") == "1 год 5 хв"
    assert tab.evaluate("duration(300)") == "5 хв"


def test_a_trailing_slash_still_leads_to_the_page(hub: HubProcess) -> None:
    response = httpx.get(hub.url + "/issuers/?x=1", headers={"Accept": "text/html"})
    assert response.status_code == 307
    assert response.headers["location"] == "/issuers?x=1"


def test_a_mistyped_check_address_is_an_html_404(hub: HubProcess) -> None:
    """An independent review found /check/x answering raw JSON to a browser."""
    page = httpx.get(f"{hub.url}/check/x", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    api = httpx.get(f"{hub.url}/check/x")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
