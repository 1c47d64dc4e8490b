"""Issuer statements: exact text, strict parsing, signing by the named key only."""

from __future__ import annotations

import hashlib

import pytest

from tocsin.trust.note import Signer, Verifiers, open_note
from tocsin.trust.statement import Statement, StatementError, parse_statement

CAP = b"<alert>exact bytes</alert>\n"


def _statement(signer: Signer) -> Statement:
    return Statement.for_cap(CAP, issuer=signer.name, key_id=signer.key_id,
                             identifier="UA-1", sender="a@b.ua", sent="2026-11-25T14:00:00+02:00")


def test_text_round_trips_and_signs() -> None:
    signer = Signer.generate("ua.kova")
    statement = _statement(signer)
    text = statement.text()
    assert text.splitlines() == [
        "tocsin/alert-statement/v1",
        "issuer ua.kova",
        f"key {signer.key_id:08x}",
        "identifier UA-1",
        "sender a@b.ua",
        "sent 2026-11-25T14:00:00+02:00",
        f"sha256 {hashlib.sha256(CAP).hexdigest()}",
    ]
    assert parse_statement(text) == statement
    note = open_note(statement.sign(signer), Verifiers([signer.verifier()]))
    assert parse_statement(note.text) == statement


def test_sign_refuses_another_key() -> None:
    signer, other = Signer.generate("ua.kova"), Signer.generate("ua.kova")
    with pytest.raises(StatementError, match="signer is"):
        _statement(signer).sign(other)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.replace("tocsin/alert-statement/v1", "tocsin/alert-statement/v2"),
         "first line"),
        (lambda t: t + "extra value\n", "unknown field"),
        (lambda t: t + "sender again\n", "duplicate field"),
        (lambda t: t.replace("identifier UA-1\n", ""), "expected field 'identifier'"),
        (lambda t: "\n".join(t.split("\n")[:-2]) + "\n", "missing field"),
        (lambda t: t.replace("identifier UA-1", "identifier"), "not 'name value'"),
        (lambda t: t.replace("identifier UA-1", "identifier  UA-1"), "surrounding spaces"),
        (lambda t: t[:-1], "end in a newline"),
        (lambda t: t.replace("key ", "key 0x"), "8 lowercase hex"),
    ],
)
def test_parse_is_strict(mutate: object, message: str) -> None:
    text = _statement(Signer.generate("ua.kova")).text()
    with pytest.raises(StatementError, match=message):
        parse_statement(mutate(text))  # type: ignore[operator]


def test_sha256_must_be_lowercase_hex() -> None:
    text = _statement(Signer.generate("ua.kova")).text()
    digest = hashlib.sha256(CAP).hexdigest()
    with pytest.raises(StatementError, match="sha256"):
        parse_statement(text.replace(digest, digest.upper()))
