"""Checker tests run a real ``tocsin serve --demo`` process and talk HTTP to it.

The fixture is the same idea as ``tests/hub/conftest.py`` (kept separate so the
two test suites can change independently).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.cap.model import Alert
from tocsin.client import HubClient
from tocsin.compose import AlertFacts, compose_alert
from tocsin.trust.note import Signer

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"
LVIV_OBLAST = "UA46000000000026241"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HubProcess:
    """A ``tocsin serve --demo`` child process and how to reach it."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--demo", "--data-dir", str(self.data_dir),
             "--port", str(self.port), "--log-level", "warning"],
            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
            time.sleep(0.05)  # polling a child's readiness, not waiting for a result
        raise RuntimeError("hub did not become healthy within 30 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)

    def signer(self, issuer_id: str) -> Signer:
        key = (self.data_dir / "demo-keys" / f"{issuer_id}.key").read_text().strip()
        return Signer.from_skey(key)

    def key_path(self, issuer_id: str) -> Path:
        return self.data_dir / "demo-keys" / f"{issuer_id}.key"

    def client(self) -> HubClient:
        return HubClient(self.url)

    def issue(self, alert: Alert, issuer: str) -> dict[str, Any]:
        with self.client() as client:
            return client.issue(alert, self.signer(issuer))

    def check(self, text: str) -> dict[str, Any]:
        """POST /api/v1/check, waiting (bounded) until new alerts are under a checkpoint."""
        deadline = time.monotonic() + 10
        while True:
            response = httpx.post(self.url + "/api/v1/check", json={"text": text}, timeout=30)
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            pending = any("not yet covered" in n for n in body.get("notes", []))
            if not pending or time.monotonic() > deadline:
                return body
            time.sleep(0.05)  # the checkpoint is signed within 50 ms of an append


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("hub") / "data", free_port())
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,),
               **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))
