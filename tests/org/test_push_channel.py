"""Org messages to a person's browser through Web Push, with the hub's own push parts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from push.push_service import push_service
from tocsin.org.channels import WebPushChannel
from tocsin.org.model import Person, Place
from tocsin.org.service import Audience, OrgService
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.push.vapid import VapidSigner, load_or_create_vapid_key
from tocsin.regions import region_set_for

from .conftest import until

KYIV = "UA80000000000093317"


async def test_a_check_in_reaches_a_browser_by_web_push(tmp_path: Path) -> None:
    signer = VapidSigner(load_or_create_vapid_key(tmp_path), "mailto:ops@example.org")
    with push_service(signer.public_key_b64) as service:
        device, gone = service.device(), service.device(answers=[(410, {})])
        store = OrgStore(tmp_path / FILE_NAME)
        org, _, _ = store.create_org("School", new_signer, "a@a.org")
        store.save_people(org.id, [
            Person(id="", org_id="", ref=str(n), name=f"P{n}", language="en",
                   channels={"push": json.dumps(d.subscription())}, places=(Place("home", KYIV),))
            for n, d in enumerate((device, gone))], "admin")
        org_service = OrgService(store, region_set_for(None), base_url="https://hub.example.org",
                                 channels=[WebPushChannel(signer, frozenset({"127.0.0.1"}))])
        await org_service.start()
        try:
            message = await org_service.send(org, "admin", texts={"en": "School closed, stay home"},
                                             audience=Audience(everyone=True), checkin=True)
            [received] = await asyncio.to_thread(service.wait_delivered, device, 1)
            assert received.payload["body"] == "School closed, stay home"
            assert received.payload["title"] == "School"
            assert received.payload["url"].startswith(f"https://hub.example.org/org/c/{message.id}/")
            assert service.errors == []  # VAPID and the encryption checked by the service

            def statuses() -> list[str]:
                return sorted(s for d in store.deliveries(org.id, message.id).values() for s in d.values())

            await until(org_service, org.id, message.id, lambda: statuses() == ["failed", "sent"])
            # the 410 shows as failed, with its reason
        finally:
            await org_service.stop()
