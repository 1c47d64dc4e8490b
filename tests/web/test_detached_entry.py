"""The browser's verifier rebuilds a detached log entry (an alert too large for a 64 KiB leaf).

A nationwide alert naming every hromada (~650 KB) is logged as the statement alone (entry
type 3, see docs/tlog.md); the alert page must still prove its inclusion in the log.
"""

from __future__ import annotations

from typing import Any

import httpx

from hub.test_large_alerts import nationwide_cap
from tocsin.client import issue_request, sign_cap
from web.conftest import HubProcess

VERIFY_TIMEOUT_MS = 30000


def test_the_alert_page_proves_a_detached_entry(page: Any, hub: HubProcess) -> None:
    cap = nationwide_cap()
    statement = sign_cap(cap, hub.signer("demo-air-force"))
    response = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement), timeout=120)
    assert response.status_code == 201, response.text
    page.goto(f"{hub.url}/alerts/{response.json()['id']}")
    page.wait_for_selector("body[data-verdict=verified]", timeout=VERIFY_TIMEOUT_MS)
    inclusion = page.locator('#checks li[data-check="inclusion"]').get_attribute("data-result")
    assert inclusion == "ok"
