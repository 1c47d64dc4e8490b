"""A hub that broke the rules is caught offline: by ``tocsin monitor`` and by ``tocsin verify``.

The misbehaving hub is built for real: a demo hub is stopped, a shape-smuggled
alert (Kyiv City's own geocode plus a polygon over Lviv, signed by Kyiv City's
key) is written straight into its store — the public ``SqliteStore.append``,
which persists what it is given and applies no authorisation — and the hub is
started again, so it serves and signs a log that holds the alert. Then the
same alert is held against the rules by the two offline tools.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tocsin.cap import to_xml
from tocsin.cap.model import Alert, Area
from tocsin.client import sign_cap
from tocsin.issue import alert_id_for, summary_json
from tocsin.ledger.effects import state_rules
from tocsin.regions import default_region_set
from tocsin.services.monitor import confirm_evidence
from tocsin.store.base import NewAlert
from tocsin.store.sqlite import SqliteStore
from tocsin.testing import HubProcess
from tocsin.trust.keyfiles import read_verifier

from .shapes import KYIV, LVIV_OBLAST, LVIV_SQUARE, alert, geocode_area, polygon


def _tocsin(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tocsin", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


def _smuggle(hub: HubProcess, hostile: Alert, issuer: str) -> tuple[bytes, bytes]:
    """Write ``hostile`` into the stopped hub's store as if the hub had accepted it."""
    cap = to_xml(hostile)
    statement = sign_cap(cap, hub.signer(issuer))
    now = time.time()
    alert_id = alert_id_for(cap)
    targets = {LVIV_OBLAST: "full", KYIV: "full"}
    store = SqliteStore(hub.data_dir / "tocsin.sqlite3", rules=state_rules(lambda code: []))
    try:
        store.append(NewAlert(
            id=alert_id, cap=cap, statement=statement, issuer_id=issuer,
            key_id=f"{hub.signer(issuer).key_id:08x}", sender=hostile.sender,
            identifier=hostile.identifier, sent=hostile.sent, sent_ts=now, received_ts=now,
            expires_ts=None, msg_type=hostile.msg_type, status=hostile.status,
            kinds=("air-raid",), event=hostile.info[0].event, targets=targets,  # type: ignore[arg-type]
            summary=summary_json(hostile, alert_id, issuer, targets,  # type: ignore[arg-type]
                                 frozenset({"air-raid"}), regions=default_region_set())))
    finally:
        store.close()
    return cap, statement


def test_monitor_and_verify_refuse_a_shape_smuggled_alert(fresh_hub: HubProcess,
                                                          tmp_path: Path) -> None:
    hub = fresh_hub
    registry = hub.data_dir / "registry.json"
    with hub.client() as client:  # an honest start: the monitor verifies it
        client.issue(alert("demo-air-force", [geocode_area(KYIV)]), hub.signer("demo-air-force"))
    state = tmp_path / "monitor"
    monitor = ("monitor", hub.url, "--state-dir", state, "--once", "--log-key",
               hub.data_dir / "log.pub", "--registry", registry)
    first = _tocsin(*monitor)
    assert first.returncode == 0, first.stdout + first.stderr

    hub.stop()
    smuggled = Area(area_desc="Київ", geocode=geocode_area(KYIV).geocode,
                    polygon=(polygon(LVIV_SQUARE),))
    cap, statement = _smuggle(hub, alert("demo-kyiv-city", [smuggled]), "demo-kyiv-city")
    hub.start()
    assert httpx.get(f"{hub.url}/api/v1/alerts/{alert_id_for(cap)}").status_code == 200

    caught = _tocsin(*monitor, "--evidence", tmp_path / "evidence.json")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    evidence = json.loads(caught.stdout)
    assert evidence["kind"] == "bad-entry"
    assert "unauthorised" in evidence["reason"] and "UA46" in evidence["reason"], evidence["reason"]
    proven = confirm_evidence(evidence, read_verifier(hub.data_dir / "log.pub"))
    assert "the log holds this entry" in proven

    (tmp_path / "smuggled.xml").write_bytes(cap)
    (tmp_path / "smuggled.xml.sig").write_bytes(statement)
    verdict = _tocsin("verify", tmp_path / "smuggled.xml", "--registry", registry)
    assert verdict.returncode == 5, verdict.stdout + verdict.stderr
    assert "unauthorised" in verdict.stdout and "Lviv" in verdict.stdout, verdict.stdout


def test_verify_refuses_another_issuers_sender_offline(fresh_hub: HubProcess, tmp_path: Path) -> None:
    hub = fresh_hub
    squat = alert("demo-embassy", [geocode_area(KYIV)], kind="facility-closed",
                  sender="demo-air-force@tocsin")
    cap = to_xml(squat)
    (tmp_path / "squat.xml").write_bytes(cap)
    (tmp_path / "squat.xml.sig").write_bytes(sign_cap(cap, hub.signer("demo-embassy")))
    verdict = _tocsin("verify", tmp_path / "squat.xml", "--registry", hub.data_dir / "registry.json")
    assert verdict.returncode == 5, verdict.stdout + verdict.stderr
    assert "may not use the CAP sender" in verdict.stdout


def test_on_a_fresh_hub_a_squatter_cannot_take_a_sender_first(fresh_hub: HubProcess) -> None:
    """The issue's reproduction: the embassy goes first, and the Air Force is not locked out."""
    hub = fresh_hub
    squat = to_xml(alert("demo-embassy", [geocode_area(KYIV)], kind="facility-closed",
                         sender="demo-air-force@tocsin"))
    response = httpx.post(f"{hub.url}/api/v1/alerts", json={
        "cap": __import__("base64").b64encode(squat).decode(),
        "statement": sign_cap(squat, hub.signer("demo-embassy")).decode()})
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "sender_not_allowed"
    with hub.client() as client:
        own = client.issue(alert("demo-air-force", [geocode_area(KYIV)]), hub.signer("demo-air-force"))
    assert own["sender"] == "demo-air-force@tocsin"


def test_monitor_catches_a_hub_that_skipped_the_state_rules(fresh_hub: HubProcess,
                                                            tmp_path: Path) -> None:
    """A hub whose rulebook was patched to skip the state rules let an Exercise update end the
    Air Force's real alert; the monitor replays the same rules over the log and reports it.
    (Every signature, sender and place in it is in order: only the state rule is broken.)"""
    from tocsin.cap.model import Reference
    from tocsin.ledger.effects import Effects

    hub = fresh_hub
    with hub.client() as client:
        original = client.issue(alert("demo-air-force", [geocode_area(KYIV)]),
                                hub.signer("demo-air-force"))
    record = httpx.get(f"{hub.url}/api/v1/alerts/{original['id']}").json()
    state = tmp_path / "monitor"
    monitor = ("monitor", hub.url, "--state-dir", state, "--once", "--log-key",
               hub.data_dir / "log.pub", "--registry", hub.data_dir / "registry.json")
    assert _tocsin(*monitor).returncode == 0

    hub.stop()
    hijack = alert("demo-air-force", [geocode_area(KYIV)], msg_type="Update", status="Exercise",
                   references=(Reference(sender=record["sender"], identifier=record["identifier"],
                                         sent=record["sent"]),))
    cap = to_xml(hijack)
    now = time.time()
    skip_state_rules = SqliteStore(hub.data_dir / "tocsin.sqlite3",
                                   rules=lambda incoming, view: Effects())  # the patched hub
    try:
        alert_id = alert_id_for(cap)
        targets = {KYIV: "full"}
        skip_state_rules.append(NewAlert(
            id=alert_id, cap=cap, statement=sign_cap(cap, hub.signer("demo-air-force")),
            issuer_id="demo-air-force", key_id=f"{hub.signer('demo-air-force').key_id:08x}",
            sender=hijack.sender, identifier=hijack.identifier, sent=hijack.sent, sent_ts=now,
            received_ts=now, expires_ts=None, msg_type="Update", status="Exercise",
            kinds=("air-raid",), event=hijack.info[0].event, targets=targets,  # type: ignore[arg-type]
            references=((record["sender"], record["identifier"]),),
            summary=summary_json(hijack, alert_id, "demo-air-force", targets,  # type: ignore[arg-type]
                                 frozenset({"air-raid"}), regions=default_region_set())))
    finally:
        skip_state_rules.close()
    hub.start()

    caught = _tocsin(*monitor, "--evidence", tmp_path / "evidence.json")
    assert caught.returncode == 1, caught.stdout + caught.stderr
    evidence = json.loads(caught.stdout)
    assert evidence["kind"] == "bad-entry" and "status_mismatch" in evidence["reason"], evidence
    assert "the log holds this entry" in confirm_evidence(evidence, read_verifier(hub.data_dir / "log.pub"))
