"""Hole 6 of issue 10: one size limit, a nationwide alert that fits, one failure fails one alert.

* A store batch in which one alert cannot be stored keeps its neighbours (savepoint per alert).
* A nationwide alert naming every hromada (in Ukrainian and English, ~650 KB) is accepted;
  its log leaf is a detached entry (the statement, which commits to the CAP's SHA-256),
  and ``tocsin verify --proof`` and ``tocsin monitor`` both check it end to end.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec

from tocsin.cap import to_xml
from tocsin.cap.model import Area, ValuePair
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert
from tocsin.issue import alert_id_for
from tocsin.ledger import MAX_ALERT_BYTES
from tocsin.ledger.effects import state_rules
from tocsin.regions import default_region_set
from tocsin.store.base import AppendResult, NewAlert, StoreError
from tocsin.store.sqlite import SqliteStore
from tocsin.testing import HubProcess
from tocsin.tlog.entry import MAX_ENTRY_BYTES, alert_entry, decode_entry

from .conftest import KYIV


def _new(n: int, statement: bytes = b"statement") -> NewAlert:
    now = time.time()
    cap = f"<alert>{n}</alert>".encode()
    return NewAlert(id=alert_id_for(cap), cap=cap, statement=statement, issuer_id="i", key_id="k",
                    sender="s@x", identifier=f"id-{n}", sent="", sent_ts=now, received_ts=now,
                    expires_ts=None, msg_type="Alert", status="Actual", kinds=("air-raid",),
                    event="e", targets={KYIV: "full"})


def test_one_failing_alert_never_fails_its_batch(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3", rules=state_rules(lambda code: []))
    try:
        unloggable = _new(2, statement=b"x" * (MAX_ENTRY_BYTES + 1))  # no log entry can hold it
        results = store.append_batch([_new(1), unloggable, _new(3)])
        assert isinstance(results[0], AppendResult) and isinstance(results[2], AppendResult)
        assert isinstance(results[1], StoreError)
        assert store.get(_new(1).id) is not None and store.get(_new(3).id) is not None
        assert store.get(unloggable.id) is None
        assert store.log_size() == 2
    finally:
        store.close()


def nationwide_cap() -> bytes:
    """Every hromada as its own area, in Ukrainian and in English."""
    regions = default_region_set()
    hromadas = regions.at_level("hromada")
    base = compose_alert(AlertFacts(issuer_id="demo-air-force", kind="air-raid", areas=(KYIV,),
                                    extra_info=[("en-US", "Air raid", "Air raid", None)]))
    infos = []
    for info, english in zip(base.info, (False, True), strict=True):
        areas = tuple(Area(area_desc=r.name_en if english else r.name_uk,
                           geocode=(ValuePair(value_name="KATOTTG", value=r.code),))
                      for r in hromadas)
        infos.append(msgspec.structs.replace(info, area=areas))
    return to_xml(msgspec.structs.replace(base, info=tuple(infos)))


def _tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tocsin", *map(str, args)],
                          capture_output=True, text=True, timeout=180, check=False)


def test_a_nationwide_hromada_by_hromada_alert_fits_and_verifies(hub: HubProcess,
                                                                tmp_path: Path) -> None:
    cap = nationwide_cap()
    assert 64 * 1024 < len(cap) <= MAX_ALERT_BYTES
    statement = sign_cap(cap, hub.signer("demo-air-force"))
    response = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement), timeout=120)
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["targets"]) > 1700
    assert httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/cap").content == cap
    entry = decode_entry(alert_entry(statement, cap))
    assert entry.detached and entry.statement == statement

    proof = None
    for _ in range(200):  # the checkpoint covering it is signed within ~50 ms
        got = httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/proof")
        if got.status_code == 200:
            proof = got.content
            break
        assert got.status_code == 503, got.text
        time.sleep(0.05)  # polling the hub's own checkpoint timer, not guessing a duration
    assert proof is not None
    (tmp_path / "a.xml").write_bytes(cap)
    (tmp_path / "a.xml.sig").write_bytes(statement)
    (tmp_path / "a.proof").write_bytes(proof)
    verified = _tocsin("verify", tmp_path / "a.xml", "--registry", hub.data_dir / "registry.json",
                       "--proof", tmp_path / "a.proof", "--log-key", hub.data_dir / "log.pub")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "logged" in verified.stdout

    checked = httpx.post(f"{hub.url}/api/v1/check", json={"text": proof.decode()}, timeout=60).json()
    assert checked["input"] == "proof-bundle" and checked["verdict"] == "authentic", checked
    assert checked["alert"]["id"] == body["id"]

    monitored = _tocsin("monitor", hub.url, "--state-dir", tmp_path / "m", "--once",
                        "--log-key", hub.data_dir / "log.pub",
                        "--registry", hub.data_dir / "registry.json")
    assert monitored.returncode == 0, monitored.stdout + monitored.stderr
