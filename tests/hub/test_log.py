"""The hub's transparency log over HTTP: checkpoints, tiles, entries, and the store agreeing."""

from __future__ import annotations

import time
from collections.abc import Sequence

import httpx

from tocsin.cap import to_xml
from tocsin.client import sign_cap
from tocsin.tlog.checkpoint import open_checkpoint
from tocsin.tlog.entry import alert_entry, decode_entry
from tocsin.tlog.tiles import Tile, TileHashReader, decode_entry_bundle
from tocsin.tlog.tree import leaf_hash, prove_inclusion, verify_inclusion
from tocsin.trust.note import Signer, Verifier

from .conftest import KYIV, HubProcess, make_alert

ORIGIN = "tocsin.localhost/log"


def _fetcher(url: str):  # type: ignore[no-untyped-def]
    def fetch(tiles: Sequence[Tile]) -> list[bytes]:
        out = []
        for tile in tiles:
            response = httpx.get(f"{url}/{tile.path}")
            assert response.status_code == 200, (tile.path, response.text)
            out.append(response.content)
        return out

    return fetch


def _checkpoint(hub: HubProcess, at_least: int) -> tuple[int, bytes]:
    verifier = Verifier.from_vkey((hub.data_dir / "log.pub").read_text().strip())
    deadline = time.monotonic() + 1.0  # the hub promises a covering checkpoint within 1 s
    while True:
        cp, _ = open_checkpoint(httpx.get(f"{hub.url}/checkpoint").content, verifier, ORIGIN)
        if cp.size >= at_least or time.monotonic() > deadline:
            return cp.size, cp.root_hash
        time.sleep(0.02)


def test_every_alert_is_a_leaf_provable_from_tiles(hub: HubProcess) -> None:
    signer = hub.signer("demo-air-force")
    issued = []
    with hub.client() as client:
        for _ in range(5):
            cap = to_xml(make_alert(areas=(KYIV,)))
            statement = sign_cap(cap, signer)
            body = client.issue_bytes(cap, statement)
            issued.append((body, cap, statement))
            assert body["log"]["index"] is not None
    last_index = issued[-1][0]["log"]["index"]
    size, root = _checkpoint(hub, last_index + 1)
    assert size == last_index + 1  # leaf 0 is the registry in force
    reader = TileHashReader(size, root, _fetcher(hub.url))
    for body, cap, statement in issued:
        index = body["log"]["index"]
        proof = prove_inclusion(size, index, reader)
        verify_inclusion(index, size, leaf_hash(alert_entry(statement, cap)), proof, root)
        assert httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}").json()["log"]["status"] == "proven"
    bundle = decode_entry_bundle(httpx.get(f"{hub.url}/tile/entries/000.p/{size}").content)
    entries = [decode_entry(e) for e in bundle]
    assert entries[0].type == "registry"
    assert entries[0].registry == httpx.get(f"{hub.url}/api/v1/registry").content
    assert [(e.statement, e.cap) for e in entries[1:]] == [(s, c) for _, c, s in issued]


def test_tiles_beyond_the_checkpoint_and_bad_paths_are_404(hub: HubProcess) -> None:
    assert httpx.get(f"{hub.url}/tile/0/000.p/200").status_code == 404
    assert httpx.get(f"{hub.url}/tile/0/x000/000").status_code == 404  # not canonical
    assert httpx.get(f"{hub.url}/tile/../../etc/passwd").status_code == 404
    partial = httpx.get(f"{hub.url}/tile/0/000.p/1")
    assert partial.status_code == 200
    # a partial tile of width W never changes (C2SP tlog-tiles): cache it for good
    assert partial.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(partial.content) == 32


def test_log_is_read_under_the_path_of_its_origin(hub: HubProcess) -> None:
    """C2SP: origin ``tocsin.localhost/log`` means the log lives under ``/log/``."""
    root = httpx.get(f"{hub.url}/checkpoint")
    origin = root.text.split("\n", 1)[0]
    path = origin.partition("/")[2]
    assert path == "log"
    assert httpx.get(f"{hub.url}/{path}/checkpoint").text.split("\n", 1)[0] == origin
    tile = httpx.get(f"{hub.url}/{path}/tile/0/000.p/1").content
    assert tile == httpx.get(f"{hub.url}/tile/0/000.p/1").content


def test_entry_bundles_are_gzipped_when_asked(hub: HubProcess) -> None:
    plain = httpx.get(f"{hub.url}/tile/entries/000.p/1", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    zipped = httpx.get(f"{hub.url}/tile/entries/000.p/1", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["vary"] == "Accept-Encoding"
    assert zipped.content == plain.content  # httpx decodes it: the same bundle, byte for byte
    refused = httpx.get(f"{hub.url}/tile/entries/000.p/1", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_log_survives_restart_and_registry_is_logged_once(hub: HubProcess) -> None:
    with hub.client() as client:
        client.issue(make_alert(areas=(KYIV,)), hub.signer("demo-air-force"))
    size_before, root_before = _checkpoint(hub, 2)
    hub.stop()
    hub.start()
    size_after, root_after = _checkpoint(hub, size_before)
    assert (size_after, root_after) == (size_before, root_before)  # same registry: no new leaf


def test_proof_bundle_verifies_offline(hub: HubProcess) -> None:
    from tocsin.tlog.proof import ProofVerificationError, verify_proof_bundle

    signer = hub.signer("demo-kyiv-city")
    cap = to_xml(make_alert("demo-kyiv-city", areas=(KYIV,)))
    statement = sign_cap(cap, signer)
    with hub.client() as client:
        body = client.issue_bytes(cap, statement)
    _checkpoint(hub, body["log"]["index"] + 1)
    bundle = httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/proof")
    assert bundle.status_code == 200, bundle.text
    verifier = Verifier.from_vkey((hub.data_dir / "log.pub").read_text().strip())
    proven = verify_proof_bundle(bundle.content, origin=ORIGIN, entry=alert_entry(statement, cap),
                                 log_verifier=verifier)
    assert proven.index == body["log"]["index"]
    tampered = cap.replace(b"Extreme", b"Minor")
    try:
        verify_proof_bundle(bundle.content, origin=ORIGIN, entry=alert_entry(statement, tampered),
                            log_verifier=verifier)
    except ProofVerificationError:
        pass
    else:
        raise AssertionError("a tampered CAP must not verify against the bundle")


def test_cli_verify_with_proof_bundle_offline(hub: HubProcess, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from tocsin.cli import main

    with hub.client() as client:
        body = client.issue(make_alert(areas=(KYIV,)), hub.signer("demo-air-force"))
    _checkpoint(hub, body["log"]["index"] + 1)
    files = {
        "alert.xml": httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/cap").content,
        "alert.xml.sig": httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/statement").content,
        "alert.tlog-proof": httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/proof").content,
        "registry.json": httpx.get(f"{hub.url}/api/v1/registry").content,
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    hub.stop()  # offline from here on
    args = ["verify", str(tmp_path / "alert.xml"), "--registry", str(tmp_path / "registry.json"),
            "--root", str(hub.data_dir / "registry-root.pub"),
            "--proof", str(tmp_path / "alert.tlog-proof"), "--log-key", str(hub.data_dir / "log.pub")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"logged: entry {body['log']['index']} of {ORIGIN}" in result.output
    # A bundle whose proof was tampered with: authentic signature, but not shown to be logged.
    lines = files["alert.tlog-proof"].decode().split("\n")
    hash_line = next(i for i, line in enumerate(lines) if i > 1 and len(line) == 44)
    lines[hash_line] = ("A" if lines[hash_line][0] != "A" else "B") + lines[hash_line][1:]
    (tmp_path / "alert.tlog-proof").write_text("\n".join(lines))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 6, result.output
    assert "not logged" in result.output
    hub.start()


def test_demo_witness_cosigns_and_policy_verifies(hub: HubProcess) -> None:
    from tocsin.tlog.proof import ProofVerificationError, parse_policy, verify_proof_bundle

    policy = parse_policy((hub.data_dir / "witness-policy.txt").read_text())
    assert policy.quorum == 1
    signer = hub.signer("demo-air-force")
    cap = to_xml(make_alert(areas=(KYIV,)))
    statement = sign_cap(cap, signer)
    with hub.client() as client:
        body = client.issue_bytes(cap, statement)
    _checkpoint(hub, body["log"]["index"] + 1)
    bundle = httpx.get(f"{hub.url}/api/v1/alerts/{body['id']}/proof").content
    proven = verify_proof_bundle(bundle, origin=ORIGIN, entry=alert_entry(statement, cap),
                                 policy=policy)
    assert len(proven.cosignatures) == 1
    # Strip the witness's cosignature: the same bundle no longer meets the policy.
    text = bundle.decode()
    stripped = "\n".join(line for line in text.split("\n")
                         if not line.startswith("— tocsin.localhost/demo-witness")).encode()
    try:
        verify_proof_bundle(stripped, origin=ORIGIN, entry=alert_entry(statement, cap), policy=policy)
    except ProofVerificationError as exc:
        assert "quorum" in str(exc) or "cosign" in str(exc)
    else:
        raise AssertionError("a bundle without the witness cosignature must fail the policy")
    # The witness speaks the C2SP protocol over HTTP too: it refuses a rollback.
    refused = httpx.post(f"{hub.url}/witness/add-checkpoint", content=b"old 0\n\n" + bundle.split(
        b"\n\n", 1)[1])
    assert refused.status_code == 409


def test_refuses_to_continue_a_log_under_another_key(hub: HubProcess) -> None:
    import pytest

    hub.stop()
    (hub.data_dir / "log.key").write_text(Signer.generate(ORIGIN).skey + "\n")
    with pytest.raises(RuntimeError, match="does not verify with the log key"):
        hub.start()
