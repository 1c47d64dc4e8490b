"""A leading writer, a standby writer and two edges on PostgreSQL + NATS (issue 14).

Real processes only: ``tocsin serve`` children, Debian's PostgreSQL and nats-server. The
standby holds a copy of the leader's data directory (log key, registry, demo keys) and
waits for the store's writer lock; the edges have no ``writer_url`` and hand writes to
whichever writer the store names as leader.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.bus.conftest import CLOSED, Received, SseReader, health, signed_alert, wait_health

from tocsin.store.integrity import read_log_key
from tocsin.testing import HubProcess, NatsProcess
from tocsin.testing_postgres import PostgresServer
from tocsin.tlog.checkpoint import Checkpoint, sign_checkpoint

#: The issue's bound: the standby leads within 5 s of the leader's death.
TAKEOVER_SECS = 5.0
POLL_SECS = 1.0  # the edges' look at the store while NATS is away
SLACK_SECS = 1.5  # a loaded 2-core machine: verification, fsync, parsing
#: What a writer that finds another writer leads exits with (systemd restarts it a standby).
EXIT_SUPERSEDED = 4
#: Not copied to the standby: the leader's address, files being replaced, and live SQLite
#: databases (a copy taken while they are written may be torn; the standby's demo witness
#: starts with no state, which any consistent tree satisfies).
OWN_FILES = ("writer.url*", "*.tmp", "*.sqlite3*")


@dataclass
class Failover:
    dsn: str
    nats: NatsProcess
    leader: HubProcess
    standby: HubProcess
    edges: list[HubProcess]
    procs: list[HubProcess] = field(default_factory=list)


def writer_process(data_dir: Path, dsn: str, bus: str) -> HubProcess:
    return HubProcess(data_dir, args=("--role", "writer", "--store", dsn, "--bus", bus))


def standby_of(leader: HubProcess, data_dir: Path, dsn: str, bus: str) -> HubProcess:
    """A second writer with the same log key, registry and demo keys (a copy of the leader's
    data directory, as an operator makes once when setting the standby up)."""
    shutil.copytree(leader.data_dir, data_dir, ignore=shutil.ignore_patterns(*OWN_FILES))
    return writer_process(data_dir, dsn, bus)


def edge_following_the_leader(root: Path, name: str, writer: HubProcess, dsn: str,
                              bus: str) -> HubProcess:
    """An edge on another machine: only the public keys are copied; no ``writer_url``."""
    data_dir = root / name
    data_dir.mkdir()
    for key in ("log.pub", "registry-root.pub"):
        shutil.copy(writer.data_dir / key, data_dir / key)
    return HubProcess(data_dir, demo=False, args=("--role", "edge", "--store", dsn, "--bus", bus),
                      env={"TOCSIN_BUS_POLL_SECS": str(POLL_SECS)})


@pytest.fixture
def failover(postgres: PostgresServer, tmp_path: Path) -> Iterator[Failover]:
    dsn = postgres.create_database()
    nats = NatsProcess()
    nats.start()
    leader = writer_process(tmp_path / "a", dsn, nats.url)
    setup = Failover(dsn, nats, leader, leader, [])
    try:
        leader.start()
        setup.procs.append(leader)
        setup.standby = standby_of(leader, tmp_path / "b", dsn, nats.url)
        setup.standby.start()  # today: refused ("another writer leads")
        setup.procs.append(setup.standby)
        for name in ("e1", "e2"):
            edge = edge_following_the_leader(tmp_path, name, leader, dsn, nats.url)
            edge.start()
            setup.edges.append(edge)
            setup.procs.append(edge)
        yield setup
    finally:
        for proc in reversed(setup.procs):
            proc.stop()
        nats.stop()


def post(url: str, body: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/api/v1/alerts", json=body, timeout=30)


def issue_until_stored(url: str, body: dict[str, str]) -> tuple[str, float]:
    """What an issuer does: retry the same bytes until a 201 (idempotent by content)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            response = post(url, body)
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code == 201:
            return str(response.json()["id"]), time.monotonic()
        assert response is None or response.status_code == 503, response.text
        assert time.monotonic() < deadline, "issuing never resumed"
        time.sleep(0.05)  # the issuer's retry pace (Retry-After says 2 s; a test is impatient)


def stored_ids(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        return {str(row[0]) for row in conn.execute("SELECT id FROM alerts")}


def monitor(url: str, data_dir: Path, state: Path) -> subprocess.CompletedProcess[str]:
    """``tocsin monitor --once`` against ``url``, requiring the witness's cosignature."""
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "monitor", url, "--state-dir", str(state), "--once",
         "--log-key", str(data_dir / "log.pub"), "--registry", str(data_dir / "registry.json"),
         "--policy", str(data_dir / "witness-policy.txt")],
        capture_output=True, text=True, timeout=120, check=False)


def test_a_standby_writer_waits_without_writing(failover: Failover) -> None:
    standby, leader = failover.standby, failover.leader
    state = health(standby.url)
    assert state["role"] == "writer" and state["leading"] is False and state["standby"] is True
    ready = httpx.get(f"{standby.url}/readyz")
    assert ready.status_code == 503 and ready.json()["leading"] is False
    refused = post(standby.url, signed_alert(standby))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "standby"
    assert int(refused.headers["retry-after"]) > 0
    assert "tocsin_writer_leading 0.0" in httpx.get(f"{standby.url}/metrics").text
    assert health(leader.url)["leading"] is True
    with psycopg.connect(failover.dsn) as conn:
        row = conn.execute("SELECT holder, url FROM writer_lease").fetchone()
    assert row is not None and row[0].endswith(f":{health(leader.url)['pid']}")
    assert row[1] == leader.url  # the leader said where it takes writes; the standby nothing
    assert not (standby.data_dir / "writer.url").exists()


def test_kill_9_the_leader_mid_issue_the_standby_leads_within_5_s_and_nothing_is_lost(
        failover: Failover, tmp_path: Path) -> None:
    """The issue's 'done when': one subscriber survives the death of the writer, of its edge
    and of NATS, each in turn, with no gap and no duplicate; the log stays one log."""
    leader, standby, (edge_in, edge_out) = failover.leader, failover.standby, failover.edges
    reader = SseReader(edge_out.url)
    reader.wait_connected()
    issued: list[tuple[str, float]] = []  # (alert id, monotonic time of its 201)
    stop = threading.Event()
    killed = threading.Event()

    def load() -> None:  # an issuer posting through an edge in a loop, retrying each alert
        after_kill = 0
        while not stop.is_set() and after_kill < 8:
            issued.append(issue_until_stored(edge_in.url, signed_alert(leader)))
            after_kill += killed.is_set()

    received: list[Received] = []

    def receive(count: int) -> None:
        while len(received) < count:
            event = reader.next()
            assert event.id != CLOSED, "the subscriber's stream ended"
            received.append(event)

    receive(0)
    loader = threading.Thread(target=load)
    loader.start()
    while len(issued) < 6:  # alerts flowing, then a checkpoint the monitor checks before
        time.sleep(0.02)  # polling the loader thread's progress
    state = tmp_path / "monitor"
    before = monitor(edge_out.url, leader.data_dir, state)
    assert before.returncode == 0, before.stdout + before.stderr
    in_flight = len(issued)  # issued[in_flight] was being posted: A or B may answer it
    leader.kill()  # SIGKILL mid-issue: requests in flight through the edge
    killed_at = time.monotonic()
    killed.set()
    loader.join(timeout=60)
    stop.set()
    assert not loader.is_alive(), "issuing did not resume"
    first_after = issued[in_flight + 1][1]  # posted after the kill: only B could answer it
    assert first_after - killed_at < TAKEOVER_SECS, \
        f"the standby's first 201 came {first_after - killed_at:.2f} s after the kill"
    assert health(standby.url)["leading"] is True
    receive(len(issued))
    # Its edge dies too: the subscriber resumes on the other edge with its last event id.
    edge_out.kill()
    resumed = SseReader(edge_in.url, last_event_id=received[-1].id)
    reader.close()
    reader = resumed
    reader.wait_connected()
    # Then NATS: alerts still arrive within the edges' poll bound.
    failover.nats.stop()
    wait_health(edge_in.url, "bus", "disconnected")
    for _ in range(2):
        alert_id, committed = issue_until_stored(edge_in.url, signed_alert(leader))
        issued.append((alert_id, committed))
        receive(len(received) + 1)
        assert received[-1].alert_id == alert_id
        assert received[-1].at - committed <= POLL_SECS + SLACK_SECS
    failover.nats.start()
    wait_health(edge_in.url, "bus", "connected")
    issued.append(issue_until_stored(edge_in.url, signed_alert(leader)))
    receive(len(received) + 1)
    reader.close()
    ids = [event.id for event in received]
    assert ids == sorted(set(ids)), "a duplicate or out of order"
    assert [event.alert_id for event in received] == [alert_id for alert_id, _ in issued]
    assert {alert_id for alert_id, _ in issued} <= stored_ids(failover.dsn)
    # One log: the monitor's consistency proof from its checkpoint before the failover to
    # the standby's checkpoint after it, and the witness's cosignature on it (its policy).
    deadline = time.monotonic() + 10
    while (after := monitor(edge_in.url, standby.data_dir, state)).returncode == 0 and \
            f"verified size {len(issued) + 1}" not in after.stderr:
        assert time.monotonic() < deadline, after.stderr
    assert after.returncode == 0, after.stdout + after.stderr


def test_a_paused_leader_that_lost_its_lead_stops_and_exits(failover: Failover) -> None:
    """A leader paused long enough for the server to end its session resumes fenced: it
    writes and signs nothing more, and exits (its unit restarts it as a standby)."""
    leader, standby, edge = failover.leader, failover.standby, failover.edges[0]
    first, _ = issue_until_stored(edge.url, signed_alert(leader))
    assert leader.proc is not None
    leader.proc.send_signal(signal.SIGSTOP)
    with psycopg.connect(failover.dsn, autocommit=True) as admin:  # its lock session ends
        admin.execute("SELECT pg_terminate_backend(pid, 10000) FROM pg_locks "
                      "WHERE locktype = 'advisory' AND granted")
    wait_health(standby.url, "leading", True, timeout=TAKEOVER_SECS + SLACK_SECS)
    second, _ = issue_until_stored(edge.url, signed_alert(leader))  # through the new leader
    with psycopg.connect(failover.dsn) as conn:
        before = conn.execute("SELECT max(size), count(*) FROM checkpoints").fetchone()
    leader.proc.send_signal(signal.SIGCONT)
    assert leader.proc.wait(timeout=20) == EXIT_SUPERSEDED
    out = leader.proc.stdout.read().decode() if leader.proc.stdout else ""
    assert "another writer leads" in out, out
    with psycopg.connect(failover.dsn) as conn:
        holders = conn.execute("SELECT holder FROM writer_lease").fetchone()
        after = conn.execute("SELECT max(size), count(*) FROM checkpoints").fetchone()
    assert holders is not None and holders[0].endswith(f":{health(standby.url)['pid']}")
    assert before is not None and after is not None and after[0] >= before[0]
    assert {first, second} <= stored_ids(failover.dsn)
    third, _ = issue_until_stored(edge.url, signed_alert(leader))
    assert health(standby.url)["leading"] is True and third in stored_ids(failover.dsn)


def test_a_standby_never_signs_a_tree_that_forks_from_a_checkpoint_its_key_signed(
        failover: Failover) -> None:
    """Its own log.checkpoint names another tree of a size the store holds (a fork): when the
    lead frees, the standby checks under the lead, refuses, releases it and exits."""
    leader, standby = failover.leader, failover.standby
    issue_until_stored(failover.edges[0].url, signed_alert(leader))
    origin = httpx.get(f"{leader.url}/checkpoint").text.splitlines()[0]
    signer = read_log_key(standby.data_dir / "log.key", origin)
    forked = sign_checkpoint(Checkpoint(origin, 1, b"\x01" * 32), signer)  # size 1: the registry
    (standby.data_dir / "log.checkpoint").write_bytes(forked)
    with psycopg.connect(failover.dsn) as conn:
        before = conn.execute("SELECT max(size), count(*) FROM checkpoints").fetchone()
    leader.kill()
    assert standby.proc is not None
    assert standby.proc.wait(timeout=30) == EXIT_SUPERSEDED
    out = standby.proc.stdout.read().decode() if standby.proc.stdout else ""
    assert "could not take over" in out and "different tree of size 1" in out, out
    with psycopg.connect(failover.dsn) as conn:
        after = conn.execute("SELECT max(size), count(*) FROM checkpoints").fetchone()
        lease = conn.execute("SELECT url FROM writer_lease").fetchone()
    assert after == before  # it signed and saved nothing
    assert lease is not None and lease[0] is None  # and never said it takes writes
    refused = post(failover.edges[0].url, signed_alert(leader))
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "writer_unavailable"


def writer_state(writer: HubProcess) -> str:
    """``leads``, ``standby``, ``stopping`` (no longer answering) or ``exit N``."""
    assert writer.proc is not None
    if writer.proc.poll() is not None:
        return f"exit {writer.proc.returncode}"
    try:
        return "leads" if health(writer.url)["leading"] else "standby"
    except httpx.HTTPError:
        return "stopping"


def test_postgresql_restarts_under_a_leader_and_a_standby_and_one_writer_leads_after(
        postgres: PostgresServer, tmp_path: Path) -> None:
    """Both writers lose their sessions; whichever takes the lock first leads, the other
    waits (or, superseded, exits to come back as the standby); issuing resumes by itself."""
    server = PostgresServer.create(postgres.bindir)  # its own: this test restarts it
    nats = NatsProcess()
    nats.start()
    dsn = server.create_database()
    leader = writer_process(tmp_path / "a", dsn, nats.url)
    procs: list[HubProcess] = []
    try:
        leader.start()
        procs.append(leader)
        standby = standby_of(leader, tmp_path / "b", dsn, nats.url)
        standby.start()
        procs.append(standby)
        edge = edge_following_the_leader(tmp_path, "e", leader, dsn, nats.url)
        edge.start()
        procs.append(edge)
        first, _ = issue_until_stored(edge.url, signed_alert(leader))
        server.restart()
        second, _ = issue_until_stored(edge.url, signed_alert(leader))
        # Settled within a few lease checks: a writer says it leads once its keeper has taken
        # its lock back (it may commit a moment before: the epoch, not the lock, fences).
        settled = (["leads", "standby"], [f"exit {EXIT_SUPERSEDED}", "leads"])
        deadline = time.monotonic() + 20
        while (states := sorted(writer_state(w) for w in (leader, standby))) not in settled:
            assert "leads" not in states or states.count("leads") == 1, states
            assert time.monotonic() < deadline, states
            time.sleep(0.05)  # polling the writers' lease checks and a superseded one's exit
        assert {first, second} <= stored_ids(dsn)
    finally:
        for proc in reversed(procs):
            proc.stop()
        nats.stop()
        server.destroy()
