"""An organisation's rule: a public Air Force alert over a person's place -> their check-in; the
all-clear closes it."""

from __future__ import annotations

from typing import Any

import httpx

from tocsin.cap import to_xml
from tocsin.client import issue_request, sign_cap
from tocsin.compose import AlertFacts, compose_alert

from .conftest import Admin, OrgHub

KYIV = "UA80000000000093317"
LVIV = "UA46060250000025047"


def issue(org_hub: OrgHub, kind: str, areas: tuple[str, ...], issuer: str = "demo-air-force",
          **kw: Any) -> None:
    hub = org_hub.hub
    cap = to_xml(compose_alert(AlertFacts(issuer_id=issuer, kind=kind, areas=areas, **kw)))
    statement = sign_cap(cap, hub.signer(issuer))
    response = httpx.post(f"{hub.url}/api/v1/alerts", json=issue_request(cap, statement))
    assert response.status_code == 201, response.text


def test_an_air_force_alert_triggers_the_check_in_and_the_all_clear_closes_it(org_hub: OrgHub) -> None:
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    people = (f"id,name,language,sms,home,work\n"
              f"1,Олена,uk,+380500000001,{KYIV},\n"
              f'2,John,en,+380500000002,"50.45,30.52",\n'  # a point in Kyiv, at ~1 km precision
              f"3,Taras,uk,+380500000003,{LVIV},\n").encode()
    imported = owner.request("POST", f"/api/v1/orgs/{owner.org}/people.csv", content=people)
    assert imported.json()["accepted"] == 3
    saved = owner.request("PUT", f"/api/v1/orgs/{owner.org}/settings", json={"rule_enabled": True})
    assert saved.status_code == 200
    # a notice (not a threat) triggers nothing; the air-raid alert over Kyiv does
    issue(org_hub, "threat-notice", (KYIV,), issuer="demo-kyiv-city")
    issue(org_hub, "air-raid", (KYIV,))
    org_hub.sms.wait(2)
    assert sorted(m["to"] for m in org_hub.sms.received) == ["+380500000001", "+380500000002"]
    olena = next(m for m in org_hub.sms.received if m["to"] == "+380500000001")["text"]
    assert olena.startswith("Embassy: Повітряна тривога. Залишайтеся в укритті")
    [message] = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages").json()["messages"]
    assert message["checkin"] and message["alert"] and message["closed"] is None
    token_path = org_hub.sms.link_for("+380500000002").split(org_hub.origin, 1)[1]
    page = httpx.get(f"{org_hub.hub.url}{token_path}")
    assert page.status_code == 200 and "Air raid alert. Shelter in place" in page.text
    answered = httpx.post(f"{org_hub.hub.url}{token_path}", data={"answer": "safe", "note": ""})
    assert 'id="answered"' in answered.text
    # the same threat updated or repeated asks nobody twice while the check-in is open
    issue(org_hub, "missile", (KYIV,))
    # the all-clear closes it and tells them so
    issue(org_hub, "all-clear", (KYIV,), expires_in=None)
    org_hub.sms.wait(4)
    closing = org_hub.sms.received[2:]
    assert sorted(m["to"] for m in closing) == ["+380500000001", "+380500000002"]
    assert all("Check-in closed" in m["text"] or "Запит закрито" in m["text"] for m in closing)
    board = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages/{message['id']}").json()
    assert board["message"]["closed"] is not None
    assert board["counts"] == {"safe": 1, "need_help": 0, "away": 0, "not_answered": 1}
    olena_token = org_hub.sms.link_for("+380500000001").rsplit("/", 1)[1]
    late = httpx.post(f"{org_hub.hub.url}/api/v1/org/checkin/{message['id']}/{olena_token}",
                      json={"answer": "away"})
    assert late.json()["error"]["code"] == "checkin_closed"
    audit = owner.request("GET", f"/api/v1/orgs/{owner.org}/audit").json()
    actions = [e["action"] for e in audit["entries"]]
    assert actions.count("message.send") == 2 and "message.close" in actions
    assert len(org_hub.sms.received) == 4  # nobody in Lviv, nobody asked twice
