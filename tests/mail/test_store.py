"""The email store's contract: hashed one-time expiring tokens, one pending request per address
per hour, nothing left after deletion; and the message builder's refusal of header injection."""

from __future__ import annotations

from email.headerregistry import Address
from pathlib import Path

import pytest

from tocsin.mail.addresses import AddressRefused, parse_address, parse_name
from tocsin.mail.smtp import HeaderRefused, build_message
from tocsin.mail.store import ConfirmationPending, Request, SqliteEmailStore

HOUR, DAY = 3600.0, 86400.0
T0 = 1_800_000_000.0


def ask(store: SqliteEmailStore, address: str = "a@example.org", now: float = T0,
        regions: tuple[str, ...] = ("UA80000000000093317",), language: str = "uk") -> Request:
    return store.request(address=address, name="", regions=regions, language=language, now=now,
                         resend_secs=HOUR, ttl_secs=DAY)


def file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_tokens_are_hashed_single_use_and_expire(tmp_path: Path) -> None:
    store = SqliteEmailStore(tmp_path / "email.sqlite3")
    held = ask(store)
    assert held.token.encode() not in file_bytes(store.path)
    assert store.confirmed() == []  # nothing is served before confirmation
    assert store.confirm(held.id, held.token[:-1] + "x", now=T0 + 1, start_after=7) is None
    assert store.confirm(held.id, held.token, now=T0 + DAY, start_after=7) is None  # expired
    sub, created = store.confirm(held.id, held.token, now=T0 + DAY - 1, start_after=7) or (None, None)
    assert created is True and sub is not None and sub.last_event == 7
    assert store.confirm(held.id, held.token, now=T0 + DAY - 1, start_after=9) is None  # used
    assert [s.address for s in store.confirmed()] == ["a@example.org"]


def test_one_pending_confirmation_per_address_per_hour(tmp_path: Path) -> None:
    store = SqliteEmailStore(tmp_path / "email.sqlite3")
    first = ask(store)
    with pytest.raises(ConfirmationPending) as refused:
        ask(store, now=T0 + HOUR - 10)
    assert 9 <= refused.value.retry_after <= 10
    with pytest.raises(ConfirmationPending):  # the same mailbox in other letter case
        ask(store, "A@Example.org", now=T0 + 5)
    ask(store, "b@example.org", now=T0 + 1)  # another address is not held up
    second = ask(store, now=T0 + HOUR)
    assert second.id == first.id
    assert store.confirm(first.id, first.token, now=T0 + HOUR + 1, start_after=0) is None  # replaced
    store.withdraw(second.id, second.token)  # its email could not be sent: held no longer
    assert not store.has_address("a@example.org")
    ask(store, now=T0 + HOUR + 2)  # so asking again is not refused


def test_a_change_to_a_confirmed_address_needs_its_own_confirmation(tmp_path: Path) -> None:
    store = SqliteEmailStore(tmp_path / "email.sqlite3")
    held = ask(store)
    store.confirm(held.id, held.token, now=T0, start_after=3)
    change = ask(store, now=T0 + 1, regions=("UA46060250000025047",), language="en")
    [still] = store.confirmed()
    assert still.regions == ("UA80000000000093317",) and still.language == "uk"
    sub, created = store.confirm(change.id, change.token, now=T0 + 2, start_after=99) or (None, None)
    assert created is False and sub is not None
    assert sub.regions == ("UA46060250000025047",) and sub.language == "en" and sub.last_event == 3


def test_unconfirmed_requests_and_deleted_rows_leave_nothing(tmp_path: Path) -> None:
    store = SqliteEmailStore(tmp_path / "email.sqlite3")
    ask(store, "gone@example.org")
    kept = ask(store, "kept@example.org")
    store.confirm(kept.id, kept.token, now=T0, start_after=0)
    store.prune(T0 + DAY)
    assert not store.has_address("gone@example.org") and store.count() == 1
    assert store.delete(kept.id)
    assert store.count() == 0
    data = file_bytes(store.path)
    assert b"gone@example.org" not in data and b"kept@example.org" not in data


def test_addresses_and_headers_refuse_line_breaks() -> None:
    assert parse_address("Person@Example.ORG") == "Person@example.org"
    assert parse_address("x@пример.укр") == "x@xn--e1afmkfd.xn--j1amh"
    for bad in ("a@example.org\r\nBcc: b@example.org", "a@example.org\n", "a\u2028@example.org",
                "not an address", "ім'я@example.org"):
        with pytest.raises(AddressRefused):
            parse_address(bad)
    with pytest.raises(AddressRefused, match="line break"):
        parse_name("Eve\rBcc: b@example.org")
    sender, to = Address("Hub", addr_spec="hub@example.org"), Address("", addr_spec="a@example.org")
    with pytest.raises(HeaderRefused):
        build_message(sender=sender, to=to, subject="Hi\r\nBcc: b@example.org", text="x")
    with pytest.raises(HeaderRefused):
        build_message(sender=sender, to=to, subject="Hi", text="x",
                      headers={"List-Unsubscribe": "<https://x.example/>\nBcc: b@example.org"})
    with pytest.raises(HeaderRefused):  # (the stdlib's Address itself refuses CR and LF)
        build_message(sender=sender, to=Address("Eve\u2028Bcc: b", addr_spec="a@example.org"),
                      subject="Hi", text="x")
