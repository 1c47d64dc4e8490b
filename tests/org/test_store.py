"""The org store: private to each organisation, audited atomically, append-only audit log."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tocsin.org.model import Answer, Message, Person, Place, Role
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, CheckinTarget, OrgStore, StoreConflict
from tocsin.org.tokens import new_token, token_hash


@pytest.fixture
def store(tmp_path: Path) -> OrgStore:
    return OrgStore(tmp_path / FILE_NAME)


def person(ref: str, name: str = "Олена") -> Person:
    return Person(id="", org_id="", ref=ref, name=name, language="uk", channels={"sms": "+380501234567"},
                  places=(Place("home", "UA80000000000093317"),), groups=("staff",))


def test_cli_prints_a_one_time_enrolment_link(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tocsin", "org", "create", "Посольство Тестляндії",
                          "--admin-email", "consul@example.org", "--data-dir", str(tmp_path),
                          "--public-url", "https://hub.example.org"],
                         capture_output=True, text=True, check=True).stdout
    link = out.strip().splitlines()[-1]
    assert link.startswith("https://hub.example.org/org/enrol/")
    token = link.rsplit("/", 1)[1]
    store = OrgStore(tmp_path / FILE_NAME)
    admin = store.admin_by_enrolment(token)
    assert admin is not None and admin.email == "consul@example.org" and admin.role is Role.OWNER
    # only the hash is kept: the token itself is nowhere in the file, readable by its owner only
    assert (tmp_path / FILE_NAME).stat().st_mode & 0o777 == 0o600
    assert token.encode() not in (tmp_path / FILE_NAME).read_bytes()
    [o] = store.orgs()
    assert o.name == "Посольство Тестляндії"
    assert [e.action for e in store.audit_entries(o.id)] == ["org.create", "admin.invite"]


def test_cli_refuses_a_bad_email(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "tocsin", "org", "create", "X", "--admin-email", "nope",
                           "--data-dir", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "not an email address" in done.stderr
    assert not (tmp_path / FILE_NAME).exists()


def test_people_are_private_to_their_organisation(store: OrgStore) -> None:
    a, _, _ = store.create_org("A", new_signer, "a@a.org")
    b, _, _ = store.create_org("B", new_signer, "b@b.org")
    assert store.save_people(a.id, [person("1"), person("2")], "admin-a") == (2, 0)
    assert store.save_people(a.id, [person("1", "Olena")], "admin-a") == (0, 1)
    [p1, _] = store.people(a.id)
    assert p1.name == "Olena"
    assert store.people(b.id) == []
    assert store.person(b.id, p1.id) is None  # another org's id is "not found"
    assert store.delete_person(b.id, p1.id, "admin-b") is False
    assert store.person(a.id, p1.id) is not None
    assert [e.action for e in store.audit_entries(b.id)] == ["org.create", "admin.invite"]


def test_audit_log_is_append_only_and_chained(store: OrgStore, tmp_path: Path) -> None:
    org, _, _ = store.create_org("A", new_signer, "a@a.org")
    store.save_people(org.id, [person("1")], "admin")
    assert store.audit_intact(org.id)
    conn = sqlite3.connect(tmp_path / FILE_NAME)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'someone else'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit")
    # one who drops the trigger to edit an entry breaks the chain
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("UPDATE audit SET detail = '{}' WHERE action = 'people.import'")
    conn.commit()
    assert not store.audit_intact(org.id)


def test_answers_are_recorded_once_and_deletion_deletes_everything(store: OrgStore) -> None:
    org, _, _ = store.create_org("A", new_signer, "a@a.org")
    store.save_people(org.id, [person("1")], "admin")
    [p] = store.people(org.id)
    token = new_token()
    store.add_message(Message(id="m1", org_id=org.id, created=0.0, author="admin", text="t", audience="{}",
                              note=b"n", checkin=True, recipients=1), [(p.id, token_hash(token))], "admin")
    target = store.checkin_target(token)
    assert target == CheckinTarget(org.id, "m1", p.id)
    assert store.record_answers([(target, Answer.SAFE, "", 1.0), (target, Answer.NEED_HELP, "", 2.0)]) \
        == [True, False]
    assert store.answers(org.id, "m1")[p.id][0] is Answer.SAFE
    assert store.delete_person(org.id, p.id, "admin")
    assert store.answers(org.id, "m1") == {} and store.checkin_target(token) is None
    assert store.person(org.id, p.id) is None
    assert store.audit_entries(org.id)[-1].action == "person.delete"


def test_a_taken_admin_email_is_refused(store: OrgStore) -> None:
    org, _, _ = store.create_org("A", new_signer, "a@a.org")
    with pytest.raises(StoreConflict):
        store.add_admin(org.id, "a@a.org", Role.ADMIN, "x")


def test_session_cookies_are_secure_on_https(store: OrgStore) -> None:
    from tocsin.org.auth import Passkeys

    https = Passkeys(store, "https://alerts.example.org").cookie_header("t")
    assert https == "tocsin_org=t; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure"
    assert "Secure" not in Passkeys(store, "http://localhost:8000").cookie_header("t")
    assert Passkeys(store, "https://alerts.example.org/base").rp_id == "alerts.example.org"
