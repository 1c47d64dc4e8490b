"""Escalation "to an admin after M minutes" (issue 17 item 4): besides the dashboard flag, the
organisation's owners and admins are emailed the names of those who have not answered."""

from __future__ import annotations

from pathlib import Path

from tocsin.org.model import Person, Place, Role
from tocsin.org.service import Audience, OrgService
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import region_set_for

from .conftest import RecordingChannel, until

KYIV = "UA80000000000093317"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_escalation_emails_the_admins_once(tmp_path: Path) -> None:
    clock = Clock()
    store = OrgStore(tmp_path / FILE_NAME, clock=clock)
    org, _, _ = store.create_org("Hospital", new_signer, "owner@h.org")
    store.add_admin(org.id, "admin@h.org", Role.ADMIN, "cli")
    store.add_admin(org.id, "viewer@h.org", Role.VIEWER, "cli")
    store.save_people(org.id, [Person(id="", org_id="", ref=str(n), name=f"Person {n}", language="en",
                                      channels={"sms": f"+38050000000{n}"}, places=(Place("home", KYIV),))
                               for n in (1, 2)], "admin")
    store.set_settings(org.id, "owner", retention_days=None, rule_enabled=False, rule_text="",
                       reminder_minutes=None, escalate_minutes=30)
    org = store.org(org.id) or org
    sms, email = RecordingChannel("sms"), RecordingChannel("email")
    service = OrgService(store, region_set_for(None), base_url="https://hub.example", channels=[sms, email],
                         clock=clock)
    await service.start()
    try:
        message = await service.send(org, "admin", texts={"en": "Shelter now"},
                                     audience=Audience(everyone=True), checkin=True)
        await sms.wait(2)
        token = next(out.link for out in sms.sent if out.address == "+380500000001").rsplit("/", 1)[1]
        await service.answer(message.id, token, "safe", "")
        clock.now += 31 * 60
        assert await service.follow_up() == {"reminders": 0, "escalations": 1}
        await email.wait(2)
        assert sorted(out.address for out in email.sent) == ["admin@h.org", "owner@h.org"]  # no viewer
        text = email.sent[0].text
        assert "Person 2" in text and "Person 1" not in text and "https://hub.example/org" in text
        assert await service.follow_up() == {"reminders": 0, "escalations": 0}  # once
        await until(service, org.id, message.id, lambda: len(store.deliveries(org.id, message.id)) >= 4)
        assert "checkin.escalation" in [e.action for e in store.audit_entries(org.id)]
        assert len(email.sent) == 2
    finally:
        await service.stop()
