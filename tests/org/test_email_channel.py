"""Org messages by email through the hub's SMTP relay (the email alerts' own parts), to a real
SMTP server (aiosmtpd); the signed note travels with the message and checks."""

from __future__ import annotations

import asyncio
from email.headerregistry import Address
from pathlib import Path

from mail.conftest import Relay as SmtpServer
from tocsin.mail.smtp import Relay
from tocsin.org.channels import EmailChannel
from tocsin.org.model import Person, Place
from tocsin.org.service import Audience, OrgService
from tocsin.org.signing import check_message, new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import region_set_for

from .conftest import until

KYIV = "UA80000000000093317"


async def test_a_check_in_by_email(tmp_path: Path) -> None:
    server = SmtpServer()
    server.start()
    try:
        store = OrgStore(tmp_path / FILE_NAME)
        org, _, _ = store.create_org("Посольство", new_signer, "a@a.org")
        store.save_people(org.id, [
            Person(id="", org_id="", ref="1", name="Olena", language="uk",
                   channels={"email": "olena@example.org"}, places=(Place("home", KYIV),)),
            Person(id="", org_id="", ref="2", name="Bad", language="uk",
                   channels={"email": "bad@[not an address"}, places=(Place("home", KYIV),))], "admin")
        channel = EmailChannel(Relay(host="127.0.0.1", port=server.port, security="none", timeout=10),
                               Address("Tocsin", addr_spec="alerts@tocsin.example.org"))
        service = OrgService(store, region_set_for(None), base_url="https://hub", channels=[channel])
        await service.start()
        try:
            message = await service.send(org, "admin", texts={"uk": "Залишайтеся в укритті"},
                                         audience=Audience(everyone=True), checkin=True)
            [mail] = await asyncio.to_thread(server.inbox.wait_for, "olena@example.org", 1)
            assert str(mail["Subject"]) == "Посольство"
            body = mail.get_content()
            assert "Залишайтеся в укритті" in body and f"https://hub/org/c/{message.id}/" in body
            note = body.split("--\n", 1)[1].encode()
            assert "Залишайтеся в укритті" in check_message(note, org.public_vkey)

            def statuses() -> list[str]:
                return sorted(s for d in store.deliveries(org.id, message.id).values() for s in d.values())

            await until(service, org.id, message.id, lambda: statuses() == ["failed", "sent"])
        finally:
            await service.stop()
    finally:
        server.stop()
