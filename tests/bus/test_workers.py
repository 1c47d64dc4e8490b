"""``tocsin serve --workers 2``: two edge processes behind one port plus the writer (issue 14)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.bus.conftest import CLOSED, SseReader, health, issue, signed_alert

from tocsin.testing import HubProcess, NatsProcess


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[HubProcess]:
    nats = NatsProcess()
    nats.start()
    hub = HubProcess(tmp_path / "data", args=("--workers", "2", "--bus", nats.url),
                     env={"TOCSIN_BUS_POLL_SECS": "2"})
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
        nats.stop()


def _edge_pids(hub: HubProcess, want: int, *, besides: set[int] = frozenset(),  # type: ignore[assignment]
               timeout: float = 30.0) -> set[int]:
    """The edge pids answering on the port, once ``want`` of them are not in ``besides``."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = health(hub.url)  # a new connection each time: the kernel picks an edge
        assert state["role"] == "edge"
        seen.add(state["pid"])
        if len(seen - besides) >= want:
            return seen
        time.sleep(0.02)  # polling other processes' state
    raise AssertionError(f"edges seen: {seen}")


def _pid_holding_subscribers(hub: HubProcess) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = health(hub.url)
        if state["subscribers"] >= 1:
            return int(state["pid"])
    raise AssertionError("no edge says it holds the subscriber")


def test_two_edges_share_the_port_and_a_killed_one_is_replaced_without_losing_an_alert(
        workers: HubProcess) -> None:
    first = _edge_pids(workers, 2)
    assert workers.proc is not None and workers.proc.pid not in first  # the writer is apart
    reader = SseReader(workers.url)
    reader.wait_connected()
    one = issue(workers.url, signed_alert(workers))  # handed to the writer by whichever edge
    got = reader.next()
    assert got.alert_id == one["id"]
    os.kill(_pid_holding_subscribers(workers), signal.SIGKILL)
    assert reader.next().id == CLOSED
    two = issue(workers.url, signed_alert(workers))  # while the subscriber is away
    resumed = SseReader(workers.url, last_event_id=got.id)  # lands on any edge of the port
    again = resumed.next()
    assert (again.alert_id, again.id) == (two["id"], got.id + 1)  # no gap, no duplicate
    resumed.close()
    _edge_pids(workers, 1, besides=first)  # the dead edge was started again
