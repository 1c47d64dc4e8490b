"""The one Ed25519 stack (``tocsin.trust.ed25519``) against the RFC 8032 reference file and
Wycheproof, directly and through every key type built on it: note keys (issuer statements,
registry, checkpoints) and witness cosigner keys."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tocsin.tlog.checkpoint import Checkpoint, CosignatureError, Cosigner, format_checkpoint
from tocsin.trust import ed25519
from tocsin.trust.note import Signature, Signer, Verifier

from .conftest import load_vector

RFC8032_TEST_1 = (  # RFC 8032 section 7.1, TEST 1 (empty message)
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
)


def _sign_input() -> Path:
    import cryptography_vectors as vectors  # a dev extra: missing means the install is broken

    return Path(vectors.__file__).parent / "asymmetric" / "Ed25519" / "sign.input"


def test_reference_sign_input_all_lines() -> None:
    """The 1024-line ed25519 reference file (its first three lines are RFC 8032 TESTs 1-3)."""
    lines = _sign_input().read_text().splitlines()
    assert len(lines) == 1024
    first = lines[0].split(":")
    assert (first[0][:64], first[1], first[3][:128]) == RFC8032_TEST_1
    for line in lines:
        secret, public, message, signed, _ = line.split(":")
        seed, pub, msg = bytes.fromhex(secret[:64]), bytes.fromhex(public), bytes.fromhex(message)
        signature = bytes.fromhex(signed)[:64]
        signer = Signer("rfc8032", seed)
        assert signer.public_key == pub
        assert signer.sign(msg) == signature
        verifier = Verifier.from_public_key("rfc8032", pub)
        assert verifier.verify(msg, signature)
        assert not verifier.verify(msg + b"x", signature)
        backend = ed25519.PrivateKey(seed)
        assert backend.public_key == pub and backend.sign(msg) == signature
        assert ed25519.verify(pub, msg, signature) and not ed25519.verify(pub, msg + b"x", signature)
        assert Cosigner("rfc8032", seed).public_key == pub


def test_wycheproof() -> None:
    data = load_vector("wycheproof/ed25519_test.json")
    seen = 0
    for group in data["testGroups"]:
        verifier = Verifier.from_public_key("wycheproof", bytes.fromhex(group["publicKey"]["pk"]))
        for case in group["tests"]:
            msg, sig = bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"])
            ok = verifier.verify(msg, sig)
            assert ok == ed25519.verify(verifier.public_key, msg, sig), case["tcId"]
            if case["result"] != "acceptable":
                assert ok == (case["result"] == "valid"), case["tcId"]
            seen += 1
    assert seen == data["numberOfTests"]


def test_cosignatures_verify_through_the_same_backend() -> None:
    """A cosignature/v1 signature flipped in any bit of its Ed25519 part is refused."""
    cosigner = Cosigner("witness.example", bytes(range(32)))
    text = format_checkpoint(Checkpoint("log.example/x", 3, bytes(32)))
    sig = cosigner.cosign(text, 1_700_000_000)
    verifier = cosigner.verifier()
    assert verifier.verify(text, sig).timestamp == 1_700_000_000
    raw = bytearray(ed25519.b64decode_strict(sig.b64))
    raw[-1] ^= 1
    bad = Signature(sig.name, sig.key_id, base64.b64encode(bytes(raw)).decode())
    with pytest.raises(CosignatureError):
        verifier.verify(text, bad)
