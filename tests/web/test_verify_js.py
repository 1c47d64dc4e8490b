"""The browser's verifier (static/js/verify.js) against vectors nobody on this team wrote.

RFC 6962 inclusion proofs from transparency-dev/merkle (every tampered case
must fail), C2SP signed-note and Go sumdb/note examples (Ed25519 through the
browser's own WebCrypto), C2SP tlog-proof/checkpoint layouts, and the RFC
8785 (JCS) reference test data for canonical JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from web.conftest import VECTORS, HubProcess


@pytest.fixture
def js(page: Any, hub: HubProcess) -> Iterator[Any]:
    """A page with verify.js loaded (the issuer list loads it and needs nothing else)."""
    page.goto(hub.url + "/issuers")
    page.wait_for_selector("body[data-ready=true]")
    yield page


INCLUDE = """async ([index, size, leaf, proof, root]) => {
  const V = TocsinVerify;
  const dec = (s) => s === null ? new Uint8Array(0) : V.b64decode(s);
  try {
    await V.verifyInclusion(index, size, dec(leaf), (proof || []).map(dec), dec(root));
    return "ok";
  } catch (e) { return e.message; }
}"""


def inclusion_cases() -> list[Path]:
    return sorted((VECTORS / "merkle" / "testdata" / "inclusion").glob("*/*.json"))


def test_transparency_dev_inclusion_vectors(js: Any) -> None:
    cases = inclusion_cases()
    assert len(cases) > 20
    for path in cases:
        case = json.loads(path.read_text())
        got = js.evaluate(INCLUDE, [case["leafIdx"], case["treeSize"], case["leafHash"],
                                    case["proof"], case["root"]])
        assert (got == "ok") == (not case["wantErr"]), f"{path.parent.name}/{path.name}: {got}"


def test_every_inclusion_proof_of_the_8_leaf_tree(js: Any) -> None:
    data = json.loads((VECTORS / "merkle" / "roots.json").read_text())
    hex_to_b64 = "(h) => btoa(String.fromCharCode(...h.match(/../g).map((x) => parseInt(x, 16))))"
    leaves = data["node_hashes_hex"][0]
    checked = 0
    for proof in data["inclusion_proofs"]:
        size, index = proof["tree_size"], proof["leaf_index"]
        got = js.evaluate(
            f"async ([i, n, leaf, proof, root]) => {{ const b = {hex_to_b64}; "
            f"return ({INCLUDE})([i, n, b(leaf), proof.map(b), b(root)]); }}",
            [index, size, leaves[index], proof["proof_hex"], data["roots_by_tree_size_hex"][size]])
        assert got == "ok", proof
        checked += 1
    assert checked == len(data["inclusion_proofs"]) > 0


def test_leaf_hashes_match_rfc6962(js: Any) -> None:
    data = json.loads((VECTORS / "merkle" / "roots.json").read_text())
    got = js.evaluate("""async (leaves) => {
      const out = [];
      for (const h of leaves) {
        const bytes = new Uint8Array((h.match(/../g) || []).map((x) => parseInt(x, 16)));
        out.push(TocsinVerify.hex(await TocsinVerify.leafHash(bytes)));
      }
      return out;
    }""", data["leaves_hex"])
    assert got == data["node_hashes_hex"][0]


OPEN = """async ([note, vkey]) => {
  try { return {text: await TocsinVerify.openNote(note, vkey)}; }
  catch (e) { return {error: e.message}; }
}"""


def test_c2sp_signed_note_example_verifies_with_webcrypto(js: Any) -> None:
    examples = json.loads((VECTORS / "signed-note" / "c2sp-spec-examples.json").read_text())["examples"]
    example = next(e for e in examples if e["verifiable"])
    assert js.evaluate(OPEN, [example["note"], example["verifier_key"]]) == {"text": example["text"]}
    forged = example["note"].replace("example message", "example massage")
    assert "does not verify" in js.evaluate(OPEN, [forged, example["verifier_key"]])["error"]


def test_go_note_vectors(js: Any) -> None:
    data = json.loads((VECTORS / "signed-note" / "go-note-vectors.json").read_text())
    sign = data["sign"]
    vkey = data["keys"][sign["signer"]]["verifier_key"]
    assert js.evaluate(OPEN, [sign["want_signed_note"], vkey]) == {"text": sign["text"]}
    for valid in data["verifier_key_valid"]:
        assert js.evaluate("(k) => TocsinVerify.checkKeyId(TocsinVerify.parseVkey(k))", valid) is True
    for case in data["verifier_key_invalid"]:
        got = js.evaluate("(k) => { try { TocsinVerify.parseVkey(k); return 'parsed'; } "
                          "catch (e) { return e.message; } }", case["vkey"])
        assert got != "parsed", case["desc"]
    other = data["verifier_key_valid"][1]
    assert "no signature by" in js.evaluate(OPEN, [sign["want_signed_note"], other])["error"]


def test_c2sp_tlog_proof_and_checkpoint_layouts(js: Any) -> None:
    examples = {e["id"]: e for e in json.loads(
        (VECTORS / "signed-note" / "c2sp-spec-examples.json").read_text())["examples"]}
    proof = examples["tlog-proof"]
    got = js.evaluate("""(text) => {
      const b = TocsinVerify.parseProofBundle(text);
      return {index: b.index, proof: b.proof.map((h) => btoa(String.fromCharCode(...h))),
              checkpoint: b.checkpoint};
    }""", proof["proof_text"])
    assert got["index"] == proof["index"]
    assert got["proof"] == proof["inclusion_proof_b64"]
    assert got["checkpoint"].startswith(proof["checkpoint_text"])
    checkpoint = examples["tlog-checkpoint"]
    got = js.evaluate("""(text) => {
      const c = TocsinVerify.parseCheckpoint(text);
      return {origin: c.origin, size: c.size, root: btoa(String.fromCharCode(...c.root))};
    }""", checkpoint["text"])
    assert got == {"origin": checkpoint["origin"], "size": checkpoint["tree_size"],
                   "root": checkpoint["root_hash_b64"]}


def test_jcs_reference_vectors(js: Any) -> None:
    inputs = sorted((VECTORS / "jcs" / "input").glob("*.json"))
    assert inputs
    for path in inputs:
        want = (VECTORS / "jcs" / "output" / path.name).read_bytes().decode()
        got = js.evaluate("(text) => TocsinVerify.canonicalJSON(JSON.parse(text))",
                          path.read_bytes().decode())
        assert got == want, path.name
