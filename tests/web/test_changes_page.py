"""Updates and Cancels on the pages say what they are, in the page's language.

An independent review found: a CAP ``Cancel`` (which carries no ``info``, so no kind) was
shown on the Ukrainian alert page with the English headline "Cancel" and an empty type; and
an alert replaced by an ``Update`` said "Завершено" (ended) as if the danger were over.
"""

from __future__ import annotations

from typing import Any

from tocsin.cap.model import Reference
from tocsin.client import HubClient
from tocsin.compose import compose_cancel
from web.conftest import KYIV, HubProcess


def _open(page: Any, hub: HubProcess, alert_id: str) -> None:
    page.goto(f"{hub.url}/alerts/{alert_id}")
    page.wait_for_selector("body[data-verdict=verified]", timeout=15000)


def test_a_cancel_reads_as_a_cancellation_in_ukrainian(page: Any, hub: HubProcess) -> None:
    first = hub.issue((KYIV,))
    ref = Reference(sender=first["sender"], identifier=first["identifier"], sent=first["sent"])
    with HubClient(hub.url) as client:
        cancel = client.issue(compose_cancel(issuer_id="demo-air-force", sender=first["sender"],
                                             original=ref), hub.signer("demo-air-force"))
    _open(page, hub, cancel["id"])
    assert page.locator("#headline").inner_text() == "Скасування попередження"
    summary = page.locator("#summary").inner_text()
    assert "Скасування" in summary and "Cancel" not in summary
    assert first["identifier"] in summary  # what it cancels, as the CAP names it
    assert page.locator("body").get_attribute("data-msg-type") == "Cancel"


def test_an_alert_replaced_by_an_update_says_updated_not_ended(page: Any, hub: HubProcess) -> None:
    first = hub.issue((KYIV,), instruction="Прямуйте до укриття")
    ref = Reference(sender=first["sender"], identifier=first["identifier"], sent=first["sent"])
    update = hub.issue((KYIV,), kind="missile", msg_type="Update", references=(ref,))
    view = page.request.get(f"{hub.url}/api/v1/alerts/{first['id']}").json()
    assert view["over"]["reason"] == "updated" and view["over"]["by"] == update["id"]
    _open(page, hub, first["id"])
    over = page.locator("#over")
    assert over.get_attribute("data-reason") == "updated"
    assert over.inner_text().startswith("Оновлено"), over.inner_text()
    assert "Завершено" not in over.inner_text()
    assert over.locator(f"a[href='/alerts/{update['id']}']").count() == 1  # the version in force
    page.goto(f"{hub.url}/regions/{KYIV}")
    page.wait_for_selector("body[data-ready=true]")
    assert "оновлено" in page.locator("#timeline").inner_text()
