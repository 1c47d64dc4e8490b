"""The witness: protocol status codes, durable state, races, every consistency probe, real HTTP."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tocsin.services.witness import Witness
from tocsin.services.witness_client import (
    WitnessClientError,
    WitnessConflictError,
    collect_cosignature,
    request_cosignature,
)
from tocsin.services.witness_http import witness_app
from tocsin.testing import serve_asgi
from tocsin.tlog.checkpoint import (
    Checkpoint,
    CosignatureVerifier,
    Cosigner,
    append_signature_lines,
    open_checkpoint,
    sign_checkpoint,
    verify_cosignatures,
)
from tocsin.tlog.tree import EMPTY_ROOT, MemoryHashStore, prove_consistency
from tocsin.tlog.witness import (
    SIZE_CONTENT_TYPE,
    WitnessError,
    format_add_checkpoint,
    origin_hash,
    parse_add_checkpoint,
)
from tocsin.trust.note import Signer

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
ORIGIN = "example.org/tocsin-witness-test"
LOG = Signer.generate(ORIGIN)
NOW = 1_767_000_000


class Log:
    """A growing in-memory log that signs checkpoints."""

    def __init__(self, signer: Signer = LOG, origin: str = ORIGIN) -> None:
        self.store = MemoryHashStore()
        self.signer, self.origin = signer, origin

    def grow(self, count: int) -> bytes:
        start = self.store.size
        self.store.append_entries(f"entry {i}".encode() for i in range(start, start + count))
        return self.signed()

    def signed(self, size: int | None = None) -> bytes:
        size = self.store.size if size is None else size
        return sign_checkpoint(Checkpoint(self.origin, size, self.store.root(size)), self.signer)

    def proof(self, old: int, new: int | None = None) -> list[bytes]:
        new = self.store.size if new is None else new
        return [] if old in (0, new) else prove_consistency(new, old, self.store)


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[Witness]:
    core = Witness(Cosigner.generate("witness.example/w1"), {ORIGIN: LOG.verifier()},
                   tmp_path / "w.sqlite", clock=lambda: NOW)
    yield core
    core.close()


def _status(witness: Witness, body: bytes) -> int:
    try:
        witness.add_checkpoint(body)
    except WitnessError as exc:
        return exc.status
    return 200


def test_cosign_then_extend_and_verify_the_cosignature(witness: Witness) -> None:
    log = Log()
    first = log.grow(5)
    lines = witness.add_checkpoint(format_add_checkpoint(0, [], first))
    assert lines.startswith("\u2014 witness.example/w1 ".encode()) and lines.endswith(b"\n")
    _, note = open_checkpoint(append_signature_lines(first, lines), LOG.verifier(), ORIGIN)
    [cosig] = verify_cosignatures(note, [witness.cosigner.verifier()])
    assert cosig.timestamp == NOW
    second = log.grow(300)
    witness.add_checkpoint(format_add_checkpoint(5, log.proof(5), second))
    assert witness.state(ORIGIN) == (305, log.store.root())
    # Resubmitting the same checkpoint is fine (a retry), with an empty proof.
    witness.add_checkpoint(format_add_checkpoint(305, [], second))
    latest = witness.latest(ORIGIN)
    assert latest is not None and latest.startswith(second) and witness.latest_by_hash(origin_hash(ORIGIN))


def test_protocol_refusals(witness: Witness) -> None:
    log = Log()
    five = log.grow(5)
    assert _status(witness, format_add_checkpoint(0, [], five)) == 200
    ten = log.grow(5)
    with pytest.raises(WitnessError) as info:
        witness.add_checkpoint(format_add_checkpoint(0, [], ten))
    assert (info.value.status, info.value.body, info.value.content_type) == (409, b"5\n", SIZE_CONTENT_TYPE)
    assert _status(witness, format_add_checkpoint(7, log.proof(7), ten)) == 409
    # Rollback: old size beyond the checkpoint's.
    assert _status(witness, format_add_checkpoint(5, [], log.signed(3))) == 400
    # Unknown origin 404; unknown or bad log signature 403.
    stranger = Signer.generate("example.org/other")
    other = sign_checkpoint(Checkpoint("example.org/other", 1, EMPTY_ROOT), stranger)
    assert _status(witness, format_add_checkpoint(0, [], other)) == 404
    impostor = Log(Signer.generate(ORIGIN)).grow(10)
    assert _status(witness, format_add_checkpoint(5, log.proof(5), impostor)) == 403
    tampered = ten.replace(base64.b64encode(log.store.root()), base64.b64encode(b"\1" * 32))
    assert _status(witness, format_add_checkpoint(5, log.proof(5), tampered)) == 403
    # Bad proofs 422; malformed bodies 400.
    assert _status(witness, format_add_checkpoint(5, log.proof(5)[::-1], ten)) == 422
    assert _status(witness, format_add_checkpoint(5, [], ten)) == 422
    for body in (b"", b"old 5\n" + ten, b"old 05\n\n" + ten, b"old 5\nAAAA\n\n" + ten,
                 b"old 5\n\nnot a checkpoint\n\n", format_add_checkpoint(5, [b"\0" * 32] * 64, ten)):
        assert _status(witness, body) == 400
    assert witness.state(ORIGIN) == (5, log.store.root(5))
    assert _status(witness, format_add_checkpoint(5, log.proof(5), ten)) == 200


def test_equivocation_is_refused_and_kept_as_evidence(witness: Witness) -> None:
    log = Log()
    signed = log.grow(8)
    witness.add_checkpoint(format_add_checkpoint(0, [], signed))
    fork = Log()
    rest = [f"entry {i}".encode() for i in range(3, 8)]
    fork.store.append_entries([b"entry 0", b"entry 1", b"forged", *rest])
    evil = fork.signed()
    assert _status(witness, format_add_checkpoint(8, [], evil)) == 422  # same size, another root
    grown = fork.grow(4)  # a longer fork cannot be proved consistent either
    assert _status(witness, format_add_checkpoint(8, fork.proof(8), grown)) == 422
    kept = witness.rejected(ORIGIN)
    assert len(kept) == 2 and kept[0][1].endswith(evil)
    assert witness.state(ORIGIN) == (8, log.store.root())


def test_empty_tree_rules(witness: Witness) -> None:
    log = Log()
    not_empty = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\1" * 32), LOG)
    assert _status(witness, format_add_checkpoint(0, [], not_empty)) == 422
    assert _status(witness, format_add_checkpoint(0, [], log.signed(0))) == 200
    signed = log.grow(3)
    assert _status(witness, format_add_checkpoint(0, [b"\0" * 32], signed)) == 422


def test_state_survives_a_restart(tmp_path: Path) -> None:
    cosigner = Cosigner.generate("witness.example/w1")
    log = Log()
    first = Witness(cosigner, {ORIGIN: LOG.verifier()}, tmp_path / "w.sqlite")
    first.add_checkpoint(format_add_checkpoint(0, [], log.grow(4)))
    first.close()
    again = Witness(cosigner, {ORIGIN: LOG.verifier()}, tmp_path / "w.sqlite")
    assert _status(again, format_add_checkpoint(0, [], log.grow(1))) == 409
    assert again.state(ORIGIN) == (4, log.store.root(4))
    again.close()


def test_racing_submissions_never_roll_back(witness: Witness) -> None:
    """Many threads submit different sizes from the same old size: exactly one wins."""
    log = Log()
    witness.add_checkpoint(format_add_checkpoint(0, [], log.grow(10)))
    bodies = []
    for _ in range(16):
        log.grow(1)
        bodies.append(format_add_checkpoint(10, log.proof(10), log.signed()))
    results: list[int] = []
    barrier = threading.Barrier(len(bodies))

    def submit(body: bytes) -> None:
        barrier.wait()
        results.append(_status(witness, body))

    threads = [threading.Thread(target=submit, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200] + [409] * (len(bodies) - 1)
    state = witness.state(ORIGIN)
    assert state is not None and state == (state[0], log.store.root(state[0]))


def _consistency_probes() -> list[Path]:
    folder = VECTORS / "merkle" / "testdata" / "consistency"
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


@pytest.mark.parametrize("path", _consistency_probes(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_merkle_consistency_probe_through_the_witness(path: Path, tmp_path: Path) -> None:
    """The witness first cosigns (size1, root1), then is asked to cosign (size2, root2) with the proof.

    A size1 of 0 is the witness protocol's "first checkpoint", where the spec
    needs no proof, unlike RFC 9162's verifier; those probes are checked for
    the protocol's own rule (non-empty proof: 422) instead.
    """
    probe = json.loads(path.read_bytes())
    size1, size2 = probe["size1"], probe["size2"]
    root1, root2 = base64.b64decode(probe["root1"]), base64.b64decode(probe["root2"])
    proof = [base64.b64decode(p) for p in probe["proof"] or []]
    core = Witness(Cosigner.generate("w"), {ORIGIN: LOG.verifier()}, tmp_path / "w.sqlite")
    try:
        if size1 == 0 or len(root1) != 32 or len(root2) != 32:
            # Not representable as checkpoints (or a protocol special case): must not be cosigned.
            if size1 == 0 and len(root2) == 32 and size2 > 0:
                status = _status(core, format_add_checkpoint(
                    0, proof, sign_checkpoint(Checkpoint(ORIGIN, size2, root2), LOG)))
                assert status == (200 if not proof else 422)
            else:
                assert probe["wantErr"] or len(root1) != 32
            return
        first = sign_checkpoint(Checkpoint(ORIGIN, size1, root1), LOG)
        assert _status(core, format_add_checkpoint(0, [], first)) == 200
        second = sign_checkpoint(Checkpoint(ORIGIN, size2, root2), LOG)
        body = f"old {size1}\n".encode() + b"".join(base64.b64encode(p) + b"\n" for p in proof)
        status = _status(core, body + b"\n" + second)
        if probe["wantErr"]:
            assert status in (400, 422)
            assert core.state(ORIGIN) == (size1, root1)
        else:
            assert status == 200
            assert core.state(ORIGIN) == (size2, root2)
    finally:
        core.close()


def test_parse_request_vector_from_the_spec() -> None:
    path = VECTORS / "signed-note" / "c2sp-spec-examples.json"
    examples = json.loads(path.read_text("utf-8"))["examples"]
    ex = next(e for e in examples if e["id"] == "tlog-witness-add-checkpoint")
    request = parse_add_checkpoint(ex["request_body"].encode())
    assert request.old_size == ex["old_size"]
    assert [base64.b64encode(p).decode() for p in request.proof] == ex["consistency_proof_b64"]
    assert request.checkpoint.startswith(b"example.com/behind-the-sofa\n20852163\n")
    again = format_add_checkpoint(request.old_size, request.proof, request.checkpoint)
    assert again == ex["request_body"].encode()


def test_http_protocol_with_a_real_server(witness: Witness) -> None:
    log = Log()
    with serve_asgi(witness_app(witness)) as url, httpx.Client() as client:
        signed = log.grow(3)
        lines = request_cosignature(url, signed, 0, [], client=client)
        cosigned = append_signature_lines(signed, lines)
        _, note = open_checkpoint(cosigned, LOG.verifier(), ORIGIN)
        verifier = CosignatureVerifier.from_vkey(witness.cosigner.verifier().vkey)
        assert len(verify_cosignatures(note, [verifier])) == 1
        bigger = log.grow(2)
        with pytest.raises(WitnessConflictError) as info:
            request_cosignature(url, bigger, 0, [], client=client)
        assert info.value.size == 3
        conflict = client.post(f"{url}/add-checkpoint", content=format_add_checkpoint(0, [], bigger))
        assert conflict.status_code == 409 and conflict.content == b"3\n"
        # exactly the C2SP media type: a client comparing it byte for byte must read the size
        assert conflict.headers["content-type"] == SIZE_CONTENT_TYPE
        request_cosignature(url, bigger, info.value.size, log.proof(3), client=client)
        response = client.get(f"{url}/{origin_hash(ORIGIN)}/checkpoint")
        assert response.status_code == 200 and response.content.startswith(bigger)
        assert client.get(f"{url}/{'0' * 64}/checkpoint").status_code == 404
        with pytest.raises(WitnessClientError) as refused:
            request_cosignature(url, log.signed(5), 5, [b"\0" * 32], client=client)
        assert refused.value.status == 422
        answer = client.post(f"{url}/add-checkpoint", content=b"x" * 70_000)
        assert answer.status_code in (400, 413)
        assert client.get(f"{url}/add-checkpoint").status_code == 405
    with pytest.raises(WitnessClientError, match="unreachable"):
        request_cosignature(url, bigger, 5, [], timeout=2)


def test_hub_side_collect_cosignature_recovers_from_409(witness: Witness) -> None:
    log = Log()
    verifier = witness.cosigner.verifier()
    with serve_asgi(witness_app(witness)) as url:
        line, size = collect_cosignature(url, verifier, log.grow(3), log.store)
        assert size == 3
        signed = log.grow(4)
        line, size = collect_cosignature(url, verifier, signed, log.store, old_size=0)  # stale belief
        assert size == 7
        _, note = open_checkpoint(append_signature_lines(signed, line), LOG.verifier(), ORIGIN)
        assert [c.name for c in verify_cosignatures(note, [verifier])] == ["witness.example/w1"]
        with pytest.raises(WitnessClientError, match="no valid cosignature"):
            collect_cosignature(url, Cosigner.generate("witness.example/w1").verifier(), signed, log.store,
                                old_size=7)
        with pytest.raises(WitnessClientError, match="beyond this checkpoint"):
            collect_cosignature(url, verifier, log.signed(5), log.store, old_size=0)


def test_cli_witness_process(tmp_path: Path) -> None:
    """``tocsin witness`` as a real process: key created 0600, cosigns over HTTP, refuses 409."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "tocsin", "witness", "--data-dir", str(tmp_path / "w"), "--port", str(port),
         "--name", "witness.example/cli", "--log-vkey", LOG.verifier().vkey],
        stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:  # blocks until uvicorn says it is listening
            if "Uvicorn running on" in line:
                break
        else:
            pytest.fail("tocsin witness exited before listening")
        key = tmp_path / "w" / "witness.key"
        assert key.stat().st_mode & 0o777 == 0o600
        vkey = (tmp_path / "w" / "witness.vkey").read_text().strip()
        log = Log()
        signed = log.grow(2)
        lines = request_cosignature(f"http://127.0.0.1:{port}", signed, 0, [])
        _, note = open_checkpoint(append_signature_lines(signed, lines), LOG.verifier(), ORIGIN)
        assert len(verify_cosignatures(note, [CosignatureVerifier.from_vkey(vkey)])) == 1
        with pytest.raises(WitnessConflictError):
            request_cosignature(f"http://127.0.0.1:{port}", log.grow(1), 0, [])
    finally:
        process.terminate()
        process.wait(10)


def test_cli_witness_bad_arguments(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from tocsin.cli import main

    runner = CliRunner()
    result = runner.invoke(main, ["witness", "--data-dir", str(tmp_path), "--log-vkey", "nope"])
    assert result.exit_code == 2 and "error:" in result.output and "Traceback" not in result.output
    result = runner.invoke(main, ["witness", "--data-dir", str(tmp_path), "--log-vkey", LOG.verifier().vkey,
                                  "--origin", "a", "--origin", "b"])
    assert result.exit_code == 2 and "one --origin per --log-vkey" in result.output
    (tmp_path / "witness.key").write_text("garbage\n")
    result = runner.invoke(main, ["witness", "--data-dir", str(tmp_path), "--log-vkey", LOG.verifier().vkey])
    assert result.exit_code == 2 and "not a usable witness key" in result.output
