"""Retention deletes answers and delivery records after N days; deleting a person deletes their data."""

from __future__ import annotations

from pathlib import Path

from tocsin.org.model import Answer, DeliveryStatus, Message, Person, Place
from tocsin.org.signing import new_signer
from tocsin.org.store import FILE_NAME, OrgStore
from tocsin.org.tokens import new_token, token_hash

DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _message(store: OrgStore, org_id: str, person_id: str, message_id: str, clock: Clock) -> str:
    token = new_token()
    store.add_message(Message(id=message_id, org_id=org_id, created=clock.now, author="admin", text="{}",
                              audience="{}", note=b"n", checkin=True, recipients=1),
                      [(person_id, token_hash(token))], "admin")
    target = store.checkin_target(token)
    assert target is not None
    assert store.record_answers([(target, Answer.NEED_HELP, "сховище на вул. Шевченка", clock.now)]) == [True]
    store.set_deliveries([(org_id, message_id, person_id, "sms", DeliveryStatus.DELIVERED, "")])
    return token


def test_retention_deletes_old_answers_and_deliveries_only(tmp_path: Path) -> None:
    clock = Clock()
    store = OrgStore(tmp_path / FILE_NAME, clock=clock)
    org, _, _ = store.create_org("A", new_signer, "a@a.org")
    keep, _, _ = store.create_org("No retention", new_signer, "b@b.org")
    for o in (org, keep):
        store.save_people(o.id, [Person(id="", org_id="", ref="1", name="N", language="uk",
                                        places=(Place("home", "UA80000000000093317"),))], "admin")
    store.set_settings(org.id, "owner", retention_days=7, rule_enabled=False, rule_text="")
    [p] = store.people(org.id)
    [q] = store.people(keep.id)
    old_token = _message(store, org.id, p.id, "old", clock)
    _message(store, keep.id, q.id, "kept", clock)
    clock.now += 6 * DAY
    _message(store, org.id, p.id, "recent", clock)
    clock.now += 2 * DAY  # "old" is 8 days old, "recent" 2
    assert store.purge(clock.now) == {org.id: 1}
    assert store.answers(org.id, "old") == {} and store.deliveries(org.id, "old") == {}
    assert store.checkin_target(old_token) is None
    assert store.answers(org.id, "recent") and store.deliveries(org.id, "recent")
    assert store.answers(keep.id, "kept")  # another organisation's setting is its own
    assert store.message(org.id, "old") is not None  # what was said stays; who answered what goes
    assert store.audit_entries(org.id)[-1].action == "retention.purge"
    assert store.purge(clock.now) == {}


def test_deleting_a_person_leaves_nothing_of_them_on_disk(tmp_path: Path) -> None:
    clock = Clock()
    store = OrgStore(tmp_path / FILE_NAME, clock=clock)
    org, _, _ = store.create_org("A", new_signer, "a@a.org")
    store.save_people(org.id, [Person(id="", org_id="", ref="", name="Zzyzx Quillfeather", language="uk",
                                      channels={"sms": "+380509998877"},
                                      places=(Place("home", "50.4512,30.5234"),))], "admin")
    [p] = store.people(org.id)
    _message(store, org.id, p.id, "m", clock)
    assert store.delete_person(org.id, p.id, "admin")
    assert store.person(org.id, p.id) is None and store.answers(org.id, "m") == {}
    assert store.deliveries(org.id, "m") == {} and store.recipients(org.id, "m") == []
    on_disk = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith(FILE_NAME))
    for secret in ("Zzyzx", "zzyzx", "+380509998877", "50.4512", "Шевченка"):
        assert secret.encode() not in on_disk, secret
