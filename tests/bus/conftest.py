"""A writer, two edges and a real nats-server on 127.0.0.1, and a live-stream reader."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess, NatsProcess

KYIV = "UA80000000000093317"
POLL_SECS = 2.0  # the edges' store poll: the bound on delay without doorbells (the maximum)
CLOSED = -1


@dataclass
class Cluster:
    nats: NatsProcess
    writer: HubProcess
    edges: list[HubProcess]


def edge_process(data_dir: Path, bus: str) -> HubProcess:
    return HubProcess(data_dir, args=("--role", "edge", "--bus", bus),
                      env={"TOCSIN_BUS_POLL_SECS": str(POLL_SECS)})


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    data = tmp_path_factory.mktemp("bus") / "data"
    nats = NatsProcess()
    nats.start()
    writer = HubProcess(data, args=("--role", "writer", "--bus", nats.url))
    writer.start()
    edges = [edge_process(data, nats.url) for _ in range(2)]
    try:
        for edge in edges:
            edge.start()
        yield Cluster(nats, writer, edges)
    finally:
        for edge in edges:
            edge.stop()
        writer.stop()
        nats.stop()


def signed_alert(hub: HubProcess, issuer: str = "demo-air-force",
                 areas: tuple[str, ...] = (KYIV,)) -> dict[str, str]:
    alert = compose_alert(AlertFacts(issuer_id=issuer, areas=areas, kind="air-raid",
                                     expires_in=timedelta(hours=1)))
    cap = to_xml(alert)
    return issue_request(cap, sign_cap(cap, hub.signer(issuer)))


def issue(url: str, body: dict[str, str]) -> dict[str, Any]:
    """POST an alert to ``url``; its 201 body."""
    response = httpx.post(f"{url}/api/v1/alerts", json=body, timeout=30)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def health(url: str) -> dict[str, Any]:
    data: dict[str, Any] = httpx.get(f"{url}/healthz", timeout=10).json()
    return data


def wait_health(url: str, key: str, value: Any, timeout: float = 20.0) -> dict[str, Any]:
    """Poll a child process's /healthz until ``key`` has ``value`` (or fail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = health(url)
        if data.get(key) == value:
            return data
        time.sleep(0.05)  # polling another process's state, not waiting for a result
    raise AssertionError(f"{url}: {key} never became {value!r}: {health(url)}")


@dataclass
class Received:
    id: int
    alert_id: str
    at: float  # time.monotonic() when it arrived


@dataclass
class SseReader:
    """Reads one SSE stream in a thread; every event (and the stream's end) goes to ``events``."""

    url: str
    last_event_id: int | None = None
    events: queue.Queue[Received] = field(default_factory=queue.Queue)
    connected: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._client = httpx.Client(timeout=httpx.Timeout(30, read=60))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        headers = {} if self.last_event_id is None else {"Last-Event-ID": str(self.last_event_id)}
        event_id = 0
        try:
            with self._client.stream("GET", f"{self.url}/api/v1/stream?regions={KYIV}",
                                     headers=headers) as response:
                for line in response.iter_lines():
                    if line.startswith(": connected"):
                        self.connected.set()
                    elif line.startswith("id: "):
                        event_id = int(line[4:])
                    elif line.startswith("data: ") and event_id:
                        data = json.loads(line[6:])
                        self.events.put(Received(event_id, data["id"], time.monotonic()))
                        event_id = 0
        except (httpx.HTTPError, RuntimeError, ValueError):
            pass
        self.events.put(Received(CLOSED, "", time.monotonic()))

    def wait_connected(self) -> None:
        assert self.connected.wait(20), f"{self.url}: the stream never connected"

    def next(self, timeout: float = 20.0) -> Received:
        return self.events.get(timeout=timeout)

    def close(self) -> None:
        self._client.close()
