"""A hub whose store is lost, behind or damaged refuses to start, says why in one line, writes nothing.

Each test runs a real hub, issues alerts, stops it, damages the data directory
the way an operator's mistake or a failing disk would, and starts ``tocsin
serve`` again: it must exit 2 with one line naming the file, and leave every
file in the data directory byte for byte as it was. ``tocsin store check``
must find the same damage.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.testing import HubProcess, free_port
from tocsin.tlog.checkpoint import open_checkpoint
from tocsin.trust.note import Verifier

from .conftest import make_alert

pytestmark = pytest.mark.timeout(120)

ORIGIN = "tocsin.localhost/log"


def _issue(hub: HubProcess, n: int) -> list[str]:
    ids = []
    with httpx.Client(timeout=10) as http:
        for _ in range(n):
            cap = to_xml(make_alert())
            response = http.post(f"{hub.url}/api/v1/alerts",
                                 json=issue_request(cap, sign_cap(cap, hub.signer("demo-air-force"))))
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
    return ids


def _wait_checkpoint(hub: HubProcess, size: int) -> bytes:
    verifier = Verifier.from_vkey((hub.data_dir / "log.pub").read_text().strip())
    for _ in range(200):
        note = httpx.get(f"{hub.url}/checkpoint").content
        if open_checkpoint(note, verifier, ORIGIN)[0].size >= size:
            return note
        time.sleep(0.02)  # polling the hub's checkpoint, signed within ~50 ms
    raise AssertionError(f"no checkpoint of size {size}")


@pytest.fixture
def stopped(tmp_path: Path) -> Iterator[HubProcess]:
    """A hub that logged its registry and 5 alerts (size 6), signed a checkpoint, and was stopped."""
    hub = HubProcess(tmp_path / "data")
    hub.start()
    _issue(hub, 5)
    _wait_checkpoint(hub, 6)
    hub.stop()
    yield hub
    hub.stop()


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _serve(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "serve", "--demo", "--data-dir", str(data_dir),
         "--port", str(free_port()), "--log-level", "warning"],
        capture_output=True, text=True, timeout=60,
    )


def _store_check(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tocsin", "store", "check", str(data_dir)],
                          capture_output=True, text=True, timeout=60)


def _restore_older_store(hub: HubProcess, tmp_path: Path, *, with_checkpoint_file: bool = False) -> None:
    """Back up the stopped hub (size 6), let it grow to size 8, then put the size-6 database
    (and, if asked, its log.checkpoint) back in place, as an operator restoring a backup would."""
    backup = tmp_path / "backup"
    shutil.copytree(hub.data_dir, backup)
    hub.start()
    _issue(hub, 2)
    _wait_checkpoint(hub, 8)
    hub.stop()
    for path in hub.data_dir.glob("tocsin.sqlite3*"):
        path.unlink()
    restored = [*backup.glob("tocsin.sqlite3*")]
    if with_checkpoint_file:
        restored.append(backup / "log.checkpoint")
    for path in restored:
        shutil.copy(path, hub.data_dir / path.name)


def _assert_refused(data_dir: Path, names: str) -> str:
    before = _snapshot(data_dir)
    done = _serve(data_dir)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one clear line, no traceback
    assert names in lines[0], lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert _snapshot(data_dir) == before  # a refusal writes nothing
    return lines[0]


def test_the_last_checkpoint_is_kept_outside_the_database(stopped: HubProcess) -> None:
    kept = (stopped.data_dir / "log.checkpoint").read_bytes()
    verifier = Verifier.from_vkey((stopped.data_dir / "log.pub").read_text().strip())
    checkpoint, _ = open_checkpoint(kept, verifier, ORIGIN)
    assert checkpoint.size == 6
    done = _store_check(stopped.data_dir)
    assert done.returncode == 0, done.stdout + done.stderr
    stopped.start()  # an intact store starts again and continues the same log
    assert len(_issue(stopped, 1)) == 1
    _wait_checkpoint(stopped, 7)


@pytest.mark.parametrize("how", ["deleted", "emptied"])
def test_a_lost_store_refuses_to_start_a_fork(stopped: HubProcess, how: str) -> None:
    for path in stopped.data_dir.glob("tocsin.sqlite3*"):
        if how == "deleted":
            path.unlink()
        else:
            path.write_bytes(b"")
    line = _assert_refused(stopped.data_dir, "tocsin.sqlite3")
    assert "6" in line  # the size the key signed


def test_a_store_restored_from_an_older_backup_refuses(stopped: HubProcess, tmp_path: Path) -> None:
    _restore_older_store(stopped, tmp_path)
    _assert_refused(stopped.data_dir, "tocsin.sqlite3")


def test_a_missing_log_key_refuses_and_writes_no_new_key(stopped: HubProcess) -> None:
    (stopped.data_dir / "log.key").unlink()
    _assert_refused(stopped.data_dir, "log.key")
    assert not (stopped.data_dir / "log.key").exists()


def test_a_garbled_log_key_gets_one_line(stopped: HubProcess) -> None:
    (stopped.data_dir / "log.key").write_text("PRIVATE+KEY+tocsin.localhost/log+garbage\n")
    _assert_refused(stopped.data_dir, "log.key")


def test_a_half_truncated_store_gets_one_line(stopped: HubProcess) -> None:
    db = stopped.data_dir / "tocsin.sqlite3"
    size = db.stat().st_size
    with open(db, "r+b") as handle:
        handle.truncate(size // 2)
    _assert_refused(stopped.data_dir, "tocsin.sqlite3")
    assert _store_check(stopped.data_dir).returncode != 0


def _garble_root_page(db: Path, table: str) -> None:
    """Overwrite the root page of ``table`` (the whole table, in a store this small)."""
    with sqlite3.connect(db) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    assert root > 1
    with open(db, "r+b") as handle:
        handle.seek(page * (root - 1))
        handle.write(os.urandom(page))


def test_a_garbled_page_start_up_reads_gets_one_line(stopped: HubProcess) -> None:
    """Start-up reads the log's stored hashes under the last checkpoint: damage there is refused
    before anything is written, in one line."""
    _garble_root_page(stopped.data_dir / "tocsin.sqlite3", "log_hashes")
    _assert_refused(stopped.data_dir, "tocsin.sqlite3")
    done = _store_check(stopped.data_dir)
    assert done.returncode != 0
    assert "integrity" in done.stdout.lower()


def test_a_page_damaged_elsewhere_stops_writes_and_readyz_says_so(stopped: HubProcess) -> None:
    """Start-up does not read the whole file (its time must not grow with the history): a page
    it does not read is found by the background scan, and from then on the hub stores nothing,
    answers 503 store_damaged, says so in /readyz and in its log."""
    db = stopped.data_dir / "tocsin.sqlite3"
    _garble_root_page(db, "check_keys")
    stopped.start()
    with httpx.Client(base_url=stopped.url, timeout=10) as http:
        for _ in range(400):  # polling the hub's own report of its scan
            ready = http.get("/readyz")
            if ready.json().get("store_scan", {}).get("state") not in ("pending", "running"):
                break
            time.sleep(0.05)
        assert ready.status_code == 503, ready.text
        assert ready.json()["status"] == "store_damaged"
        assert ready.json()["store_scan"]["state"] == "damaged"
        size = http.get("/healthz").json()["last_event_id"]
        cap = to_xml(make_alert())
        refused = http.post("/api/v1/alerts", json=issue_request(
            cap, sign_cap(cap, stopped.signer("demo-air-force"))))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "store_damaged", refused.text
        assert http.get("/healthz").json()["last_event_id"] == size  # nothing was stored
    stopped.stop()
    assert stopped.proc is not None and stopped.proc.stdout is not None
    out = stopped.proc.stdout.read().decode()
    assert "damaged" in out and "tocsin store check" in out, out
    assert _store_check(stopped.data_dir).returncode != 0


def test_a_whole_store_scans_ok_and_is_ready(stopped: HubProcess) -> None:
    stopped.start()
    with httpx.Client(base_url=stopped.url, timeout=10) as http:
        for _ in range(400):
            ready = http.get("/readyz")
            if ready.json().get("store_scan", {}).get("state") not in ("pending", "running"):
                break
            time.sleep(0.05)
        assert ready.status_code == 200 and ready.json()["store_scan"]["state"] == "ok", ready.text
        assert len(_issue(stopped, 1)) == 1


def test_store_check_finds_an_altered_leaf(stopped: HubProcess) -> None:
    db = stopped.data_dir / "tocsin.sqlite3"
    with sqlite3.connect(db) as conn:
        entry = conn.execute("SELECT entry FROM log_entries WHERE idx = 3").fetchone()[0]
        conn.execute("UPDATE log_entries SET entry = ? WHERE idx = 3", (bytes(entry[:-1]) + b"X",))
    conn.close()
    before = _snapshot(stopped.data_dir)
    done = _store_check(stopped.data_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "leaf 3" in done.stdout
    assert _snapshot(stopped.data_dir) == before  # checking writes nothing


def test_store_check_of_a_missing_directory(tmp_path: Path) -> None:
    done = _store_check(tmp_path / "nowhere")
    assert done.returncode == 2
    assert "nowhere" in done.stderr


def test_an_older_consistent_backup_is_refused_on_the_witness_evidence(
        stopped: HubProcess, tmp_path: Path) -> None:
    """Database and log.checkpoint restored together from an old backup agree with each other;
    the demo witness in the data directory has cosigned more, so the hub still refuses."""
    _restore_older_store(stopped, tmp_path, with_checkpoint_file=True)
    line = _assert_refused(stopped.data_dir, "witness")
    assert "cosigned size 8" in line


def test_a_missing_demo_registry_is_not_silently_recreated(stopped: HubProcess) -> None:
    (stopped.data_dir / "registry.json").unlink()
    _assert_refused(stopped.data_dir, "registry.json")  # the demo issuers' keys are untouched


def test_store_check_beside_a_running_hub_under_writes(stopped: HubProcess) -> None:
    """The check opens a live store read-only and agrees with it while alerts are committed.

    (The race it guards against — entries and hashes read from different snapshots — is
    narrow on a small log; this run shows the live case works, not that the race is gone.)
    """
    import threading

    stopped.start()
    stop = threading.Event()

    def issue() -> None:
        while not stop.is_set():
            _issue(stopped, 1)

    writer = threading.Thread(target=issue, daemon=True)
    writer.start()
    try:
        for _ in range(3):
            done = _store_check(stopped.data_dir)
            assert done.returncode == 0, done.stdout + done.stderr
    finally:
        stop.set()
        writer.join(10)


def test_an_older_store_with_the_checkpoint_file_and_witness_lost_refuses(
        stopped: HubProcess, tmp_path: Path) -> None:
    """An independent review forked the log this way: an older database restored, and
    log.checkpoint and the witness's state lost with it. A key without its checkpoint file
    is refused; nothing else knows how far the key has signed."""
    _restore_older_store(stopped, tmp_path)
    (stopped.data_dir / "log.checkpoint").unlink()
    shutil.rmtree(stopped.data_dir / "witness")
    line = _assert_refused(stopped.data_dir, "log.checkpoint")
    assert "--adopt" in line


def test_a_lost_checkpoint_file_is_adopted_only_explicitly(stopped: HubProcess) -> None:
    (stopped.data_dir / "log.checkpoint").unlink()
    _assert_refused(stopped.data_dir, "log.checkpoint")
    adopted = subprocess.run([sys.executable, "-m", "tocsin", "store", "check",
                              str(stopped.data_dir), "--adopt"],
                             capture_output=True, text=True, timeout=60)
    assert adopted.returncode == 0, adopted.stdout + adopted.stderr
    assert "adopted" in adopted.stdout
    verifier = Verifier.from_vkey((stopped.data_dir / "log.pub").read_text().strip())
    kept = (stopped.data_dir / "log.checkpoint").read_bytes()
    assert open_checkpoint(kept, verifier, ORIGIN)[0].size == 6
    stopped.start()
    assert len(_issue(stopped, 1)) == 1


def test_a_garbled_demo_witness_key_gets_one_line(stopped: HubProcess) -> None:
    key = next((stopped.data_dir / "witness").glob("*.key"))
    key.write_text("junk\n")
    _assert_refused(stopped.data_dir, "key file")


def test_store_check_finds_what_the_start_up_check_refuses(stopped: HubProcess, tmp_path: Path) -> None:
    """An independent review found `store check` passing a directory the hub refused: an older
    database and checkpoint file restored together, contradicted by the demo witness."""
    _restore_older_store(stopped, tmp_path, with_checkpoint_file=True)
    done = _store_check(stopped.data_dir)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "tocsin serve would refuse" in done.stdout and "witness" in done.stdout


def test_a_garbled_registry_is_refused_before_the_store_is_touched(tmp_path: Path) -> None:
    """An independent review: after a kill -9 (a WAL left behind), a refusal for a damaged
    registry folded the WAL into the database — a refusal must write nothing."""
    hub = HubProcess(tmp_path / "data")
    hub.start()
    _issue(hub, 2)
    hub.kill()  # SIGKILL: the WAL stays
    registry = hub.data_dir / "registry.json"
    registry.write_text(registry.read_text().replace("demo-embassy@tocsin", "demo-air-force@tocsin"))
    # Reading a WAL database (the start-up check does, read-only) maintains its "-shm"
    # shared-memory index; the data — database and WAL — must stay byte for byte.
    data = [p for p in sorted(hub.data_dir.rglob("*")) if p.is_file() and not p.name.endswith("-shm")]
    before = {p: p.read_bytes() for p in data}
    assert (hub.data_dir / "tocsin.sqlite3-wal").exists()
    done = _serve(hub.data_dir)
    assert done.returncode == 2 and "registry.json" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert {p: p.read_bytes() for p in data if p.exists()} == before and all(p.exists() for p in data)
