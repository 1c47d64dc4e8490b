"""Checkpoints and cosignatures against vectors nobody on the team wrote (C2SP, Go, transparency-dev)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.tlog.checkpoint import (
    Checkpoint,
    CheckpointError,
    CheckpointSignatureError,
    CosignatureError,
    CosignatureVerifier,
    Cosigner,
    append_signature_lines,
    cosignature_message,
    cosignature_timestamp,
    format_checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
    verify_cosignatures,
)
from tocsin.tlog.tree import EMPTY_ROOT, leaf_hash
from tocsin.trust.note import Signer, Verifier, Verifiers, sign_note

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def _load(relative: str) -> Any:
    return json.loads((VECTORS / relative).read_text(encoding="utf-8"))


def _example(example_id: str) -> dict[str, Any]:
    examples = _load("signed-note/c2sp-spec-examples.json")["examples"]
    found: dict[str, Any] = next(e for e in examples if e["id"] == example_id)
    return found


# ------------------------------------------------------------------ checkpoint text


def test_spec_checkpoint_parses_and_formats_back() -> None:
    ex = _example("tlog-checkpoint")
    cp = parse_checkpoint(ex["text"])
    assert (cp.origin, cp.size) == (ex["origin"], ex["tree_size"])
    assert base64.b64encode(cp.root_hash).decode() == ex["root_hash_b64"]
    assert cp.extensions == ()
    assert format_checkpoint(cp) == ex["text"]


def test_go_tree_note_format_and_bad_trees() -> None:
    tlog = _load("sumdb-tlog/go-tlog-vectors.json")
    fmt = tlog["format_tree"]
    cp = Checkpoint(fmt["origin"], fmt["size"], base64.b64decode(fmt["root_b64"]))
    assert cp.text == fmt["want_text"]
    assert base64.b64encode(leaf_hash(b"hello world")).decode() == tlog["record_hash"][0]["want_b64"]
    for bad in tlog["parse_tree_bad"]:
        text = bad["text"]
        if text.startswith("not-go.sum"):  # only wrong for Go's fixed origin; we check origin at open
            assert parse_checkpoint(text).origin == "not-go.sum database tree"
            continue
        with pytest.raises(CheckpointError):
            parse_checkpoint(text)


def test_go_trailing_lines_are_extensions_but_must_be_complete_lines() -> None:
    tlog = _load("sumdb-tlog/go-tlog-vectors.json")
    base = tlog["format_tree"]["want_text"]
    for case in tlog["parse_tree_ok_with_trailing"]:
        text = base + case["suffix"] * case["repeat"]
        if case["suffix"].endswith("\n"):
            cp = parse_checkpoint(text)
            assert cp.extensions == ("JOE",) * case["repeat"]
        else:  # Go ignores a dangling "JOE"; a C2SP note text must end in a newline
            with pytest.raises(CheckpointError, match="newline"):
                parse_checkpoint(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "origin\n",
        "origin\n5\n",
        "origin\n05\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n-1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n+1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n18446744073709551616\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n1\n" + base64.b64encode(EMPTY_ROOT).decode(),
        "origin\n1\n" + base64.b64encode(EMPTY_ROOT).decode().rstrip("=") + "\n",
        "origin\n1\n" + base64.b64encode(EMPTY_ROOT[:31]).decode() + "\n",
        "origin\n1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n\n",
        "origin\n1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\next\n\nmore\n",
        "\n1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
        "origin\n 1\n" + base64.b64encode(EMPTY_ROOT).decode() + "\n",
    ],
)
def test_malformed_checkpoint_text_is_refused(text: str) -> None:
    with pytest.raises(CheckpointError):
        parse_checkpoint(text)


def test_uint64_max_and_extensions_round_trip() -> None:
    cp = Checkpoint("example.com/log", (1 << 64) - 1, EMPTY_ROOT, ("ext one", "ext-two"))
    assert parse_checkpoint(cp.text) == cp
    with pytest.raises(CheckpointError):
        Checkpoint("example.com/log", 1 << 64, EMPTY_ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint("a\nb", 1, EMPTY_ROOT)
    with pytest.raises(CheckpointError):
        Checkpoint("example.com/log", 1, EMPTY_ROOT, ("",))


# ------------------------------------------------------------------ signed checkpoints


def test_real_sum_golang_checkpoint_opens_only_for_its_origin() -> None:
    vec = _load("signed-note/transparency-dev-formats-vectors.json")["checkpoint_sumdb"]
    verifier = Verifier.from_vkey(vec["log_verifier_key"])
    data = vec["note"].encode()
    for origin, valid in vec["want_valid_for_origin"].items():
        if valid:
            cp, note = open_checkpoint(data, verifier, origin)
            assert (cp.origin, cp.size) == (vec["origin"], vec["tree_size"])
            assert base64.b64encode(cp.root_hash).decode() == vec["root_hash_b64"]
            assert [s.name for s in note.verified_sigs] == ["sum.golang.org"]
        else:
            with pytest.raises(CheckpointSignatureError, match="origin"):
                open_checkpoint(data, verifier, origin)


def test_extra_signatures_are_ignored_unless_trusted() -> None:
    vecs = _load("signed-note/transparency-dev-formats-vectors.json")
    base = vecs["checkpoint_sumdb"]
    data = base["note"] + "".join(e["signature_line"] for e in vecs["checkpoint_sumdb_extra_signatures"])
    log = Verifier.from_vkey(base["log_verifier_key"])
    _, note = open_checkpoint(data.encode(), log, base["origin"])
    assert len(note.unverified_sigs) == 3
    witness = Verifier.from_vkey(vecs["checkpoint_sumdb_extra_signatures"][2]["verifier_key"])
    _, note = open_checkpoint(data.encode(), Verifiers([log, witness]), base["origin"])
    assert {s.name for s in note.verified_sigs} == {"sum.golang.org", "witness"}


def test_spec_checkpoint_is_not_signed_by_sum_golang_despite_the_same_key_id() -> None:
    ex = _example("tlog-checkpoint")
    vec = _load("signed-note/transparency-dev-formats-vectors.json")["checkpoint_sumdb"]
    forged = ex["note"].replace("example.com/behind-the-sofa A", "sum.golang.org A")
    with pytest.raises(CheckpointSignatureError, match="invalid signature"):
        open_checkpoint(forged.encode(), Verifier.from_vkey(vec["log_verifier_key"]), ex["origin"])


def test_sign_open_round_trip_and_tampering() -> None:
    log = Signer.generate("example.org/tocsin")
    cp = Checkpoint("example.org/tocsin", 7, leaf_hash(b"x"))
    signed = sign_checkpoint(cp, log)
    got, _ = open_checkpoint(signed, log.verifier(), "example.org/tocsin")
    assert got == cp
    tampered = signed.replace(b"\n7\n", b"\n8\n")
    with pytest.raises(CheckpointSignatureError):
        open_checkpoint(tampered, log.verifier(), "example.org/tocsin")
    with pytest.raises(CheckpointSignatureError, match="not signed"):
        open_checkpoint(signed, Signer.generate("example.org/tocsin").verifier(), "example.org/tocsin")
    with pytest.raises(CheckpointError):
        open_checkpoint(b"\xff\xfe", log.verifier(), "example.org/tocsin")
    unparseable = sign_note("example.org/tocsin\nnot a size\nroot\n", [log])
    with pytest.raises(CheckpointError):
        open_checkpoint(unparseable, log.verifier(), "example.org/tocsin")


# ------------------------------------------------------------------ cosignatures


def test_spec_cosignature_message_layout() -> None:
    ex = _example("tlog-cosignature-signed-message")
    assert cosignature_message(ex["checkpoint_text"], ex["timestamp"]).decode() == ex["want_signed_message"]


def test_spec_cosignature_line_carries_its_timestamp() -> None:
    ex = _example("tlog-cosignature-checkpoint")
    line = ex["note"].rstrip("\n").split("\n")[-1]
    b64 = line.split(" ")[-1]
    assert cosignature_timestamp(b64) == ex["signatures"][1]["cosignature_timestamp"]
    assert base64.b64decode(b64)[:4].hex() == ex["signatures"][1]["key_id_hex"]


def test_transparency_dev_cosignature_timestamps() -> None:
    for case in _load("signed-note/transparency-dev-formats-vectors.json")["cosignature_v1_timestamp"]:
        if case.get("want_err"):
            with pytest.raises(CosignatureError):
                cosignature_timestamp(case["signature_b64"])
        else:
            assert cosignature_timestamp(case["signature_b64"]) == case["want_timestamp"]


def test_transparency_dev_cosigner_vkeys() -> None:
    for case in _load("signed-note/transparency-dev-formats-vectors.json")["cosignature_verifier_keys"]:
        if case["want_err"]:
            with pytest.raises(CosignatureError):
                CosignatureVerifier.from_vkey(case["vkey"])
        else:
            verifier = CosignatureVerifier.from_vkey(case["vkey"])
            assert verifier.vkey == case["vkey"]


def test_cosign_verify_round_trip_and_attacks() -> None:
    log = Signer.generate("example.org/tocsin")
    w1, w2 = Cosigner.generate("witness.example/w1"), Cosigner.generate("witness.example/w2")
    cp = Checkpoint("example.org/tocsin", 3, leaf_hash(b"y"))
    signed = sign_checkpoint(cp, log)
    line = w1.cosign(cp.text, 1_700_000_000).line.encode()
    both = append_signature_lines(signed, line + line)  # duplicates collapse
    assert both.count(line) == 1
    _, note = open_checkpoint(both, log.verifier(), cp.origin)
    found = verify_cosignatures(note, [w1.verifier(), w2.verifier()])
    assert [(c.name, c.timestamp) for c in found] == [("witness.example/w1", 1_700_000_000)]
    # The same cosignature moved onto another checkpoint does not verify.
    other = sign_checkpoint(Checkpoint("example.org/tocsin", 4, leaf_hash(b"y")), log)
    _, note = open_checkpoint(append_signature_lines(other, line), log.verifier(), cp.origin)
    with pytest.raises(CosignatureError, match="invalid cosignature"):
        verify_cosignatures(note, [w1.verifier()])
    # Key strings round-trip; a log (type 0x01) vkey is not a witness key.
    assert Cosigner.from_skey(w1.skey).verifier() == w1.verifier()
    assert CosignatureVerifier.from_vkey(w1.verifier().vkey) == w1.verifier()
    with pytest.raises(CosignatureError):
        CosignatureVerifier.from_vkey(log.verifier().vkey)
    with pytest.raises(CosignatureError):
        append_signature_lines(signed, b"not a signature line\n")
    assert "PRIVATE" not in repr(w1)
