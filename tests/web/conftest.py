"""Web tests: a real ``tocsin serve --demo`` process and a real Chromium driven by Playwright.

The browser is Debian's ``/usr/bin/chromium`` (Playwright cannot download
browsers here); under ``CI`` a missing browser fails the test (it never skips), elsewhere it
skips with a clear message. Every page a test opens fails the test if
it logged a console error or threw. Screenshots go to ``test-artifacts/web``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tocsin.client import HubClient
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess as BaseHubProcess
from tocsin.testing import chromium, free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
VECTORS = Path(__file__).resolve().parents[1] / "vectors"

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
ODESA_OBLAST = "UA51000000000030770"
KHARKIV_OBLAST = "UA63000000000041885"


class HubProcess(BaseHubProcess):
    """The demo hub, plus issuing by region codes as ``tocsin issue`` does."""

    def issue(self, areas: tuple[str, ...], *, issuer: str = "demo-air-force",
              kind: str = "air-raid", **kw: Any) -> dict[str, Any]:
        """Issue through the public API, as ``tocsin issue`` does; returns the hub's answer."""
        alert = compose_alert(AlertFacts(issuer_id=issuer, kind=kind, areas=areas,
                                         expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))
        with HubClient(self.url) as client:
            return client.issue(alert, self.signer(issuer))


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", free_port())
    process.start()
    yield process
    process.stop()


# -- the browser ------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


@dataclass
class PageProblems:
    """Console errors and uncaught exceptions a page produced."""

    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)  # substrings a test expects (e.g. a 503)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@pytest.fixture
def problems() -> PageProblems:
    return PageProblems()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 820}, locale="uk-UA")
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any, problems: PageProblems) -> Iterator[Any]:
    """A fresh tab that fails the test on any console error or uncaught exception."""
    tab = context.new_page()
    tab.on("console", lambda m: problems.errors.append(f"console {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.errors.append(f"pageerror {e}"))
    yield tab
    assert problems.unexpected() == [], "the page logged errors"


def screenshot(page: Any, name: str) -> Path:
    """Save a test artefact (``test-artifacts/web/<name>.png``, git-ignored)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


# -- both screens the issue names: desktop and phone --------------------------------

SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(SCREENS))
def screen(request: Any) -> str:
    """Run the test once per screen size (desktop 1280×900, phone 390×844)."""
    return str(request.param)


def open_tab(browser: Any, problems: PageProblems, screen: str, **options: Any) -> Any:
    """A new context and tab at ``screen`` size that records console errors into ``problems``."""
    ctx = browser.new_context(viewport=SCREENS[screen], locale="uk-UA", timezone_id="Europe/Kyiv",
                              is_mobile=screen == "phone", has_touch=screen == "phone", **options)
    tab = ctx.new_page()
    tab.on("console", lambda m: problems.errors.append(f"console {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.errors.append(f"pageerror {e}"))
    return tab


@pytest.fixture
def tab(browser: Any, problems: PageProblems, screen: str, hub: HubProcess) -> Iterator[Any]:
    """A tab at the parametrised screen size; fails the test on console errors.

    It depends on ``hub`` so the tab closes before the hub stops (a stream cut by the
    hub's shutdown is not the page's error).
    """
    page = open_tab(browser, problems, screen)
    yield page
    page.context.close()
    assert problems.unexpected() == [], "the page logged errors"
