"""Web tests: a real ``tocsin serve --demo`` process and a real Chromium driven by Playwright.

The browser is Debian's ``/usr/bin/chromium`` (Playwright cannot download
browsers here); browser tests skip with a clear message when it or the
``playwright`` package is missing. Every page a test opens fails the test if
it logged a console error or threw. Screenshots go to ``test-artifacts/web``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.client import HubClient
from tocsin.compose import AlertFacts, compose_alert
from tocsin.trust.note import Signer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
SHARED = (Path(__file__).parents[2] / ".." / "shared").resolve()

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
ODESA_OBLAST = "UA51000000000030770"
KHARKIV_OBLAST = "UA63000000000041885"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HubProcess:
    """A ``tocsin serve --demo`` child process; restartable on the same port and data."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--demo", "--data-dir", str(self.data_dir),
             "--port", str(self.port), "--log-level", "warning"],
            env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{out}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)  # polling a child process's port, not waiting for a result
        raise RuntimeError("hub did not become healthy within 30 s")

    def stop(self) -> None:
        """SIGTERM; a hub still holding a browser's live stream open gets SIGKILL after 5 s."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def signer(self, issuer_id: str) -> Signer:
        return Signer.from_skey((self.data_dir / "demo-keys" / f"{issuer_id}.key").read_text().strip())

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
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_api.sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield instance
        instance.close()


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
