"""An organisation's rule also follows the hubs its hub follows (issue 17 item 5): a
followed Tocsin hub's threat, verified end to end, over a person's place raises their
check-in and that hub's all-clear closes it; a plain CAP feed's threat (relayed,
unverified) over the same place triggers nothing.

Real servers: hub A (``tocsin serve``), a plain CAP feed, and hub B (``tocsin serve`` with
an organisation and an SMS gateway) following both every second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from click.testing import CliRunner
from tests.follow.servers import cap_feed_app

from tocsin.cap import to_xml
from tocsin.cli import main
from tocsin.compose import AlertFacts, compose_alert
from tocsin.issue import alert_id_for
from tocsin.testing import HubProcess, free_port, serve_asgi

from .conftest import Admin, OrgHub, SmsReceiver

KYIV = "UA80000000000093317"
LVIV = "UA46060250000025047"
T = TypeVar("T")


def until(probe: Callable[[], T | None], what: str, timeout: float = 60.0) -> T:
    """Poll ``probe`` (an HTTP read of a running hub) until it gives something; bounded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.1)  # the followers poll every second; this only paces the reads
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Federation:
    a: HubProcess
    b: OrgHub
    plain: list[str]  # the plain CAP feed's entries (read live by its server)
    documents: dict[str, bytes]

    def relayed(self, alert_id: str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.b.hub.url}/api/v1/relayed/{alert_id}", timeout=10)
        return response.json() if response.status_code == 200 else None


@pytest.fixture
def federation(tmp_path: Path) -> Iterator[Federation]:
    sms = SmsReceiver()
    documents: dict[str, bytes] = {}
    feeds: dict[str, list[str]] = {"plain": []}
    a = HubProcess(tmp_path / "a")
    a.start()
    try:
        with serve_asgi(sms.app()) as sms_url, serve_asgi(cap_feed_app(documents, feeds)) as cap_url:
            port = free_port()
            origin = f"http://localhost:{port}"
            b = HubProcess(tmp_path / "b", port=port,
                           env={"TOCSIN_PUBLIC_URL": origin, "TOCSIN_FOLLOW_ALLOWED_HOSTS": "127.0.0.1",
                                "TOCSIN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
                                "TOCSIN_ORG_SMS_GATEWAY_URL": sms_url + "/sms"})
            b.data_dir.mkdir(parents=True)
            for args in (
                    [f"{a.url}/feeds/alerts.atom", "--name", "hub-a",
                     "--registry-root", str(a.data_dir / "registry-root.pub"),
                     "--log-key", str(a.data_dir / "log.pub"),
                     "--policy", str(a.data_dir / "witness-policy.txt")],
                    [f"{cap_url}/plain.atom", "--name", "plain"]):
                result = CliRunner().invoke(main, ["follow", *args, "--interval", "1",
                                                   "--data-dir", str(b.data_dir)])
                assert result.exit_code == 0, result.output
            yield Federation(a, OrgHub(b, sms, origin), feeds["plain"], documents)
            b.stop()
    finally:
        a.stop()


def air_raid(**kw: Any) -> Any:
    kw.setdefault("expires_in", timedelta(hours=1))
    return compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,), **kw))


def test_a_followed_hubs_verified_threat_triggers_the_rule_an_unverified_one_never(
        federation: Federation) -> None:
    org_hub, a = federation.b, federation.a
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    people = (f"id,name,language,sms,home,work\n"
              f"1,Олена,uk,+380500000001,{KYIV},\n"
              f"2,Taras,uk,+380500000003,{LVIV},\n").encode()
    imported = owner.request("POST", f"/api/v1/orgs/{owner.org}/people.csv", content=people)
    assert imported.json()["accepted"] == 2
    assert owner.request("PUT", f"/api/v1/orgs/{owner.org}/settings",
                         json={"rule_enabled": True}).status_code == 200

    # A plain CAP feed's air-raid alert over Kyiv: relayed, unverified -> nothing happens.
    unverified = to_xml(air_raid(kind="air-raid", headline="from a plain feed"))
    federation.documents["unverified.xml"] = unverified
    federation.plain.append("unverified.xml")
    view = until(lambda: federation.relayed(alert_id_for(unverified)), "B to relay the plain feed's alert")
    assert view["trust"] == "unverified"

    # Hub A's air-raid alert over Kyiv: verified by B's follower -> the Kyiv person's check-in.
    with a.client() as client:
        threat = client.issue(air_raid(kind="air-raid"), a.signer("demo-air-force"))
    org_hub.sms.wait(1)
    assert until(lambda: federation.relayed(threat["id"]), "B to relay A's alert")["trust"] == "verified"
    assert [m["to"] for m in org_hub.sms.received] == ["+380500000001"]  # Kyiv, not Lviv
    assert org_hub.sms.received[0]["text"].startswith("Embassy: Повітряна тривога")
    [message] = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages").json()["messages"]
    assert message["checkin"] and message["alert"] == threat["id"] and message["closed"] is None

    # A's all-clear closes it and says so.
    with a.client() as client:
        client.issue(compose_alert(AlertFacts(issuer_id="demo-air-force", areas=(KYIV,), kind="all-clear",
                                              expires_in=None)), a.signer("demo-air-force"))
    org_hub.sms.wait(2)
    closing = org_hub.sms.received[1]
    assert closing["to"] == "+380500000001"
    assert "Check-in closed" in closing["text"] or "Запит закрито" in closing["text"]
    board = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages/{message['id']}").json()
    assert board["message"]["closed"] is not None
    messages = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages").json()["messages"]
    assert [m["alert"] for m in messages if m["checkin"]] == [threat["id"]]  # the plain one: never
    assert len(org_hub.sms.received) == 2
