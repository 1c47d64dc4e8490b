"""An adversarial review of organisations (issue 17) over HTTP on a real hub: malformed admin
input, cross-site check-in posts and floods of refused check-ins and recovery codes."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tocsin.org import auth
from tocsin.org.csvio import read_people
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.regions import region_set_for

from .conftest import Admin, OrgHub

KYIV = "UA80000000000093317"
PEOPLE = (f"id,name,language,sms,home\n1,Олена,uk,+380500000001,{KYIV}\n"
          f"2,John,en,+380500000002,{KYIV}\n").encode()


def _owner_with_checkin(org_hub: OrgHub) -> tuple[Admin, str, str]:
    """(the signed-in owner, a check-in message id, Олена's token for it)."""
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    assert owner.request("POST", f"/api/v1/orgs/{owner.org}/people.csv", content=PEOPLE).status_code == 200
    sent = owner.request("POST", f"/api/v1/orgs/{owner.org}/messages",
                         json={"template": "shelter", "audience": {"everyone": True}, "checkin": True})
    assert sent.status_code == 201, sent.text
    org_hub.sms.wait(2)
    token = org_hub.sms.link_for("+380500000001").rsplit("/", 1)[1]
    return owner, sent.json()["id"], token


def test_malformed_admin_and_checkin_input_is_refused_cleanly(org_hub: OrgHub) -> None:
    owner, message, token = _owner_with_checkin(org_hub)
    base = f"/api/v1/orgs/{owner.org}"
    for template in ([], {}, ["shelter"]):  # unhashable: was a 500
        r = owner.request("POST", f"{base}/messages",
                          json={"template": template, "audience": {"everyone": True}})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_org_request"), template
    for email in (["a@b.org"], {"x": "a@b.org"}, 5):  # was an admin named "['a@b.org']"
        r = owner.request("POST", f"{base}/admins", json={"email": email, "role": "admin"})
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_org_request"), email
    for body in ({"answer": "safe", "note": {"a": 1}}, {"answer": "safe", "note": ["x"]},
                 {"answer": ["safe"]}):  # a dict note was recorded as its repr
        r = httpx.post(f"{owner.url}/api/v1/org/checkin/{message}/{token}", json=body)
        assert (r.status_code, r.json()["error"]["code"]) == (400, "bad_checkin_answer"), body
    board = owner.request("GET", f"{base}/messages/{message}").json()
    assert board["counts"]["not_answered"] == 2
    assert len([a for a in owner.request("GET", f"{base}/audit").json()["entries"]
                if a["action"] == "admin.invite"]) == 1
    # a note's control characters (NUL, escapes, a right-to-left override that makes the
    # dashboard read otherwise) are dropped; the answer is never refused for them
    r = httpx.post(f"{owner.url}/api/v1/org/checkin/{message}/{token}",
                   json={"answer": "need_help", "note": "під\x00вал\u202e \x1b[2Jблок 3"})
    assert r.status_code == 200
    board = owner.request("GET", f"{base}/messages/{message}").json()
    assert board["people"][0]["note"] == "підвал [2Jблок 3"


def test_cross_site_checkin_post_is_refused_and_changes_nothing(org_hub: OrgHub) -> None:
    owner, message, token = _owner_with_checkin(org_hub)
    evil = {"Origin": "https://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    form = httpx.post(f"{owner.url}/org/c/{message}/{token}", content=b"answer=away&note=x", headers=evil)
    assert form.status_code == 403
    api = httpx.post(f"{owner.url}/api/v1/org/checkin/{message}/{token}", json={"answer": "away"},
                     headers={"Origin": "https://evil.example"})
    assert (api.status_code, api.json()["error"]["code"]) == (403, "csrf_failed")
    fetched = httpx.post(f"{owner.url}/org/c/{message}/{token}", content=b"answer=away",
                         headers={"Sec-Fetch-Site": "cross-site", "Origin": "null",
                                  "Content-Type": "application/x-www-form-urlencoded"})
    assert fetched.status_code == 403
    board = owner.request("GET", f"/api/v1/orgs/{owner.org}/messages/{message}").json()
    assert board["counts"]["not_answered"] == 2
    # the person's own page (same origin) still answers
    ok = httpx.post(f"{owner.url}/org/c/{message}/{token}", content=b"answer=safe",
                    headers={"Origin": org_hub.origin, "Content-Type": "application/x-www-form-urlencoded"})
    assert ok.status_code == 200 and 'id="answered"' in ok.text


def test_floods_of_refused_checkins_and_recovery_codes_are_rate_limited(org_hub: OrgHub) -> None:
    org_hub.hub.env["TOCSIN_FAILED_WRITE_BURST"] = "5"
    org_hub.hub.env["TOCSIN_FAILED_WRITE_RATE_PER_SEC"] = "0.01"
    owner, message, _ = _owner_with_checkin(org_hub)
    forged = [httpx.post(f"{owner.url}/api/v1/org/checkin/{message}/{'A' * 40}{n:03d}",
                         json={"answer": "safe"}).status_code for n in range(8)]
    assert forged[:5] == [404] * 5 and forged[5:] == [429] * 3, forged
    wrong = {"org": owner.org, "email": "consul@example.org", "code": "aaaa-bbbb-cccc-dddd"}
    limited = httpx.post(f"{owner.url}/api/v1/org/recover", json=wrong)
    assert (limited.status_code, limited.json()["error"]["code"]) == (429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    page = httpx.get(f"{owner.url}/org/c/{message}/{'B' * 43}")
    assert page.status_code == 429
    anonymous = httpx.get(f"{owner.url}/api/v1/orgs/{owner.org}/people")
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (429, "rate_limited")
    # the signed-in owner at the same address is still served, and its refusal list was not
    # flooded: only what came before the limit is there
    audit = owner.request("GET", f"/api/v1/orgs/{owner.org}/audit")
    assert audit.status_code == 200
    assert len(audit.json()["refusals"]) <= 5


def test_sign_in_starts_are_rate_limited_per_client(org_hub: OrgHub) -> None:
    """Each login/enrol start holds a challenge in memory; one client may not hold them all."""
    org_hub.hub.env["TOCSIN_CHECK_BURST"] = "3"
    org_hub.hub.env["TOCSIN_CHECK_RATE_PER_SEC"] = "0.01"
    org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    url = org_hub.hub.url
    codes = [httpx.post(f"{url}/api/v1/org/login/options").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429], codes
    enrol = httpx.post(f"{url}/api/v1/org/enrol/options", json={"token": "x" * 43})
    assert (enrol.status_code, enrol.json()["error"]["code"]) == (429, "rate_limited")


def test_a_full_table_of_sign_ins_drops_the_oldest_not_every_new_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Strangers who fill the ceremonies from many addresses must not lock every admin out."""
    monkeypatch.setattr(auth, "MAX_CEREMONIES", 3)
    passkeys = auth.Passkeys(OrgStore(tmp_path / FILE_NAME), "https://hub.example")
    first = passkeys.login_options()[0]
    for _ in range(3):
        passkeys.login_options()  # was: AuthRefused("unavailable") once full
    with pytest.raises(auth.AuthRefused, match="expired or was used"):
        passkeys.finish_login(first, {"rawId": "AAAA"})  # the oldest was dropped


def test_a_huge_field_rejects_its_row_only_and_control_characters_are_refused() -> None:
    regions = region_set_for(None)
    data = ("id,name,contact\n"
            f"1,{'x' * 200_000},\n"  # past the csv module's own field limit: the rest was lost
            "2,Олена,\n"
            "3,A\x00B,\n"            # a NUL byte
            "4,\u202egnp.exe,\n"     # a right-to-left override: a name that reads otherwise
            "5,Taras,+380\x1b[2J\n"  # a terminal escape in the second contact
            "6,John,\n").encode()
    report = read_people(data, regions)
    assert [p.name for p in report.people] == ["Олена", "John"]
    reasons = dict(report.rejected)
    assert sorted(reasons) == [2, 4, 5, 6], report.rejected
    assert "longer than" in reasons[2]
    assert all("control character" in reasons[n] for n in (4, 5, 6)), reasons


def test_recovery_and_invitations_take_an_email_in_any_case(org_hub: OrgHub) -> None:
    """Email addresses are compared without case: a careless admin typing "Consul@..." for
    "consul@..." is not locked out, and cannot invite the same person twice."""
    link = org_hub.create_org("Embassy", "Consul@Example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    codes = owner.enrol(link)
    r = httpx.post(f"{owner.url}/api/v1/org/recover",
                   json={"org": owner.org, "email": " consul@example.ORG ", "code": codes[0]})
    assert r.status_code == 200, r.text
    owner._take_cookie(r)  # the recovery ended the enrolment's session
    owner.refresh()
    admins = f"/api/v1/orgs/{owner.org}/admins"
    first = owner.request("POST", admins, json={"email": "v@a.org", "role": "viewer"})
    assert first.status_code == 201
    again = owner.request("POST", admins, json={"email": "V@A.org", "role": "owner"})
    assert (again.status_code, again.json()["error"]["code"]) == (409, "admin_exists")


def test_an_owner_lists_and_removes_admins_and_their_sessions_end(org_hub: OrgHub) -> None:
    """A departed or mistakenly invited admin is removed: their sessions, passkeys, recovery
    codes and unused enrolment link stop working; the last owner cannot be removed."""
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    admins = f"/api/v1/orgs/{owner.org}/admins"
    invited = owner.request("POST", admins, json={"email": "gone@example.org", "role": "admin"}).json()
    gone = Admin(org_hub)
    gone_codes = gone.enrol(invited["link"])
    pending = owner.request("POST", admins, json={"email": "typo@exmaple.org", "role": "owner"}).json()
    listed = owner.request("GET", admins).json()["admins"]
    assert sorted((a["email"], a["role"], a["enrolled"]) for a in listed) == [
        ("consul@example.org", "owner", True), ("gone@example.org", "admin", True),
        ("typo@exmaple.org", "owner", False)]
    assert gone.request("GET", admins).status_code == 403  # only the owner lists them
    for removed in (invited["admin"], pending["admin"]):
        assert owner.request("DELETE", f"{admins}/{removed}").status_code == 204
    assert gone.request("GET", f"/api/v1/orgs/{owner.org}/people").status_code == 401
    assert gone.login().status_code == 401
    recover = httpx.post(f"{owner.url}/api/v1/org/recover",
                         json={"org": owner.org, "email": "gone@example.org", "code": gone_codes[0]})
    assert recover.status_code == 401
    spent = pending["link"].rsplit("/", 1)[1]
    enrol = httpx.post(f"{owner.url}/api/v1/org/enrol/options", json={"token": spent})
    assert enrol.status_code == 404
    me = owner.request("GET", "/api/v1/org/session").json()["admin"]["id"]
    last = owner.request("DELETE", f"{admins}/{me}")
    assert (last.status_code, last.json()["error"]["code"]) == (409, "last_owner")
    missing = owner.request("DELETE", f"{admins}/ffffffffffffffff")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "admin_not_found")
    actions = [e["action"] for e in owner.request("GET", f"/api/v1/orgs/{owner.org}/audit").json()["entries"]]
    assert actions.count("admin.remove") == 2


def test_settings_change_only_what_is_sent(org_hub: OrgHub) -> None:
    """A careless ``PUT {"retention_days": 30}`` must not silently turn off the public-alert rule
    and escalation: a field left out keeps its value; ``null`` clears a nullable one."""
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    owner = Admin(org_hub)
    owner.enrol(link)
    path = f"/api/v1/orgs/{owner.org}/settings"
    everything = {"rule_enabled": True, "rule_text": "Укриття", "reminder_minutes": 10,
                  "escalate_minutes": 30}
    assert owner.request("PUT", path, json=everything).status_code == 200
    assert owner.request("PUT", path, json={"retention_days": 30}).status_code == 200
    org = owner.request("GET", "/api/v1/org/session").json()["org"]
    assert (org["rule_enabled"], org["rule_text"], org["reminder_minutes"], org["escalate_minutes"],
            org["retention_days"]) == (True, "Укриття", 10, 30, 30)
    cleared = owner.request("PUT", path, json={"escalate_minutes": None, "rule_enabled": False})
    assert cleared.status_code == 200
    org = owner.request("GET", "/api/v1/org/session").json()["org"]
    assert (org["rule_enabled"], org["reminder_minutes"], org["escalate_minutes"], org["retention_days"]) \
        == (False, 10, None, 30)
    bad = owner.request("PUT", path, json={"rule_enabled": "yes"})
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "bad_org_request")


def test_a_removed_admins_live_dashboard_stops(org_hub: OrgHub) -> None:
    """The live stream checked the session once, at the start: a removed (or signed-out) admin
    kept receiving names, answers and notes for as long as the connection stayed open."""
    owner, message, token = _owner_with_checkin(org_hub)
    admins = f"/api/v1/orgs/{owner.org}/admins"
    invited = owner.request("POST", admins, json={"email": "viewer@example.org", "role": "viewer"}).json()
    viewer = Admin(org_hub)
    viewer.enrol(invited["link"])
    live = f"{owner.url}/api/v1/orgs/{owner.org}/messages/{message}/live"
    with httpx.stream("GET", live, headers={"Cookie": viewer.cookie}, timeout=30) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "event: snapshot"
        assert owner.request("DELETE", f"{admins}/{invited['admin']}").status_code == 204
        answered = httpx.post(f"{owner.url}/api/v1/org/checkin/{message}/{token}",
                              json={"answer": "need_help", "note": "трапилося"})
        assert answered.status_code == 200
        rest = []
        for line in lines:  # until the stream ends, or it gives the answer away
            rest.append(line)
            if "трапилося" in line:
                break
    assert not any("трапилося" in line for line in rest)  # updates before the removal may come


def test_recovery_ends_the_admins_other_sessions(org_hub: OrgHub) -> None:
    """An admin who recovers (a lost or stolen device) must be able to cut off the sessions on
    it at once: the last owner cannot be removed by anyone, so nothing else would."""
    link = org_hub.create_org("Embassy", "consul@example.org")
    org_hub.hub.start()
    stolen = Admin(org_hub)
    codes = stolen.enrol(link)
    people = f"/api/v1/orgs/{stolen.org}/people"
    assert stolen.request("GET", people).status_code == 200
    r = httpx.post(f"{stolen.url}/api/v1/org/recover",
                   json={"org": stolen.org, "email": "consul@example.org", "code": codes[0]})
    assert r.status_code == 200
    fresh = Admin(org_hub)
    fresh._take_cookie(r)
    fresh.refresh()
    assert stolen.request("GET", people).status_code == 401
    assert fresh.request("GET", people).status_code == 200
    entry = [e for e in fresh.request("GET", f"/api/v1/orgs/{stolen.org}/audit").json()["entries"]
             if e["action"] == "admin.recover"][-1]
    assert entry["detail"]["sessions_ended"] == 1


def test_a_semicolon_csv_from_a_ukrainian_excel_imports() -> None:
    """Excel in a Ukrainian (or most European) locale saves "CSV" with semicolons: the file was
    refused whole ("no name column") with no hint why."""
    data = ("\ufeffid;name;language;groups;sms\r\n"
            "1;Олена Коваль;uk;\"staff;drivers\";+380501234567\r\n"
            "2;John, Jr.;en;staff;\r\n").encode()
    report = read_people(data, region_set_for(None))
    assert report.rejected == []
    assert [(p.name, p.groups) for p in report.people] == [("Олена Коваль", ("staff", "drivers")),
                                                           ("John, Jr.", ("staff",))]
