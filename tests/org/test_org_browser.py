"""The organisation pages in Chromium: enrol with a passkey (DevTools virtual authenticator),
import people, send a check-in, three people answer on phone-sized pages, the dashboard
updates live, export, and the owner reads the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tocsin.testing import chromium

from .conftest import OrgHub

pytestmark = pytest.mark.timeout(240)

KYIV = "UA80000000000093317"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
PEOPLE = (f"id,name,language,sms,home,groups\n"
          f"1,Олена Коваль,uk,+380500000001,{KYIV},staff\n"
          f'2,John Smith,en,+380500000002,"50.45,30.52",staff\n'
          f"3,=HYPERLINK(\"http://evil\"),uk,+380500000003,{KYIV},drivers\n"
          f"3,Duplicate,uk,,,\n")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as instance:
        yield instance


def _errors(page: Any) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def test_an_admin_runs_a_check_in_from_the_browser(org_hub: OrgHub, browser: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    link = org_hub.create_org("Посольство Тестляндії", "consul@example.org")
    org_hub.hub.start()
    admin = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = admin.new_page()
    errors = _errors(page)
    cdp = admin.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    # enrol: a passkey, ten recovery codes shown once
    page.goto(link)
    page.click("#create")
    expect(page.locator("#done")).to_be_visible()
    assert len(page.locator("#codes").inner_text().split("\n")) == 10
    page.click("#go")
    expect(page.locator("#org-name")).to_have_text("Посольство Тестляндії")
    # signing out and in again uses the same passkey, nothing typed
    page.click("#logout")
    expect(page).to_have_url(f"{org_hub.origin}/org/login")
    page.click("#login")
    expect(page.locator("#org-name")).to_have_text("Посольство Тестляндії")
    # import people: the duplicate is reported
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(PEOPLE, encoding="utf-8")
    page.set_input_files("#import input[name=file]", str(csv_file))
    page.click("#import button")
    expect(page.locator("#import-summary")).to_have_text("3 accepted (3 new, 0 updated), 1 rejected")
    expect(page.locator("#import-report li")).to_have_text("line 5: duplicate of line 4")
    expect(page.locator("#people-count")).to_have_text("3")
    # send a check-in to everyone: the dashboard opens, live
    page.select_option("#send select[name=template]", "closed")
    page.click("#send button")
    expect(page.locator("#send-result")).to_have_text("Sent to 3 people.")
    expect(page.locator("#live-state")).to_have_text("live")
    expect(page.locator("#count-not_answered")).to_have_text("3")
    # three people answer on their phones, from the links their SMS carried
    org_hub.sms.wait(3)
    for phone, answer, note in (("+380500000001", "need_help", "Потрібні ліки"),
                                ("+380500000002", "safe", ""), ("+380500000003", "away", "")):
        person = browser.new_context(**PHONE)
        mobile = person.new_page()
        mobile_errors = _errors(mobile)
        mobile.goto(org_hub.sms.link_for(phone))
        expect(mobile.locator("#org")).to_have_text("Посольство Тестляндії")
        if note:
            mobile.fill("input[name=note]", note)
        mobile.click(f"button[value={answer}]")
        expect(mobile.locator("#answered")).to_be_visible()
        assert mobile_errors == []
        person.close()
        if answer == "need_help":  # the dashboard shows it live, first, before the others answer
            expect(page.locator("#count-need_help")).to_have_text("1")
            expect(page.locator("#checkin-people tr").first).to_have_class("need_help")
    expect(page.locator("#count-safe")).to_have_text("1")
    expect(page.locator("#count-away")).to_have_text("1")
    expect(page.locator("#count-not_answered")).to_have_text("0")
    first = page.locator("#checkin-people tr").first
    expect(first).to_contain_text("Олена Коваль")
    expect(first).to_contain_text("Потрібні ліки")
    expect(first).to_contain_text("Київ")  # where she is, by name
    expect(first.locator(".delivery")).to_have_text("sms: delivered")
    # export: the formula in a name comes out neutralised
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in exported and "Олена Коваль" in exported
    # the owner reads the audit log
    page.click("#load-audit")
    expect(page.locator("#audit-intact")).to_have_text("chain intact")
    actions = page.locator(".audit-entry td:nth-child(3)").all_inner_texts()
    assert {"org.create", "admin.enrol", "admin.login", "people.import", "message.send",
            "people.export"} <= set(actions)
    assert errors == []
    admin.close()
