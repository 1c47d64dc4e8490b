"""Organisations over HTTP on a real hub: passkeys, sessions, CSRF, roles, and every abuse refused."""

from __future__ import annotations

import httpx

from tocsin.org.signing import check_message

from .conftest import Admin, OrgHub

KYIV = "UA80000000000093317"
LVIV_OBLAST = "UA46000000000026241"


PEOPLE = (f"id,name,language,sms,home,groups\n"
          f"1,Олена,uk,+380500000001,{KYIV},staff\n"
          f"2,John,en,+380500000002,{KYIV},staff\n"
          f"3,Taras,uk,+380500000003,{LVIV_OBLAST},drivers\n").encode()


def test_passkeys_recovery_codes_and_sessions(org_hub: OrgHub) -> None:
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    codes = owner.enrol(link)
    assert len(codes) == 10 and len(set(codes)) == 10
    # the link is spent
    again = httpx.post(f"{owner.url}/api/v1/org/enrol/options", json={"token": link.rsplit("/", 1)[1]})
    assert again.status_code == 404 and again.json()["error"]["code"] == "enrolment_invalid"
    # a new browser signs in with the passkey alone
    browser = Admin(org_hub)
    browser.passkey = owner.passkey
    assert browser.login().status_code == 200 and browser.org == owner.org
    # a stolen credential replayed with an old counter is refused (the counter must move forward)
    owner.passkey.counter = 0
    assert owner.login().json()["error"]["code"] == "passkey_failed"
    # a recovery code works once; then the admin adds a new passkey
    lost = Admin(org_hub)
    body = {"org": owner.org, "email": "consul@example.org", "code": codes[3].upper()}
    first = httpx.post(f"{lost.url}/api/v1/org/recover", json=body)
    assert first.status_code == 200
    lost._take_cookie(first)
    lost.refresh()
    refused = httpx.post(f"{lost.url}/api/v1/org/recover", json=body)
    assert refused.json()["error"]["code"] == "recovery_failed"
    options = lost.request("POST", "/api/v1/org/passkeys/options").json()
    added = lost.request("POST", "/api/v1/org/passkeys/finish",
                         json={"ceremony": options["ceremony"],
                               "credential": lost.passkey.create(options["options"])})
    assert added.status_code == 200, added.text
    assert lost.login().status_code == 200
    # sign out ends the session
    lost.request("POST", "/api/v1/org/logout")
    assert httpx.get(f"{lost.url}/api/v1/org/session", headers={"Cookie": lost.cookie}).status_code == 401
    actions = [e["action"] for e in owner.request("GET", f"/api/v1/orgs/{owner.org}/audit").json()["entries"]]
    assert actions[:3] == ["org.create", "admin.invite", "admin.enrol"]
    assert "admin.recover" in actions and "admin.passkey_add" in actions and "admin.login" in actions


def test_abuse_is_refused_logged_and_changes_nothing(org_hub: OrgHub) -> None:
    link_a = org_hub.create_org("Embassy A", "a@a.org")
    link_b = org_hub.create_org("School B", "b@b.org")
    org_hub.hub.start()
    a, b = Admin(org_hub), Admin(org_hub)
    a.enrol(link_a)
    b.enrol(link_b)
    imported = a.request("POST", f"/api/v1/orgs/{a.org}/people.csv", content=PEOPLE,
                         headers={"Content-Type": "text/csv"})
    assert imported.json() == {"accepted": 3, "created": 3, "updated": 0, "rejected": [],
                               "ignored_columns": []}
    people = a.request("GET", f"/api/v1/orgs/{a.org}/people").json()["people"]
    sent = a.request("POST", f"/api/v1/orgs/{a.org}/messages",
                     json={"template": "closed", "audience": {"regions": [KYIV]}, "checkin": True})
    assert sent.status_code == 201 and sent.json()["recipients"] == 2
    message = sent.json()["id"]
    messages = [message]

    def unchanged() -> None:
        assert len(a.request("GET", f"/api/v1/orgs/{a.org}/people").json()["people"]) == 3
        listed = a.request("GET", f"/api/v1/orgs/{a.org}/messages").json()["messages"]
        assert sorted(m["id"] for m in listed) == sorted(messages)

    # 1. another organisation's admin
    for method, path in (("GET", "/people"), ("DELETE", f"/people/{people[0]['id']}"), ("GET", "/audit"),
                         ("GET", "/people.csv"), ("GET", f"/messages/{message}")):
        r = b.request(method, f"/api/v1/orgs/{a.org}{path}")
        assert (r.status_code, r.json()["error"]["code"]) == (403, "org_forbidden"), path
    # 2. a logged-out browser
    r = httpx.post(f"{a.url}/api/v1/orgs/{a.org}/messages",
                   json={"template": "closed", "audience": {"everyone": True}})
    assert (r.status_code, r.json()["error"]["code"]) == (401, "org_login_required")
    # 3. a cross-site form post with the admin's cookie (no CSRF token, another Origin)
    r = a.request("POST", f"/api/v1/orgs/{a.org}/people.csv", csrf=False, content=b"name\nMallory\n",
                  headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://evil.example"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed")
    r = a.request("DELETE", f"/api/v1/orgs/{a.org}/people/{people[0]['id']}", headers={"Origin": "https://evil.example"})
    assert (r.status_code, r.json()["error"]["code"]) == (403, "csrf_failed")
    unchanged()
    # 4-6. check-in tokens: forged, replayed, for another request
    org_hub.sms.wait(2)
    link = org_hub.sms.link_for("+380500000001")
    path = link.split(org_hub.origin, 1)[1]
    _, _, _, msg_id, token = path.split("/")
    assert msg_id == message
    forged = httpx.post(f"{a.url}/api/v1/org/checkin/{message}/{token[:-4]}AAAA", json={"answer": "safe"})
    assert (forged.status_code, forged.json()["error"]["code"]) == (404, "checkin_token_invalid")
    ok = httpx.post(f"{a.url}/api/v1/org/checkin/{message}/{token}",
                    json={"answer": "need_help", "note": "ліфт"})
    assert ok.status_code == 200
    replay = httpx.post(f"{a.url}/api/v1/org/checkin/{message}/{token}", json={"answer": "safe"})
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "checkin_answered")
    second = a.request("POST", f"/api/v1/orgs/{a.org}/messages",
                       json={"texts": {"en": "Drill"}, "audience": {"groups": ["drivers"]}, "checkin": True})
    messages.append(second.json()["id"])
    other = httpx.post(f"{a.url}/api/v1/org/checkin/{second.json()['id']}/{token}", json={"answer": "safe"})
    assert (other.status_code, other.json()["error"]["code"]) == (404, "checkin_token_invalid")
    board = a.request("GET", f"/api/v1/orgs/{a.org}/messages/{message}").json()
    assert board["counts"] == {"safe": 0, "need_help": 1, "away": 0, "not_answered": 1}
    assert board["people"][0]["answer"] == "need_help"  # need help first
    # the signed note checks with the organisation's key (and is served to the person only)
    note = httpx.get(f"{a.url}/api/v1/org/c/{message}/{token}/note").content
    key = httpx.get(f"{a.url}/api/v1/orgs/{a.org}/key").json()["key"]
    assert "Embassy A" in check_message(note, key)
    # never public: the check and the public feeds know nothing of it
    assert "Embassy A" not in httpx.get(f"{a.url}/api/v1/alerts").text
    # a viewer sees but changes nothing
    invited = a.request("POST", f"/api/v1/orgs/{a.org}/admins", json={"email": "v@a.org", "role": "viewer"})
    viewer = Admin(org_hub)
    viewer.enrol(invited.json()["link"])
    assert viewer.request("GET", f"/api/v1/orgs/{a.org}/people").status_code == 200
    r = viewer.request("DELETE", f"/api/v1/orgs/{a.org}/people/{people[0]['id']}")
    assert (r.status_code, r.json()["error"]["code"]) == (403, "org_forbidden")
    assert viewer.request("GET", f"/api/v1/orgs/{a.org}/audit").status_code == 403
    unchanged()
    # every refusal is logged where the owner reads it
    audit = a.request("GET", f"/api/v1/orgs/{a.org}/audit").json()
    reasons = [r["reason"] for r in audit["refusals"]]
    assert sum("another organisation's admin" in r for r in reasons) == 5
    assert any("no session" in r for r in reasons)
    assert sum("CSRF check failed" in r for r in reasons) == 2
    assert any("used for" in r for r in reasons)  # the token for another request
    assert any("role viewer below admin" in r for r in reasons)
    assert audit["intact"] is True
    exported = a.request("GET", f"/api/v1/orgs/{a.org}/audit.csv")
    assert exported.status_code == 200 and b"message.send" in exported.content
