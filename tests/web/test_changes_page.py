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


def test_where_names_the_regions_a_shape_reaches_never_the_issuers_area_desc(
        page: Any, hub: HubProcess) -> None:
    """``areaDesc`` is the issuer's free text: a circle over Lviv described as "м. Київ" must
    not read "Де: м. Київ". Pages name the regions the CAP's geocodes name or, for shapes,
    the regions the hub found them to reach — never ``areaDesc``."""
    import msgspec

    from tocsin.cap import to_xml
    from tocsin.cap.model import Area, Circle
    from tocsin.client import issue_request, sign_cap
    from tocsin.compose import AlertFacts, compose_alert

    base = compose_alert(AlertFacts(issuer_id="demo-air-force", kind="air-raid", areas=(KYIV,)))
    ring = Circle(lat=49.8397, lon=24.0297, radius_km=1.0, text="49.8397,24.0297 1.0")  # Lviv centre
    info = msgspec.structs.replace(base.info[0], area=(Area(area_desc="м. Київ", circle=(ring,)),))
    cap = to_xml(msgspec.structs.replace(base, info=(info,)))
    answer = page.request.post(f"{hub.url}/api/v1/alerts", data=issue_request(
        cap, sign_cap(cap, hub.signer("demo-air-force"))))
    assert answer.status == 201, answer.text()
    alert = answer.json()
    view = page.request.get(f"{hub.url}/api/v1/alerts/{alert['id']}").json()
    assert [a["name_uk"] for a in view["areas"]] == ["Львівська територіальна громада"]
    assert view["area_desc"] == ["м. Київ"]  # the API keeps the issuer's words, as signed
    _open(page, hub, alert["id"])
    where = page.locator("#where").inner_text()
    assert "Львівська територіальна громада" in where and "Київ" not in where
    page.goto(f"{hub.url}/")
    item = page.locator(f".alert-item[data-id='{alert['id']}']")
    item.wait_for()
    assert "Львівська" in item.inner_text() and "Київ" not in item.inner_text()
