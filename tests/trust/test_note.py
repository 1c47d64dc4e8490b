"""Signed notes against vectors nobody here wrote: Go's sumdb/note tests and the C2SP spec."""

from __future__ import annotations

from typing import Any

import pytest

from tocsin.trust.note import (
    AmbiguousKeyError,
    InvalidSignatureError,
    KeyFormatError,
    MalformedNoteError,
    NoteError,
    Signature,
    Signer,
    UnknownKeyError,
    UnverifiedNoteError,
    Verifier,
    Verifiers,
    open_note,
    sign_note,
)

from .conftest import load_vector


@pytest.fixture(scope="module")
def go() -> Any:
    return load_vector("signed-note/go-note-vectors.json")


def _verifiers(go: Any, names: list[str]) -> Verifiers:
    return Verifiers(Verifier.from_vkey(go["keys"][n]["verifier_key"]) for n in names)


def test_keys_round_trip_and_ids(go: Any) -> None:
    for key in go["keys"].values():
        signer = Signer.from_skey(key["signer_key"])
        verifier = Verifier.from_vkey(key["verifier_key"])
        assert signer.skey == key["signer_key"]
        assert verifier.vkey == key["verifier_key"]
        assert signer.verifier() == verifier
        assert verifier.key_id == key["key_hash_uint32"]
        assert key["signer_key"] not in repr(signer)


def test_sign_matches_go(go: Any) -> None:
    case = go["sign"]
    signer = Signer.from_skey(go["keys"][case["signer"]]["signer_key"])
    assert sign_note(case["text"], [signer]).decode() == case["want_signed_note"]


def test_add_signature_matches_go(go: Any) -> None:
    case = go["sign_add_signature"]
    peter = _verifiers(go, ["PeterNeumann"])
    note = open_note(case["input_note"].encode(), peter)
    enoch = Signer.from_skey(go["keys"][case["add_signer"]]["signer_key"])
    signed = sign_note(note.text, [enoch], existing=note.verified_sigs)
    assert signed.decode() == case["want_signed_note"]
    # Re-signing with a key that already signed replaces its line: same output.
    peter_signer = Signer.from_skey(go["keys"]["PeterNeumann"]["signer_key"])
    again = sign_note(note.text, [peter_signer], existing=note.verified_sigs)
    assert again.decode() == go["sign"]["want_signed_note"]


def test_sign_errors(go: Any) -> None:
    for case in go["sign_errors"]:
        existing = [
            Signature(s["name"], int(s["key_hash_hex"], 16), s["b64"])
            for s in case.get("existing_sigs", [])
        ]
        signers = (
            [Signer.from_skey(go["keys"][case["signer"]]["signer_key"])]
            if case["signer"]
            else []
        )
        with pytest.raises(MalformedNoteError):
            sign_note(case["text"], signers, existing=existing)


def test_invalid_verifier_keys(go: Any) -> None:
    for case in go["verifier_key_invalid"]:
        with pytest.raises(KeyFormatError):
            Verifier.from_vkey(case["vkey"])


@pytest.mark.parametrize("kind", ["verifier_key", "signer_key"])
def test_every_substring_and_increment_is_rejected(go: Any, kind: str) -> None:
    key = go["keys"]["PeterNeumann"][kind]
    parse = Verifier.from_vkey if kind == "verifier_key" else Signer.from_skey
    parse(key)  # type: ignore[operator]
    for start in range(len(key)):
        for end in range(start, len(key) + 1):
            if (start, end) == (0, len(key)):
                continue
            with pytest.raises(KeyFormatError):
                parse(key[start:end])  # type: ignore[operator]
    for i in range(len(key)):
        mangled = key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :]
        with pytest.raises(KeyFormatError):
            parse(mangled)  # type: ignore[operator]


def test_verifier_list_lookups(go: Any) -> None:
    for case in go["verifier_list"]:
        verifiers = _verifiers(go, case["keys"])
        key_id = int(case["lookup_hash_hex"], 16)
        if "want" in case:
            assert verifiers.lookup(case["lookup_name"], key_id).name == case["want"]
        elif case["want_err"].startswith("ambiguous"):
            with pytest.raises(AmbiguousKeyError):
                verifiers.lookup(case["lookup_name"], key_id)
        else:
            with pytest.raises(UnknownKeyError):
                verifiers.lookup(case["lookup_name"], key_id)


def _sig_triples(sigs: tuple[Signature, ...]) -> list[list[str]]:
    return [[s.name, f"{s.key_id:08x}", s.b64] for s in sigs]


def test_open_cases(go: Any) -> None:
    expected_errors = {
        "note has no verifiable signatures": UnverifiedNoteError,
        "malformed note": MalformedNoteError,
    }
    for case in go["open"]:
        data = bytes.fromhex(case["msg_hex"])
        verifiers = _verifiers(go, case["verifiers"])
        want = case["want_err"]
        if want is None:
            note = open_note(data, verifiers)
            assert note.text == case["want_text"], case["desc"]
            assert _sig_triples(note.verified_sigs) == case["want_verified"], case["desc"]
            assert _sig_triples(note.unverified_sigs) == case["want_unverified"], case["desc"]
            continue
        if want.startswith("ambiguous"):
            error: type[NoteError] = AmbiguousKeyError
        elif want.startswith("invalid signature"):
            error = InvalidSignatureError
        else:
            error = expected_errors[want]
        with pytest.raises(error) as info:
            open_note(data, verifiers)
        if isinstance(info.value, UnverifiedNoteError):
            assert _sig_triples(info.value.note.unverified_sigs) == case["want_unverified"]


def test_c2sp_spec_example_verifies() -> None:
    spec = load_vector("signed-note/c2sp-spec-examples.json")
    example = next(e for e in spec["examples"] if e["id"] == "signed-note-example")
    verifier = Verifier.from_vkey(example["verifier_key"])
    assert f"{verifier.key_id:08x}" == example["key_id_hex"]
    note = open_note(example["note"].encode(), Verifiers([verifier]))
    assert note.text == example["text"]
    tampered = example["note"].replace("example", "exampl3", 1).encode()
    with pytest.raises(InvalidSignatureError):
        open_note(tampered, Verifiers([verifier]))


def test_spec_intro_text_splits_at_last_blank_line() -> None:
    spec = load_vector("signed-note/c2sp-spec-examples.json")
    intro = next(e for e in spec["examples"] if e["id"] == "signed-note-intro")
    with pytest.raises(UnverifiedNoteError) as info:
        open_note(intro["note"].encode(), Verifiers())
    assert info.value.note.text == intro["text"]
    assert f"{info.value.note.unverified_sigs[0].key_id:08x}" == "367ba04b"


def test_real_sum_golang_checkpoint_and_extra_signatures_verify() -> None:
    formats = load_vector("signed-note/transparency-dev-formats-vectors.json")
    checkpoint = formats["checkpoint_sumdb"]
    log_key = Verifier.from_vkey(checkpoint["log_verifier_key"])  # base64 part holds '+'
    note = open_note(checkpoint["note"].encode(), Verifiers([log_key]))
    assert note.text == checkpoint["text"]
    extras = formats["checkpoint_sumdb_extra_signatures"]
    cosigned = checkpoint["note"] + "".join(e["signature_line"] for e in extras)
    all_keys = [log_key, *(Verifier.from_vkey(e["verifier_key"]) for e in extras)]
    assert len(open_note(cosigned.encode(), Verifiers(all_keys)).verified_sigs) == 4
    flipped = cosigned.replace("6476701", "6476702").encode()
    with pytest.raises(InvalidSignatureError):
        open_note(flipped, Verifiers(all_keys))


def test_limits_and_round_trip() -> None:
    signer = Signer.generate("example.org/limits")
    verifiers = Verifiers([signer.verifier()])
    signed = sign_note("hello\n", [signer])
    assert open_note(signed, verifiers).text == "hello\n"
    with pytest.raises(MalformedNoteError):
        open_note(signed, verifiers, max_bytes=len(signed) - 1)
    others = [Signer.generate(f"other{i}") for i in range(16)]
    many = sign_note("hello\n", [*others, signer])
    assert len(open_note(many, verifiers).unverified_sigs) == 16  # C2SP: accept >= 16
    with pytest.raises(MalformedNoteError):
        open_note(many, verifiers, max_signatures=16)
