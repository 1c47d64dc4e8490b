"""Hub tests run a real ``tocsin serve`` process on 127.0.0.1 and talk HTTP to it."""

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
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tocsin", "serve", "--demo", "--data-dir", str(self.data_dir),
             "--port", str(self.port), "--log-level", "warning"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
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
            time.sleep(0.05)
        raise RuntimeError("hub did not become healthy within 30 s")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def signer(self, issuer_id: str) -> Signer:
        key = (self.data_dir / "demo-keys" / f"{issuer_id}.key").read_text().strip()
        return Signer.from_skey(key)

    def client(self) -> HubClient:
        return HubClient(self.url)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", free_port())
    process.start()
    yield process
    process.stop()


def make_alert(issuer: str = "demo-air-force", areas: tuple[str, ...] = (KYIV,), **kw: Any) -> Alert:
    kw.setdefault("kind", "air-raid")
    return compose_alert(AlertFacts(issuer_id=issuer, areas=areas,
                                    expires_in=kw.pop("expires_in", timedelta(hours=1)), **kw))
