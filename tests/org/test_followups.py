"""Reminders to people who have not answered after N minutes; escalation to their second contact
after M minutes — once each, audited, shown on the dashboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.org.model import Person, Place
from tocsin.org.service import Audience, OrgRefused, OrgService
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


def person(ref: str, contact: str = "") -> Person:
    return Person(id="", org_id="", ref=ref, name=f"Person {ref}", language="en",
                  channels={"sms": f"+38050000000{ref}"}, places=(Place("home", KYIV),), contact=contact)


async def test_reminders_then_escalation_once_each(tmp_path: Path) -> None:
    clock = Clock()
    store = OrgStore(tmp_path / FILE_NAME, clock=clock)
    org, _, _ = store.create_org("Hospital", new_signer, "a@a.org")
    store.save_people(org.id, [person("1"), person("2", "+380 67 111 22 33"), person("3")], "admin")
    store.set_settings(org.id, "owner", retention_days=None, rule_enabled=False, rule_text="",
                       reminder_minutes=10, escalate_minutes=30)
    org = store.org(org.id) or org
    channel = RecordingChannel()
    service = OrgService(store, region_set_for(None), base_url="https://hub", channels=[channel], clock=clock)
    await service.start()
    try:
        message = await service.send(org, "admin", texts={"en": "Shelter now"},
                                     audience=Audience(everyone=True), checkin=True)
        await channel.wait(3)
        first = {out.address: out.link.rsplit("/", 1)[1] for out in channel.sent}
        await service.answer(message.id, first["+380500000001"], "safe", "")
        clock.now += 9 * 60
        assert await service.follow_up() == {"reminders": 0, "escalations": 0}
        clock.now += 2 * 60
        assert await service.follow_up() == {"reminders": 2, "escalations": 0}
        assert await service.follow_up() == {"reminders": 0, "escalations": 0}  # once
        await channel.wait(5)
        reminders = channel.sent[3:]
        assert sorted(out.address for out in reminders) == ["+380500000002", "+380500000003"]
        assert all(out.text == "Reminder: Shelter now" for out in reminders)
        # the reminder's link answers the same request; the first answer stands for both links
        second = {out.address: out.link.rsplit("/", 1)[1] for out in reminders}
        assert second["+380500000003"] != first["+380500000003"]
        await service.answer(message.id, second["+380500000003"], "away", "")
        with pytest.raises(OrgRefused) as again:
            await service.answer(message.id, first["+380500000003"], "safe", "")
        assert again.value.code == "checkin_answered"
        clock.now += 20 * 60
        assert await service.follow_up() == {"reminders": 0, "escalations": 1}
        await channel.wait(6)
        [escalation] = channel.sent[5:]
        assert escalation.address == "+380671112233"
        assert escalation.short == ("Hospital: Person 2 has not answered Hospital's safety check. "
                                    "Please check on them.")
        board = service.dashboard(org.id, message.id)
        assert board["counts"] == {"safe": 1, "need_help": 0, "away": 1, "not_answered": 1}
        row = next(r for r in board["people"] if r["name"] == "Person 2")
        assert row["reminded"] and row["escalated"]
        await until(service, org.id, message.id, lambda: store.deliveries(org.id, message.id)
                    .get(row["id"], {}).get("contact-sms") == "sent")
        actions = [e.action for e in store.audit_entries(org.id)]
        assert actions.count("checkin.reminder") == 1 and actions.count("checkin.escalation") == 1
    finally:
        await service.stop()
