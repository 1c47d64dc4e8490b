"""Review of the organisations' rule over followed hubs: what a followed feed can make it do
with alerts that are genuinely signed and logged by the followed hub, but old, or served out
of the order the hub logged them.

* An air-raid alert hub A logged, but sent hours ago (first seen by a new follower, or
  withheld by the feed and served later), is shown as verified — it is A's — but it must not
  ask anyone to check in: it is not news, and the follower cannot know whether A has ended it
  since. The hub's own rule only acts on new events too.
* An all-clear A logged *before* a threat cannot end that threat (on A it ended nothing of
  it). A feed that withholds an old all-clear and serves it after a newer threat must not
  close the newer threat's check-in (a false "check-in closed" to the people under it).

Real servers: hub A (``tocsin serve``, accepting alerts sent long ago so that old ones can be
logged), a front of A whose feed lists only chosen alerts (every byte comes from A), and hub
B (``tocsin serve`` with an organisation and an SMS gateway) following the front.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from tests.follow.servers import listing_hub_app

from tocsin.cap.model import Alert, Reference
from tocsin.cli import main
from tocsin.compose import AlertFacts, compose_alert
from tocsin.testing import HubProcess, free_port, serve_asgi

from .conftest import Admin, OrgHub, SmsReceiver
from .test_rules_federated import KYIV, until


@dataclass
class Front:
    a: HubProcess
    b: OrgHub
    shown: list[str]  # the alert ids the front's feed lists, newest first
    issued: dict[str, Alert] = field(default_factory=dict)  # by identifier

    def relayed(self, alert_id: str) -> dict[str, Any] | None:
        response = httpx.get(f"{self.b.hub.url}/api/v1/relayed/{alert_id}", timeout=10)
        return response.json() if response.status_code == 200 else None

    def issue(self, kind: str, *, sent_ago: timedelta = timedelta(0),
              expires_in: timedelta | None = timedelta(hours=1), issuer: str = "demo-air-force",
              **facts: Any) -> str:
        sent = datetime.now(UTC).replace(microsecond=0) - sent_ago
        alert = compose_alert(AlertFacts(issuer_id=issuer, areas=(KYIV,), kind=kind, sent=sent,
                                         expires_in=expires_in, **facts))
        self.issued[alert.identifier] = alert
        with self.a.client() as client:
            return str(client.issue(alert, self.a.signer(issuer))["id"])

    def serve(self, alert_id: str) -> dict[str, Any]:
        """List ``alert_id`` in the front's feed; return B's view once B relayed it (verified)."""
        self.shown.insert(0, alert_id)
        view = until(lambda: self.relayed(alert_id), f"B to relay {alert_id}")
        assert view["trust"] == "verified", view
        return view


@pytest.fixture
def front(tmp_path: Path) -> Iterator[Front]:
    sms = SmsReceiver()
    shown: list[str] = []
    a = HubProcess(tmp_path / "a", env={"TOCSIN_MAX_SENT_AGE_SECS": "100000"})
    a.start()
    try:
        with serve_asgi(sms.app()) as sms_url, serve_asgi(listing_hub_app(a.url, shown)) as front_url:
            port = free_port()
            origin = f"http://localhost:{port}"
            b = HubProcess(tmp_path / "b", port=port,
                           env={"TOCSIN_PUBLIC_URL": origin, "TOCSIN_FOLLOW_ALLOWED_HOSTS": "127.0.0.1",
                                "TOCSIN_PUSH_ALLOWED_HOSTS": "127.0.0.1",
                                "TOCSIN_ORG_SMS_GATEWAY_URL": sms_url + "/sms"})
            b.data_dir.mkdir(parents=True)
            result = CliRunner().invoke(main, [
                "follow", f"{front_url}/feeds/alerts.atom", "--name", "hub-a",
                "--registry-root", str(a.data_dir / "registry-root.pub"),
                "--log-key", str(a.data_dir / "log.pub"),
                "--policy", str(a.data_dir / "witness-policy.txt"),
                "--interval", "1", "--data-dir", str(b.data_dir)])
            assert result.exit_code == 0, result.output
            yield Front(a, OrgHub(b, sms, origin), shown)
            b.stop()
    finally:
        a.stop()


def enrol_kyiv_person(front: Front) -> tuple[Admin, Callable[[], list[dict[str, Any]]]]:
    """An organisation on B with one person in Kyiv and its rule on; B started."""
    org_hub = front.b
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    people = f"id,name,language,sms,home,work\n1,Олена,uk,+380500000001,{KYIV},\n".encode()
    imported = owner.request("POST", f"/api/v1/orgs/{owner.org}/people.csv", content=people)
    assert imported.json()["accepted"] == 1
    assert owner.request("PUT", f"/api/v1/orgs/{owner.org}/settings",
                         json={"rule_enabled": True}).status_code == 200

    def checkins() -> list[dict[str, Any]]:
        messages = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages").json()["messages"]
        return [m for m in messages if m["checkin"]]

    return owner, checkins


def test_old_or_withheld_alerts_of_a_followed_hub_neither_raise_nor_close_check_ins(front: Front) -> None:
    # Logged by A before B follows: an air raid sent 2 h ago (still unexpired), and an
    # all-clear that ended it on A. The front withholds both for now.
    old_threat = front.issue("air-raid", sent_ago=timedelta(hours=2), expires_in=timedelta(hours=5))
    early_all_clear = front.issue("all-clear", expires_in=None)

    org_hub = front.b
    _, checkins = enrol_kyiv_person(front)

    # The old threat: A's, verified, shown as such, but no check-in is asked for it.
    front.serve(old_threat)
    fresh_threat = front.issue("air-raid")
    front.serve(fresh_threat)  # B handles the feed's alerts in order: the old one was handled first
    org_hub.sms.wait(1)
    assert [m["alert"] for m in checkins()] == [fresh_threat]
    assert [m["to"] for m in org_hub.sms.received] == ["+380500000001"]

    # The withheld all-clear, logged by A before the fresh threat: it ended nothing of it.
    front.serve(early_all_clear)
    marker = front.issue("air-raid")  # B handles it after the all-clear: a point to look (and
    # it asks nobody again: the person's check-in is open, unless the all-clear closed it)
    front.serve(marker)
    [checkin] = checkins()
    assert checkin["closed"] is None, "an all-clear logged before the threat closed its check-in"
    assert len(org_hub.sms.received) == 1

    # A's all-clear after the threat closes it, as before.
    front.serve(front.issue("all-clear", expires_in=None))
    org_hub.sms.wait(2)
    [checkin] = checkins()
    assert checkin["closed"] is not None


def test_a_followed_hubs_threat_that_expired_does_not_keep_its_people_from_the_next_check_in(
        front: Front) -> None:
    """Hub A's threat expires without an all-clear (its issuer let it run out): its check-in
    must not stay open for ever, holding its people back from the next threat's check-in."""
    org_hub = front.b
    _, checkins = enrol_kyiv_person(front)
    # Sent 5 minutes ago (new enough to ask), expiring 15 s from now.
    first = front.issue("air-raid", sent_ago=timedelta(minutes=5),
                        expires_in=timedelta(minutes=5, seconds=15))
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=15)
    front.serve(first)
    org_hub.sms.wait(1)
    assert [m["alert"] for m in checkins()] == [first]
    until(lambda: datetime.now(UTC) > expires or None, "the first threat to expire", timeout=30)

    second = front.issue("air-raid")
    front.serve(second)
    org_hub.sms.wait(3)  # the first check-in closed (it expired), the second asked
    by_alert = {m["alert"]: m for m in checkins()}
    assert set(by_alert) == {first, second}
    assert by_alert[first]["closed"] is not None and by_alert[second]["closed"] is None


def test_a_followed_hubs_update_that_turns_a_threat_into_a_notice_closes_its_check_in(
        front: Front) -> None:
    """On hub A an Update replaces the alert it references: a threat updated into a notice is
    no longer a threat there. This hub's own rule closes such a check-in (the record is
    ended); a followed hub's Update left it open until an all-clear or its expiry."""
    org_hub = front.b
    _, checkins = enrol_kyiv_person(front)
    threat = front.issue("air-raid", issuer="demo-kyiv-city")
    front.serve(threat)
    org_hub.sms.wait(1)
    [checkin] = checkins()
    original = next(iter(front.issued.values()))
    update = front.issue("threat-notice", issuer="demo-kyiv-city", msg_type="Update",
                         references=(Reference(sender=original.sender, identifier=original.identifier,
                                               sent=original.sent),))
    front.serve(update)
    org_hub.sms.wait(2)
    [checkin] = checkins()
    assert checkin["alert"] == threat and checkin["closed"] is not None
