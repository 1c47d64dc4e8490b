"""Two independent monitors and the witness agree on a live hub's log (the issue's 'done when')."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import KYIV, LVIV_OBLAST, HubProcess, make_alert


def _monitor(hub: HubProcess, state: Path, registry: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tocsin", "monitor", hub.url, "--state-dir", str(state), "--once",
         "--log-key", str(hub.data_dir / "log.pub"), "--registry", str(registry),
         "--policy", str(hub.data_dir / "witness-policy.txt")],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_two_monitors_follow_the_hub_and_agree(hub: HubProcess, tmp_path: Path) -> None:
    registry = tmp_path / "registry.json"
    registry.write_bytes((hub.data_dir / "registry.json").read_bytes())
    with hub.client() as client:
        client.issue(make_alert(areas=(KYIV,)), hub.signer("demo-air-force"))
        client.issue(make_alert("demo-kyiv-city", (KYIV,)), hub.signer("demo-kyiv-city"))
    first = [_monitor(hub, tmp_path / f"monitor-{n}", registry) for n in (1, 2)]
    for result in first:
        assert result.returncode == 0, result.stdout + result.stderr
    with hub.client() as client:
        client.issue(make_alert(areas=(LVIV_OBLAST,)), hub.signer("demo-air-force"))
    again = [_monitor(hub, tmp_path / f"monitor-{n}", registry) for n in (1, 2)]
    for result in again:
        assert result.returncode == 0, result.stdout + result.stderr
    for result in again:  # registry leaf + 3 alerts, every entry re-verified by each
        assert "verified size 4" in result.stderr, result.stderr
