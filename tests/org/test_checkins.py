"""Org messages signed by the organisation's key; check-ins answered once each."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tocsin.org.channels import SmsGateway
from tocsin.org.model import Person, Place
from tocsin.org.service import Audience, OrgRefused, OrgService
from tocsin.org.signing import check_message, new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import region_set_for
from tocsin.trust.note import NoteError

from .conftest import RecordingChannel, SmsReceiver, until

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"
REGIONS = region_set_for(None)


def people(n: int, place: str = KYIV, group: str = "staff") -> list[Person]:
    return [Person(id="", org_id="", ref=f"{group}{i}", name=f"Person {i}", language="uk" if i % 2 else "en",
                   channels={"sms": f"+38050{i:07d}"}, places=(Place("home", place),), groups=(group,))
            for i in range(n)]


async def test_a_signed_check_in_through_an_sms_gateway(tmp_path: Path, sms: tuple[SmsReceiver, str]) -> None:
    receiver, url = sms
    store = OrgStore(tmp_path / FILE_NAME)
    org, _, _ = store.create_org("Embassy", new_signer, "a@a.org")
    other, _, _ = store.create_org("Other", new_signer, "b@b.org")
    store.save_people(org.id, people(3) + people(1, LVIV_OBLAST, "drivers")
                      + [Person(id="", org_id="", ref="x9", name="Bad Number", language="uk",
                                channels={"sms": "+380500000009"}, places=(Place("home", KYIV),))], "admin")
    service = OrgService(store, REGIONS, base_url="https://hub.example.org",
                         channels=[SmsGateway(url, "gw-secret", frozenset({"127.0.0.1"}))])
    await service.start()
    try:
        message = await service.send(org, "admin", texts={"uk": "Залишайтеся в укритті", "en": "Shelter"},
                                     audience=Audience(regions=(KYIV,)), checkin=True)
        assert message.recipients == 4  # the three staff in Kyiv and the bad number; not Lviv
        await asyncio.to_thread(receiver.wait, 4)
        assert receiver.headers[0]["authorization"] == "Bearer gw-secret"
        # the organisation's key signs it; another organisation's key does not verify it
        text = check_message(message.note, org.public_vkey)
        assert "Залишайтеся в укритті" in text and f"message {message.id}" in text
        with pytest.raises(NoteError):
            check_message(message.note, other.public_vkey)
        link = receiver.link_for("+380500000001")
        assert link.startswith(f"https://hub.example.org/org/c/{message.id}/")
        token = link.rsplit("/", 1)[1]
        await service.answer(message.id, token, "need_help", "  ногу зламав  ")
        with pytest.raises(OrgRefused) as replay:
            await service.answer(message.id, token, "safe", "")
        assert replay.value.code == "checkin_answered"
        with pytest.raises(OrgRefused) as forged:
            await service.answer(message.id, token[:-2] + "xx", "safe", "")
        assert forged.value.code == "checkin_token_invalid"
        second = await service.send(org, "admin", texts={"en": "Second"}, audience=Audience(everyone=True),
                                    checkin=True)
        with pytest.raises(OrgRefused) as elsewhere:
            await service.answer(second.id, token, "safe", "")
        assert elsewhere.value.code == "checkin_token_invalid"
        assert store.refusals(org.id)[-1][2].startswith(f"check-in token of message {message.id}")
        await until(service, org.id, message.id,
                    lambda: sorted(s for d in store.deliveries(org.id, message.id).values()
                                   for s in d.values()) == ["delivered", "failed", "sent", "sent"])
        board = service.dashboard(org.id, message.id)
        assert board["counts"] == {"safe": 0, "need_help": 1, "away": 0, "not_answered": 3}
        first = board["people"][0]
        assert first["answer"] == "need_help" and first["note"] == "ногу зламав"
        assert first["delivery"] == {"sms": "delivered"}  # the gateway said so for ...1
        statuses = sorted(d["sms"] for d in (r["delivery"] for r in board["people"]))
        assert statuses == ["delivered", "failed", "sent", "sent"]
        assert first["places"][0]["name"]  # where they are, by name
    finally:
        await service.stop()


async def test_ten_thousand_answers_each_recorded_once(tmp_path: Path) -> None:
    store = OrgStore(tmp_path / FILE_NAME)
    org, _, _ = store.create_org("Big", new_signer, "a@a.org")
    store.save_people(org.id, people(10_000), "admin")
    channel = RecordingChannel()
    service = OrgService(store, REGIONS, base_url="http://hub", channels=[channel])
    await service.start()
    try:
        started = time.perf_counter()
        message = await service.send(org, "admin", texts={"uk": "Тест"}, audience=Audience(everyone=True),
                                     checkin=True)
        await channel.wait(10_000)
        queued = time.perf_counter()
        listener = service.listen(org.id, message.id)
        tokens = [out.link.rsplit("/", 1)[1] for out in channel.sent]
        answers = ("safe", "need_help", "away")
        results = await asyncio.gather(*(service.answer(message.id, t, answers[i % 3], "")
                                         for i, t in enumerate(tokens)))
        recorded = time.perf_counter()
        assert len({r.person_id for r in results}) == 10_000
        replays = await asyncio.gather(*(service.answer(message.id, t, "safe", "") for t in tokens[:100]),
                                       return_exceptions=True)
        assert all(isinstance(r, OrgRefused) and r.code == "checkin_answered" for r in replays)
        assert listener.wake.is_set() and len(listener.changed) == 10_000
        counts = service.dashboard(org.id, message.id)["counts"]
        board = time.perf_counter()
        assert counts == {"safe": 3334, "need_help": 3333, "away": 3333, "not_answered": 0}
        print(f"\n10,000 people: signed + queued to their channel {queued - started:.2f} s, "
              f"10,000 answers recorded {recorded - queued:.2f} s, dashboard {board - recorded:.2f} s")
    finally:
        await service.stop()
