"""Real servers for tests: a demo hub in a child process, or any ASGI app in a thread.

``serve_asgi`` runs an app (a witness, a static log mirror) under uvicorn on
127.0.0.1; the socket listens before the thread starts, so nothing waits.
``HubProcess`` starts ``tocsin serve --demo`` on 127.0.0.1, waits until
``/healthz`` answers, and can stop it (SIGTERM), kill it (SIGKILL, for crash
tests) and start it again on the same port and data directory.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import uvicorn

from tocsin.client import HubClient
from tocsin.trust.note import Signer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage")

STARTUP_TIMEOUT_SECS = 30.0
STOP_TIMEOUT_SECS = 10.0


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (it never downloads a browser of its own).

    Without the browser or the ``playwright`` package the caller is told to
    skip — except under CI (``CI`` set), where a missing browser is a failure:
    browser tests must not pass by not running.
    """
    import pytest

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("the playwright package is not installed")
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            raise RuntimeError(f"{CHROMIUM} is missing; scripts/test installs it")
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test does)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def serve_asgi(app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port; yield its base URL.

    ``lifespan="on"`` runs the app's startup and shutdown (an in-process hub).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan=lifespan))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class HubProcess:
    """A ``tocsin serve`` child process (``--demo`` unless ``demo=False``) and how to reach it.

    ``args`` are extra ``tocsin serve`` arguments (e.g. ``--registry FILE``).
    """

    data_dir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    demo: bool = True
    args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the hub and return once it is healthy (or raise with its output)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", *(["--demo"] if self.demo else []),
             "--data-dir", str(self.data_dir), "--port", str(self.port), "--log-level", "warning",
             *self.args],
            env={**os.environ, **self.env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECS
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
        raise RuntimeError(f"hub did not become healthy within {STARTUP_TIMEOUT_SECS:.0f} s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (SIGKILL by default: a crash) and wait for the process to end."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_SECS)

    def stop(self) -> None:
        """A graceful stop (SIGTERM)."""
        self.kill(signal.SIGTERM)

    def key_path(self, issuer_id: str) -> Path:
        return self.data_dir / "demo-keys" / f"{issuer_id}.key"

    def signer(self, issuer_id: str) -> Signer:
        """A demo issuer's signing key."""
        return Signer.from_skey(self.key_path(issuer_id).read_text().strip())

    def client(self) -> HubClient:
        return HubClient(self.url)


TINY_COUNTRY_TABLE = """code,level,name,parent,iso_3166_2
XW,oblast,West,,XX-W
XE,oblast,East,,XX-E
XW1,hromada,West One,XW,
XW2,hromada,West Two,XW,
XE1,hromada,East One,XE,
"""


def write_tiny_country(directory: Path) -> Path:
    """A made-up country as a region data directory (``units.csv`` + ``units.geojson``).

    Provinces ``XW`` (lon 0..1) and ``XE`` (lon 1..2), lat 0..1; ``XW`` holds municipalities
    ``XW1`` and ``XW2`` split at lon 0.5, ``XE`` one, ``XE1``. It proves nothing assumes Ukraine.
    """
    import json

    def square(code: str, west: float, east: float) -> dict[str, object]:
        ring = [[west, 0.0], [east, 0.0], [east, 1.0], [west, 1.0], [west, 0.0]]
        return {"type": "Feature", "properties": {"code": code},
                "geometry": {"type": "Polygon", "coordinates": [ring]}}

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "units.csv").write_text(TINY_COUNTRY_TABLE, encoding="utf-8")
    features = [square("XW1", 0, 0.5), square("XW2", 0.5, 1), square("XE1", 1, 2)]
    (directory / "units.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    return directory
