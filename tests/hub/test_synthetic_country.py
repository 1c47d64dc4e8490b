"""Regions are data: a hub of a tiny made-up country works end to end, with no Ukraine in it.

Country ``XX``: provinces ``XW`` (municipalities ``XW1``, ``XW2``) and ``XE`` (``XE1``),
unit squares side by side. The region data directory is chosen by ``TOCSIN_REGIONS``; the
registry, keys, issuing, status, point lookup, streams, map layers, the check, ``tocsin
verify`` and ``tocsin monitor`` all run on it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tocsin.client import HubClient
from tocsin.compose import AlertFacts, compose_alert
from tocsin.regions.loading import load_region_dir
from tocsin.testing import HubProcess, write_tiny_country
from tocsin.trust.note import Signer


def _tocsin(env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "tocsin", *map(str, args)], capture_output=True,
                            text=True, timeout=120, check=False, env={**os.environ, **env})
    return result


@pytest.fixture
def country(tmp_path: Path) -> Iterator[tuple[HubProcess, Path, dict[str, str]]]:
    data = write_tiny_country(tmp_path / "regions")
    env = {"TOCSIN_REGIONS": str(data)}
    keys, registry = tmp_path / "keys", tmp_path / "registry.json"
    for args in (
        ("keys", "generate", "--issuer", "root", "--out", keys),
        ("keys", "generate", "--issuer", "xx.west", "--out", keys),
        ("registry", "init", "--root-key", keys / "root.key", "--out", registry),
        ("registry", "add-issuer", registry, "--root-key", keys / "root.key", "--id", "xx.west",
         "--name-uk", "Захід", "--name-en", "West Province", "--kind", "air-raid",
         "--kind", "all-clear", "--region", "XX-W", "--key", keys / "xx.west.pub"),
    ):
        done = _tocsin(env, *args)
        assert done.returncode == 0, done.stdout + done.stderr
    hub = HubProcess(tmp_path / "data", env=env, demo=False, args=("--registry", str(registry)))
    hub.start()
    yield hub, tmp_path, env
    hub.stop()


def test_a_hub_of_another_country(country: tuple[HubProcess, Path, dict[str, str]]) -> None:
    hub, tmp, env = country
    regions = load_region_dir(tmp / "regions")
    signer = Signer.from_skey((tmp / "keys" / "xx.west.key").read_text().strip())
    alert = compose_alert(AlertFacts(issuer_id="xx.west", kind="air-raid", areas=("XW1",),
                                     expires_in=timedelta(hours=1)), regions=regions)
    with HubClient(hub.url) as client:
        issued = client.issue(alert, signer)
        assert {a["name_en"] for a in issued["areas"]} == {"West One"}
        status = httpx.get(f"{hub.url}/api/v1/regions/XW1/status").json()
        assert status["coverage"] == "full"
        assert httpx.get(f"{hub.url}/api/v1/regions/XX-W/status").json()["coverage"] == "partial"
        assert httpx.get(f"{hub.url}/api/v1/regions/XE1/status").json()["coverage"] == "none"
        located = httpx.get(f"{hub.url}/api/v1/regions/locate", params={"lat": 0.5, "lon": 0.25})
        assert [r["code"] for r in located.json()["regions"]][:1] == ["XW1"]
        # out of jurisdiction in this country too
        east = compose_alert(AlertFacts(issuer_id="xx.west", kind="air-raid", areas=("XE1",),
                                        expires_in=timedelta(hours=1)), regions=regions)
        refused = httpx.post(f"{hub.url}/api/v1/alerts", json=__import__("tocsin.client").client
                             .issue_request(*_signed(east, signer)))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "unauthorised"
    layer = httpx.get(f"{hub.url}/api/v1/map/layers/oblast.json")
    assert layer.status_code == 200 and {f["properties"]["code"] for f in layer.json()["features"]} \
        == {"XW", "XE"}
    checked = httpx.post(f"{hub.url}/api/v1/check", json={"text": alert.info[0].description or
                                                          alert.info[0].event})
    assert checked.status_code == 200

    cap = tmp / "a.xml"
    from tocsin.cap import to_xml
    from tocsin.client import sign_cap

    cap.write_bytes(to_xml(alert))
    (tmp / "a.xml.sig").write_bytes(sign_cap(cap.read_bytes(), signer))
    verified = _tocsin(env, "verify", cap, "--registry", tmp / "registry.json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    watched = _tocsin(env, "monitor", hub.url, "--state-dir", tmp / "mon", "--once", "--log-key",
                      hub.data_dir / "log.pub", "--registry", tmp / "registry.json")
    assert watched.returncode == 0, watched.stdout + watched.stderr
    located_cli = _tocsin(env, "regions", "locate", "0.5", "0.25")
    assert located_cli.returncode == 0 and located_cli.stdout.split()[0] == "XW1", located_cli.stdout


def _signed(alert: object, signer: Signer) -> tuple[bytes, bytes]:
    from tocsin.cap import to_xml
    from tocsin.client import sign_cap

    cap = to_xml(alert)  # type: ignore[arg-type]
    return cap, sign_cap(cap, signer)
