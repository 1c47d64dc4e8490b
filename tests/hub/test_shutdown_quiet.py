"""SIGTERM with live streams open: the hub ends them cleanly and exits quietly.

Found by an independent review: every open stream was cancelled after the 2-second grace
and logged a ``CancelledError`` traceback ("Exception in ASGI application"). Now the hub
tells its streams it is closing as soon as shutdown begins; each ends its response
properly (SSE clients see a clean end of stream and reconnect elsewhere or later).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tocsin.testing import HubProcess

pytestmark = pytest.mark.timeout(60)
KYIV = "UA80000000000093317"


def test_sigterm_with_open_streams_exits_quietly_and_ends_them_cleanly(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data")
    hub.start()
    endings: list[str] = []

    def read() -> None:
        try:
            with httpx.stream("GET", f"{hub.url}/api/v1/stream?regions={KYIV}", timeout=None) as r:
                for _ in r.iter_lines():
                    pass
            endings.append("clean")
        except httpx.HTTPError as exc:
            endings.append(type(exc).__name__)

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    for _ in range(400):  # until the three subscribers are registered
        if httpx.get(f"{hub.url}/healthz").json()["subscribers"] >= 3:
            break
    started = time.monotonic()
    hub.stop()
    took = time.monotonic() - started
    for reader in readers:
        reader.join(10)
    assert hub.proc is not None and hub.proc.stdout is not None
    output = hub.proc.stdout.read().decode()
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert "timeout graceful shutdown exceeded" not in output, output
    assert endings == ["clean"] * 3
    assert took < 2.0  # no waiting out the grace period
