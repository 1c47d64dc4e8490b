"""An all-clear for part of an alert's area leaves the rest as the hierarchy rule says.

Written against issue 13's finding: an all-clear for one hromada ended that hromada but
left its raion (and oblast) ``full``, although part of them was cleared.
"""

from __future__ import annotations

import httpx

from tocsin.testing import HubProcess

from .conftest import KYIV_OBLAST, make_alert

RAION = "UA32020000000057002"  # Bila Tserkva raion, Kyiv oblast
HROMADA = "UA32020010000093088"  # Bila Tserkva hromada, in that raion
OTHER_RAION = "UA32040000000054694"
OTHER_HROMADA = "UA32040010000010116"


def _coverage(hub: HubProcess, code: str) -> str:
    return str(httpx.get(f"{hub.url}/api/v1/regions/{code}/status").json()["coverage"])


def test_all_clear_for_one_hromada_leaves_its_raion_and_oblast_partial(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    with hub.client() as client:
        client.issue(make_alert(areas=(KYIV_OBLAST,)), signer)
        assert _coverage(hub, RAION) == "full"
        client.issue(make_alert(areas=(HROMADA,), kind="all-clear", expires_in=None), signer)
    assert _coverage(hub, HROMADA) == "none"
    assert _coverage(hub, RAION) == "partial"
    assert _coverage(hub, KYIV_OBLAST) == "partial"
    assert _coverage(hub, OTHER_RAION) == "full"
    assert _coverage(hub, OTHER_HROMADA) == "full"
