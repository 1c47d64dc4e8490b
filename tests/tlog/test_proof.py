"""tlog-proof bundles and witness policies: the spec layout, every merkle inclusion probe, attacks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from tocsin.tlog.checkpoint import Checkpoint, Cosigner, append_signature_lines, sign_checkpoint
from tocsin.tlog.proof import (
    PolicyError,
    ProofBundle,
    ProofBundleError,
    ProofVerificationError,
    format_proof_bundle,
    make_proof_bundle,
    parse_policy,
    parse_proof_bundle,
    verify_proof_bundle,
)
from tocsin.tlog.tree import MemoryHashStore, leaf_hash
from tocsin.trust.note import Signer

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ORIGIN = "example.org/tocsin-test"
LOG = Signer.generate(ORIGIN)
WITNESSES = [Cosigner.generate(f"witness{n}.example") for n in range(3)]


def _policy(quorum: int, *, with_log: bool = False) -> str:
    lines = [f"log {LOG.verifier().vkey} https://hub.example"] if with_log else []
    lines += [f"witness w{n} {w.verifier().vkey}  # comment" for n, w in enumerate(WITNESSES)]
    return "\n".join(["# test policy", *lines, f"quorum {quorum}", ""])


def _log(count: int) -> tuple[list[bytes], MemoryHashStore, bytes]:
    entries = [f"entry {i}".encode() for i in range(count)]
    store = MemoryHashStore()
    store.append_entries(entries)
    signed = sign_checkpoint(Checkpoint(ORIGIN, count, store.root()), LOG)
    return entries, store, signed


def _cosigned(signed: bytes, cosigners: list[Cosigner]) -> bytes:
    text = signed.decode().split("\n\n")[0] + "\n"
    lines = b"".join(c.cosign(text, 1_760_000_000 + n).line.encode() for n, c in enumerate(cosigners))
    return append_signature_lines(signed, lines)


def test_spec_example_layout_parses() -> None:
    path = VECTORS / "signed-note" / "c2sp-spec-examples.json"
    examples = json.loads(path.read_text("utf-8"))["examples"]
    ex: dict[str, Any] = next(e for e in examples if e["id"] == "tlog-proof")
    bundle = parse_proof_bundle(ex["proof_text"].encode())
    assert bundle.index == ex["index"]
    assert bundle.extra == base64.b64decode(ex["extra_b64"])
    assert [base64.b64encode(h).decode() for h in bundle.inclusion] == ex["inclusion_proof_b64"]
    assert bundle.checkpoint.decode().startswith(ex["checkpoint_text"] + "\n")
    assert format_proof_bundle(bundle) == ex["proof_text"].encode()
    # Its signatures are elided with "[...]": it must never verify.
    with pytest.raises((ProofVerificationError, ProofBundleError)):
        verify_proof_bundle(bundle, origin="example.com/fancylog", leaf_hash=b"\0" * 32,
                            log_verifier=LOG.verifier())


@pytest.mark.parametrize("count", [1, 2, 7, 256, 300])
def test_round_trip_with_quorum(count: int) -> None:
    entries, store, signed = _log(count)
    cosigned = _cosigned(signed, WITNESSES[:2])
    policy = parse_policy(_policy(2, with_log=True))
    for index in {0, count // 2, count - 1}:
        bundle = make_proof_bundle(index, store, cosigned, extra=b"ctx")
        data = format_proof_bundle(bundle)
        assert parse_proof_bundle(data) == bundle
        result = verify_proof_bundle(data, origin=ORIGIN, entry=entries[index], policy=policy)
        assert (result.index, result.checkpoint.size) == (index, count)
        assert sorted(c.name for c in result.cosignatures) == ["witness0.example", "witness1.example"]
        # Another entry, a neighbour's index, another origin: all refused.
        with pytest.raises(ProofVerificationError):
            verify_proof_bundle(data, origin=ORIGIN, entry=b"forged entry", policy=policy)
        with pytest.raises(ProofVerificationError):
            verify_proof_bundle(data, origin="example.org/other", entry=entries[index], policy=policy)
        if count > 1:
            moved = ProofBundle((index + 1) % count, bundle.inclusion, bundle.checkpoint)
            with pytest.raises(ProofVerificationError):
                verify_proof_bundle(moved, origin=ORIGIN, entry=entries[index], policy=policy)


def test_quorum_counts_only_valid_distinct_policy_witnesses() -> None:
    entries, store, signed = _log(5)
    one = make_proof_bundle(3, store, _cosigned(signed, WITNESSES[:1]))
    with pytest.raises(ProofVerificationError, match="requires 2 of 3"):
        verify_proof_bundle(one, origin=ORIGIN, entry=entries[3], log_verifier=LOG.verifier(),
                            policy=parse_policy(_policy(2)))
    verify_proof_bundle(one, origin=ORIGIN, entry=entries[3], log_verifier=LOG.verifier(),
                        policy=parse_policy(_policy(1)))
    # A stranger's cosignature does not count; the log key is still required.
    stranger = make_proof_bundle(3, store, _cosigned(signed, [Cosigner.generate("witness0.example")]))
    with pytest.raises(ProofVerificationError, match="requires 1"):
        verify_proof_bundle(stranger, origin=ORIGIN, entry=entries[3], log_verifier=LOG.verifier(),
                            policy=parse_policy(_policy(1)))
    with pytest.raises(ProofVerificationError, match="not signed by the log key"):
        verify_proof_bundle(one, origin=ORIGIN, entry=entries[3],
                            log_verifier=Signer.generate(ORIGIN).verifier())


def test_equivocating_checkpoint_with_a_copied_cosignature_is_refused() -> None:
    entries, _, signed = _log(6)
    good = _cosigned(signed, WITNESSES)
    lines = good.decode().split("\n\n")[1].encode()
    other = MemoryHashStore()
    other.append_entries([*entries[:5], b"rewritten"])
    evil = sign_checkpoint(Checkpoint(ORIGIN, 6, other.root()), LOG)  # same size, another root
    bundle = make_proof_bundle(5, other, append_signature_lines(evil, lines))
    with pytest.raises(ProofVerificationError, match="invalid cosignature"):
        verify_proof_bundle(bundle, origin=ORIGIN, entry=b"rewritten", log_verifier=LOG.verifier(),
                            policy=parse_policy(_policy(1)))
    # Without a policy the log's word alone is accepted: that is what witnesses are for.
    verify_proof_bundle(bundle, origin=ORIGIN, entry=b"rewritten", log_verifier=LOG.verifier())


def _inclusion_probes() -> list[Path]:
    folder = VECTORS / "merkle" / "testdata" / "inclusion"
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("path", _inclusion_probes(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_merkle_inclusion_probe_through_the_bundle_verifier(path: Path) -> None:
    """Each probe becomes a bundle over a checkpoint signed for its size and root."""
    probe = json.loads(path.read_bytes())
    root = base64.b64decode(probe["root"])
    leaf = base64.b64decode(probe["leafHash"])
    proof = probe["proof"] or []

    def attempt() -> None:
        if len(root) != 32:
            raise ProofVerificationError("a checkpoint cannot carry a root that is not 32 bytes")
        signed = sign_checkpoint(Checkpoint(ORIGIN, probe["treeSize"], root), LOG)
        hashes = "".join(p + "\n" for p in proof)
        text = f"c2sp.org/tlog-proof@v1\nindex {probe['leafIdx']}\n{hashes}\n"
        verify_proof_bundle(text.encode() + signed, origin=ORIGIN, leaf_hash=leaf,
                            log_verifier=LOG.verifier())

    if probe["wantErr"]:
        with pytest.raises((ProofVerificationError, ProofBundleError)):
            attempt()
    else:
        attempt()


def test_merkle_probes_present() -> None:
    assert len(_inclusion_probes()) == 98


@pytest.mark.parametrize(
    "mangle",
    [
        lambda b: b.replace(b"c2sp.org/tlog-proof@v1", b"c2sp.org/tlog-proof@v2"),
        lambda b: b.replace(b"index 3", b"index 03"),
        lambda b: b.replace(b"index 3", b"index -3"),
        lambda b: b.replace(b"index 3", b"index 3 "),
        lambda b: b.replace(b"index 3\n", b""),
        lambda b: b.replace(b"\n\n", b"\n", 1),
        lambda b: b.replace(b"extra ", b"extra !"),
        lambda b: b.replace(b"=\n", b"\n", 1),  # non-canonical base64 in a proof line
        lambda b: b.replace(b"index 3\n", b"index 3\nAAAA\n"),  # a 3-byte hash
        lambda b: b.replace(b"index 3\n", b"index 3\n" + b"\xc3\xa9\n"),
        lambda b: b + b"x" * 200_000,
        lambda b: b[: b.index(b"\n\n") + 2] + b"not a checkpoint\n\n\xe2\x80\x94 x AAAA\n",
    ],
)
def test_malformed_bundles_are_refused(mangle: Any) -> None:
    _, store, signed = _log(5)
    data = format_proof_bundle(make_proof_bundle(3, store, signed, extra=b"x"))
    with pytest.raises(ProofBundleError):
        parse_proof_bundle(mangle(data))


def test_too_long_proof_and_bad_arguments() -> None:
    entries, store, signed = _log(5)
    bundle = make_proof_bundle(3, store, signed)
    with pytest.raises(ProofBundleError, match="at most 63"):
        format_proof_bundle(ProofBundle(3, bundle.inclusion * 30, signed))
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in bundle.inclusion * 30)
    with pytest.raises(ProofBundleError, match="at most 63"):
        parse_proof_bundle(f"c2sp.org/tlog-proof@v1\nindex 3\n{lines}\n".encode() + signed)
    with pytest.raises(ProofBundleError):
        make_proof_bundle(5, store, signed)  # not in the tree
    with pytest.raises(ValueError, match="exactly one"):
        verify_proof_bundle(bundle, origin=ORIGIN, log_verifier=LOG.verifier())
    with pytest.raises(ValueError, match="no log key"):
        verify_proof_bundle(bundle, origin=ORIGIN, entry=entries[3])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("witness w1 x\n", "line 1"),
        ("quorum 1\n", "between 0 and 0"),
        ("quorum two\n", "small decimal"),
        ("quorum 0\nquorum 0\n", "twice"),
        ("", "no 'quorum"),
        ("log nope\nquorum 0\n", "line 1"),
        ("frobnicate\nquorum 0\n", "expected"),
    ],
)
def test_bad_policies(text: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(text)


def test_policy_refuses_duplicates_and_log_keys_as_witnesses() -> None:
    vkey = WITNESSES[0].verifier().vkey
    with pytest.raises(PolicyError, match="twice"):
        parse_policy(f"witness a {vkey}\nwitness a {WITNESSES[1].verifier().vkey}\nquorum 1\n")
    with pytest.raises(PolicyError, match="listed twice"):
        parse_policy(f"witness a {vkey}\nwitness b {vkey}\nquorum 1\n")
    with pytest.raises(PolicyError, match="type 0x04"):
        parse_policy(f"witness a {LOG.verifier().vkey}\nquorum 1\n")
    policy = parse_policy(_policy(3, with_log=True))
    assert (policy.quorum, len(policy.witnesses), policy.names) == (3, 3, ("w0", "w1", "w2"))
    assert leaf_hash(b"") != b""  # the module under test hashes entries itself


def test_one_witness_key_under_two_names_is_not_two_witnesses() -> None:
    """A cosignature/v1 message does not name the witness, so one key listed under two key
    names would count one witness's signature twice towards the quorum (a followed hub's
    operator hands the follower its policy file). The policy refuses the same key twice."""
    seed = bytes(range(32))
    one, same = Cosigner("witness.example", seed), Cosigner("witness-mirror.example", seed)
    entries, store, signed = _log(4)
    bundle = make_proof_bundle(2, store, _cosigned(signed, [one, same]))
    text = f"witness a {one.verifier().vkey}\nwitness b {same.verifier().vkey}\nquorum 2\n"
    with pytest.raises(PolicyError, match="same key"):
        policy = parse_policy(text)
        verify_proof_bundle(bundle, origin=ORIGIN, entry=entries[2], log_verifier=LOG.verifier(),
                            policy=policy)
