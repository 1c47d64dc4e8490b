"""Registry: RFC 8785 canonical bytes, root signature, strict structure, edits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import rfc8785

from tocsin.trust.note import Signer, Verifier, Verifiers, open_note, sign_note
from tocsin.trust.registry import IssuerKey, RegistryError, load_registry

from .alerts import KYIV_OBLAST, oblast_issuer, registry_with
from .conftest import VECTORS


def _jcs_cases() -> list[str]:
    names = sorted(p.name for p in (VECTORS / "jcs" / "input").glob("*.json"))
    assert names, f"JCS vectors missing at {VECTORS / 'jcs'}: they ship with the repository"
    return names


def test_rfc8785_vectors() -> None:
    for name in _jcs_cases():
        data = json.loads((VECTORS / "jcs" / "input" / name).read_text(encoding="utf-8"))
        want = (VECTORS / "jcs" / "output" / name).read_bytes()
        assert rfc8785.dumps(data) == want, name
        hex_text = (VECTORS / "jcs" / "outhex" / Path(name).with_suffix(".txt")).read_text()
        assert rfc8785.dumps(data) == bytes.fromhex(hex_text.replace(" ", "").strip()), name


@pytest.fixture
def root() -> Signer:
    return Signer.generate("tocsin.example/registry-root")


def test_sign_and_load_round_trip(root: Signer) -> None:
    issuer_key = Signer.generate("ua.kova")
    registry = registry_with(root, oblast_issuer(issuer_key))
    loaded = load_registry(registry.sign(root), root=root.verifier())
    assert loaded == registry
    assert loaded.version == 2
    issuer = loaded.issuer("ua.kova")
    assert issuer is not None and issuer.jurisdiction == (KYIV_OBLAST,)
    assert issuer.key(issuer_key.key_id) is not None
    # The file's signature is an ordinary signed note over JCS(registry) + "\n".
    doc = json.loads(registry.sign(root))
    note = (rfc8785.dumps(doc["registry"]) + b"\n\n" + doc["signatures"][0].encode() + b"\n")
    assert open_note(note, Verifiers([root.verifier()])).verified_sigs


def test_layout_and_key_order_do_not_matter(root: Signer) -> None:
    registry = registry_with(root, oblast_issuer(Signer.generate("ua.kova")))
    doc = json.loads(registry.sign(root))
    reordered = {"signatures": doc["signatures"],
                 "registry": dict(reversed(list(doc["registry"].items())))}
    assert load_registry(json.dumps(reordered).encode(), root=root.verifier()) == registry


def test_tampering_breaks_the_root_signature(root: Signer) -> None:
    registry = registry_with(root, oblast_issuer(Signer.generate("ua.kova")))
    doc = json.loads(registry.sign(root))
    doc["registry"]["issuers"][0]["jurisdiction"] = ["*"]
    with pytest.raises(RegistryError, match="bad root signature"):
        load_registry(json.dumps(doc).encode())


def test_pinned_root_must_match(root: Signer) -> None:
    registry = registry_with(root)
    other = Signer.generate(root.name)
    with pytest.raises(RegistryError, match="not the pinned root"):
        load_registry(registry.sign(root), root=other.verifier())
    with pytest.raises(RegistryError, match="not this registry's root"):
        registry.sign(other)


def test_signature_line_injection_is_refused(root: Signer) -> None:
    doc = json.loads(registry_with(root).sign(root))
    doc["signatures"] = ["x\n\n" + doc["signatures"][0]]
    with pytest.raises(RegistryError, match="newline"):
        load_registry(json.dumps(doc).encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff", "not UTF-8 JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"registry": {}, "registry": {}, "signatures": []}', "duplicate JSON key"),
        (b'{"registry": {}}', "missing signatures"),
        (b'{"registry": {}, "signatures": [], "x": 1}', "unknown field"),
    ],
)
def test_malformed_files(data: bytes, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load_registry(data)


def _resigned(root: Signer, mutate: object) -> bytes:
    """A registry edited *before* signing, so only the structure checks can refuse it."""
    doc = json.loads(registry_with(root, oblast_issuer(Signer.generate("ua.kova"))).sign(root))
    mutate(doc["registry"])  # type: ignore[operator]
    text = rfc8785.dumps(doc["registry"]).decode() + "\n"
    line = sign_note(text, [root]).decode().rsplit("\n\n", 1)[1].rstrip("\n")
    return json.dumps({"registry": doc["registry"], "signatures": [line]}).encode()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.update(version=0), "positive integer"),
        (lambda r: r.update(version=True), "positive integer"),
        (lambda r: r["issuers"][0].update(kinds=["volcano"]), "unknown kind"),
        (lambda r: r["issuers"][0].update(jurisdiction=[]), "jurisdiction"),
        (lambda r: r["issuers"][0].update(colour="red"), "unknown field"),
        (lambda r: r["issuers"][0]["keys"][0].update(not_before="yesterday"), "RFC 3339"),
        (lambda r: r["issuers"][0]["keys"][0].update(vkey="nope"), "keys\\[0\\].vkey"),
        (lambda r: r["issuers"].append(r["issuers"][0]), "listed twice"),
        (lambda r: r["issuers"][0].update(id="UA KOVA"), "id must match"),
    ],
)
def test_structure_errors_name_the_place(root: Signer, mutate: object, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load_registry(_resigned(root, mutate), root=root.verifier())


def test_key_must_be_named_for_its_issuer(root: Signer) -> None:
    stranger = Signer.generate("ua.other")
    issuer = oblast_issuer(Signer.generate("ua.kova"))
    bad = IssuerKey(stranger.verifier(), datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(RegistryError, match="named for another issuer"):
        registry_with(root, issuer).with_key("ua.kova", bad)


def test_revocation_makes_a_new_version(root: Signer) -> None:
    signer = Signer.generate("ua.kova")
    registry = registry_with(root, oblast_issuer(signer))
    when = datetime(2026, 12, 1, tzinfo=UTC)
    revoked = registry.with_key_revoked("ua.kova", signer.key_id, when)
    assert revoked.version == registry.version + 1
    key = load_registry(revoked.sign(root)).issuer("ua.kova").key(signer.key_id)  # type: ignore[union-attr]
    assert key is not None and key.revoked_at == when
    with pytest.raises(RegistryError, match="no key"):
        registry.with_key_revoked("ua.kova", 0, when)
    with pytest.raises(RegistryError, match="no issuer"):
        registry.with_key_revoked("ua.nobody", signer.key_id, when)


def test_verifier_round_trip_of_root(root: Signer) -> None:
    assert Verifier.from_vkey(root.verifier().vkey) == root.verifier()


def test_deeply_nested_json_is_refused() -> None:
    with pytest.raises(RegistryError, match="nested too deeply"):
        load_registry(b"[" * 100_000)
