"""The monitor against real static logs over real HTTP: an honest log, then every attack it must catch.

Each test builds a log of real signed entries (registry versions and CAP
alerts signed by an issuer), publishes it as a static tile directory with
:func:`write_static_log`, serves it with a real uvicorn, and points a
:class:`Monitor` (or ``tocsin monitor``) at it. Attacks are made the way a
dishonest operator would: re-signing rewritten histories, tampering files.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from tocsin.cli import main
from tocsin.regions import default_region_set
from tocsin.services.log_client import LogClient
from tocsin.services.monitor import (
    EvidenceError,
    MisbehaviourError,
    Monitor,
    MonitorConfigError,
    confirm_evidence,
)
from tocsin.testing import serve_asgi
from tocsin.tlog.checkpoint import (
    Checkpoint,
    Cosigner,
    append_signature_lines,
    open_checkpoint,
    sign_checkpoint,
)
from tocsin.tlog.entry import alert_entry, registry_entry
from tocsin.tlog.proof import make_proof_bundle, parse_policy, verify_proof_bundle
from tocsin.tlog.static import StaticLogError, write_static_log
from tocsin.tlog.tree import MemoryHashStore
from tocsin.trust.note import Signer
from tocsin.trust.registry import Issuer, IssuerKey, Registry
from tocsin.trust.statement import Statement

ORIGIN = "hub.example/tocsin-log"
KYIV_OBLAST = "UA32000000000030281"
BORYSPIL_RAION = "UA32040000000054694"  # inside Kyiv oblast
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def serve(directory: Path) -> AbstractContextManager[str]:
    """Serve ``directory`` as static files with a real uvicorn on 127.0.0.1."""
    return serve_asgi(Starlette(routes=[Mount("/", StaticFiles(directory=directory))]))


def cap(identifier: str, sent: datetime, *, msg_type: str = "Alert", references: str = "",
        sender: str = "alerts@koda.gov.ua", code: str = BORYSPIL_RAION) -> bytes:
    refs = f"  <references>{references}</references>\n" if references else ""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">\n'
        f"  <identifier>{identifier}</identifier>\n  <sender>{sender}</sender>\n"
        f"  <sent>{sent.isoformat(timespec='seconds')}</sent>\n"
        f"  <status>Actual</status>\n  <msgType>{msg_type}</msgType>\n  <scope>Public</scope>\n{refs}"
        "  <info>\n    <language>uk-UA</language>\n    <category>Security</category>\n"
        "    <event>Повітряна тривога</event>\n    <urgency>Immediate</urgency>\n"
        "    <severity>Extreme</severity>\n    <certainty>Observed</certainty>\n"
        "    <eventCode><valueName>TOCSIN</valueName><value>air-raid</value></eventCode>\n"
        f"    <area><areaDesc>Бориспільський район</areaDesc><geocode><valueName>KATOTTG</valueName>"
        f"<value>{code}</value></geocode></area>\n"
        "  </info>\n</alert>\n"
    ).encode()


@dataclass
class World:
    """Keys, a registry and a growing list of log entries, publishable as a static log."""

    directory: Path
    log: Signer = field(default_factory=lambda: Signer.generate(ORIGIN))
    root: Signer = field(default_factory=lambda: Signer.generate("registry.example/root"))
    issuer: Signer = field(default_factory=lambda: Signer.generate("kova"))
    entries: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        key = IssuerKey(self.issuer.verifier(), not_before=datetime(2026, 1, 1, tzinfo=UTC))
        self.registry = Registry.empty(self.root.verifier()).with_issuer(Issuer(
            id="kova", name_uk="Київська ОВА", name_en="Kyiv Oblast Military Administration",
            kinds=frozenset({"air-raid", "all-clear"}), jurisdiction=(KYIV_OBLAST,), keys=(key,),
            senders=("alerts@koda.gov.ua",)))
        self.entries.append(registry_entry(self.registry.sign(self.root)))

    def alert(self, identifier: str, sent: datetime = T0, *, signer: Signer | None = None,
              tamper: bool = False, **kwargs: Any) -> bytes:
        signer = signer or self.issuer
        body = cap(identifier, sent, **kwargs)
        statement = Statement.for_cap(body, issuer=signer.name, key_id=signer.key_id, identifier=identifier,
                                      sender=kwargs.get("sender", "alerts@koda.gov.ua"),
                                      sent=sent.isoformat(timespec="seconds")).sign(signer)
        if tamper:
            body = body.replace("Бориспільський".encode(), "Броварський".encode())
        entry = alert_entry(statement, body)
        self.entries.append(entry)
        return entry

    def revoke(self, at: datetime) -> None:
        self.registry = self.registry.with_key_revoked("kova", self.issuer.key_id, at)
        self.entries.append(registry_entry(self.registry.sign(self.root)))

    def signed(self, entries: list[bytes] | None = None, *, signer: Signer | None = None) -> bytes:
        entries = self.entries if entries is None else entries
        store = MemoryHashStore()
        store.append_entries(entries)
        return sign_checkpoint(Checkpoint(ORIGIN, len(entries), store.root()), signer or self.log)

    def publish(self, entries: list[bytes] | None = None, *, signer: Signer | None = None,
                cosigners: tuple[Cosigner, ...] = ()) -> bytes:
        entries = list(self.entries if entries is None else entries)
        signed = self.signed(entries, signer=signer)
        text = signed.decode().split("\n\n")[0] + "\n"
        lines = b"".join(c.cosign(text, int(T0.timestamp())).line.encode() for c in cosigners)
        signed = append_signature_lines(signed, lines) if lines else signed
        write_static_log(self.directory, entries, signed)
        return signed


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path / "log")


@pytest.fixture
def url(world: World) -> Iterator[str]:
    world.directory.mkdir()
    with serve(world.directory) as address:
        yield address


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def monitor(world: World, url: str, state: Path, clock: Clock | None = None) -> Monitor:
    return Monitor(LogClient(url), state, log_verifier=world.log.verifier(), origin=ORIGIN,
                   regions=default_region_set(), clock=clock or Clock(T0 + timedelta(minutes=1)))


def caught(watcher: Monitor, kind: str, match: str = "") -> dict[str, Any]:
    with pytest.raises(MisbehaviourError) as info:
        watcher.poll()
    assert info.value.kind == kind, info.value.reason
    assert match in info.value.reason
    assert info.value.evidence["kind"] == kind
    json.dumps(info.value.evidence)  # portable: plain JSON
    return info.value.evidence


# ------------------------------------------------------------------ honest log


def test_honest_log_is_followed_across_polls_and_restarts(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.alert("A-2", T0 + timedelta(seconds=30))
    world.publish()
    first = monitor(world, url, tmp_path / "state")
    result = first.poll()
    assert (result.old_size, result.size, result.alerts, result.registries) == (0, 3, 2, 1)
    assert first.poll().size == 3  # nothing new
    first.close()
    for i in range(300):  # crosses a full tile and an entry bundle boundary
        world.alert(f"B-{i}", T0 + timedelta(seconds=40), msg_type="Update",
                    references=f"alerts@koda.gov.ua,A-1,{T0.isoformat(timespec='seconds')}")
    world.publish()
    again = monitor(world, url, tmp_path / "state", Clock(T0 + timedelta(minutes=2)))
    result = again.poll()
    assert (result.old_size, result.size, result.alerts) == (3, 303, 300)
    # A proof bundle for an entry verifies offline against what the monitor accepted.
    store = MemoryHashStore()
    store.append_entries(world.entries)
    checkpoint = again.checkpoint
    assert checkpoint is not None
    bundle = make_proof_bundle(200, store, checkpoint)
    verify_proof_bundle(bundle, origin=ORIGIN, entry=world.entries[200], log_verifier=world.log.verifier())
    again.close()


# ------------------------------------------------------------------ entries


def test_forged_entry(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1", signer=Signer.generate("kova"))  # same name, not the registered key
    world.publish()
    caught(monitor(world, url, tmp_path / "s"), "bad-entry", "forged")


def test_altered_entry(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1", tamper=True)
    world.publish()
    evidence = caught(monitor(world, url, tmp_path / "s"), "bad-entry", "altered")
    # The evidence proves the bad entry is in the signed log: anyone can check it offline.
    index, entry = evidence["leaf_index"], base64.b64decode(evidence["entry"])
    proof = "".join(h + "\n" for h in evidence["inclusion_proof"])
    text = f"c2sp.org/tlog-proof@v1\nindex {index}\n{proof}\n".encode() + evidence["new_checkpoint"].encode()
    verify_proof_bundle(text, origin=ORIGIN, entry=entry, log_verifier=world.log.verifier())
    assert "altered" in confirm_evidence(evidence, world.log.verifier())
    with pytest.raises(EvidenceError):
        confirm_evidence({**evidence, "leaf_index": index + 1}, world.log.verifier())


def test_outside_jurisdiction_and_malformed_entries(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1", code="UA46000000000026241")  # Lviv oblast: not Kyiv oblast's to warn
    world.publish()
    caught(monitor(world, url, tmp_path / "s1"), "bad-entry", "unauthorised")
    world.entries[-1] = b"\x01\x09garbage"
    world.publish()
    caught(monitor(world, url, tmp_path / "s2"), "bad-entry", "malformed")


def test_duplicate_sender_and_identifier(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.alert("A-1", T0 + timedelta(seconds=5))
    world.publish()
    caught(monitor(world, url, tmp_path / "s"), "bad-entry", "repeats sender")


def test_reference_to_an_alert_not_in_the_log(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-2", msg_type="Cancel", references="alerts@koda.gov.ua,A-1,2026-11-25T11:00:00+00:00")
    world.publish()
    caught(monitor(world, url, tmp_path / "s"), "bad-entry", "unknown_reference")


def test_alert_before_any_registry(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.publish(world.entries[1:])
    caught(monitor(world, url, tmp_path / "s"), "bad-entry", "before any issuer registry")


def test_back_dating_and_future_dating(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.publish()
    clock = Clock(T0 + timedelta(hours=1))
    watcher = monitor(world, url, tmp_path / "s", clock)
    watcher.poll()
    clock.now = T0 + timedelta(hours=1, minutes=30)
    watcher.poll()  # still without the next alert at T0+1h30: the bound moves up
    world.alert("A-2", T0 + timedelta(minutes=80))  # claims to predate a tree that lacked it
    world.publish()
    clock.now = T0 + timedelta(hours=2)
    caught(watcher, "bad-entry", "back-dated")
    world.entries.pop()
    world.alert("A-3", T0 + timedelta(hours=5))
    world.publish()
    caught(watcher, "bad-entry", "in the future")
    world.entries.pop()
    world.alert("A-4", T0 + timedelta(hours=1, minutes=26))  # within the skew of the last poll
    world.publish()
    assert watcher.poll().size == 3


def test_alert_with_a_revoked_key_logged_after_the_revocation(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.revoke(T0 + timedelta(minutes=30))
    world.alert("A-2", T0 + timedelta(minutes=5))  # back-dated before the revocation time
    world.publish()
    evidence = caught(monitor(world, url, tmp_path / "s"), "bad-entry", "revoked")
    assert evidence["leaf_index"] == 3


def test_registry_not_signed_by_the_pinned_root(world: World, url: str, tmp_path: Path) -> None:
    impostor = Signer.generate("registry.example/root")
    fake = Registry(version=5, root=impostor.verifier(), issuers=world.registry.issuers)
    world.entries.append(registry_entry(fake.sign(impostor)))
    world.publish()
    caught(monitor(world, url, tmp_path / "s"), "bad-entry", "pinned registry root")


# ------------------------------------------------------------------ history


def _seen(world: World, url: str, tmp_path: Path, count: int) -> Monitor:
    for i in range(count):
        world.alert(f"A-{i}", T0 + timedelta(seconds=i))
    world.publish()
    watcher = monitor(world, url, tmp_path / "s", Clock(T0))
    watcher.poll()
    return watcher


def _check_inconsistency_evidence(evidence: dict[str, Any], world: World) -> None:
    """A third party holding only the log key confirms it; altered evidence is refused."""
    assert "history was rewritten" in confirm_evidence(evidence, world.log.verifier())
    old, _ = open_checkpoint(evidence["old_checkpoint"].encode(), world.log.verifier(), ORIGIN)
    changes: list[tuple[str, Any]] = [("consistency_proof", evidence["consistency_proof"][:-1]),
                                      ("old_checkpoint", evidence["new_checkpoint"])]
    if old.size & (old.size - 1) == 0:  # a power of two: the proof leaves the prefix hash out
        changes.append(("prefix_hash", base64.b64encode(b"\0" * 32).decode()))
    for key, value in changes:
        with pytest.raises(EvidenceError):
            confirm_evidence({**evidence, key: value}, world.log.verifier())
    with pytest.raises(EvidenceError):
        confirm_evidence(evidence, Signer.generate(ORIGIN).verifier())


def test_rewritten_entry(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 4)
    rewritten = list(world.entries)
    rewritten[2] = world.alert("A-x", T0)  # entry 2 replaced, the log grows by one, all re-signed
    world.publish([*rewritten, world.alert("A-y", T0)])
    _check_inconsistency_evidence(caught(watcher, "inconsistent"), world)


def test_deleted_entry(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 3)  # size 4: a power of two, the proof's special case
    world.alert("A-9", T0)
    world.alert("A-10", T0)
    world.publish(world.entries[:2] + world.entries[3:])
    _check_inconsistency_evidence(caught(watcher, "inconsistent"), world)


def test_reordered_entries(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 4)
    world.alert("A-9", T0)
    e = list(world.entries)
    e[1], e[2] = e[2], e[1]
    world.publish(e)
    _check_inconsistency_evidence(caught(watcher, "inconsistent"), world)


def test_rollback(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 4)
    world.publish(world.entries[:3])
    evidence = caught(watcher, "rollback", "shrank from size 5 to 3")
    old, _ = open_checkpoint(evidence["old_checkpoint"].encode(), world.log.verifier(), ORIGIN)
    new, _ = open_checkpoint(evidence["new_checkpoint"].encode(), world.log.verifier(), ORIGIN)
    assert (old.size, new.size) == (5, 3)
    assert "served size 3 after signing size 5" in confirm_evidence(evidence, world.log.verifier())


def test_equivocation_to_a_monitor(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 2)
    split = list(world.entries)
    split[2] = world.alert("A-other", T0)
    world.publish(split[:3])
    evidence = caught(watcher, "equivocation")
    assert "two different roots" in confirm_evidence(evidence, world.log.verifier())
    with pytest.raises(EvidenceError):
        confirm_evidence({**evidence, "new_checkpoint": evidence["old_checkpoint"]}, world.log.verifier())


def test_entry_bundle_that_does_not_match_the_tiles(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.alert("A-2")
    world.publish()
    bundle = world.directory / "tile" / "entries" / "000.p" / "3"
    bundle.write_bytes(bundle.read_bytes().replace(b"A-2", b"A-3"))
    caught(monitor(world, url, tmp_path / "s"), "bad-entries", "does not hash")


def test_tiles_that_do_not_match_the_checkpoint(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 300)
    world.alert("A-new", T0)
    world.publish()
    tile = world.directory / "tile" / "0" / "001.p" / "46"  # the tile the consistency proof reads
    tile.write_bytes(b"\0" * 32 + tile.read_bytes()[32:])
    caught(watcher, "bad-tiles", "do not match the root")


def test_checkpoint_not_signed_by_the_log(world: World, url: str, tmp_path: Path) -> None:
    watcher = _seen(world, url, tmp_path, 1)
    world.alert("A-9", T0)
    world.publish(signer=Signer.generate(ORIGIN))
    caught(watcher, "bad-checkpoint", "not signed by the log key")
    assert watcher.size == 2  # nothing was stored from the failed poll


def test_empty_log_then_growth(world: World, url: str, tmp_path: Path) -> None:
    watcher = monitor(world, url, tmp_path / "s")
    world.publish([])
    assert watcher.poll().size == 0
    world.publish()
    assert watcher.poll().size == 1
    bad_empty = sign_checkpoint(Checkpoint(ORIGIN, 0, b"\1" * 32), world.log)
    (world.directory / "checkpoint").write_bytes(bad_empty)
    caught(monitor(world, url, tmp_path / "s2"), "bad-checkpoint", "empty tree")


def test_witness_policy_on_every_checkpoint(world: World, url: str, tmp_path: Path) -> None:
    w1, w2 = Cosigner.generate("w1.example"), Cosigner.generate("w2.example")
    policy = parse_policy(f"witness a {w1.verifier().vkey}\nwitness b {w2.verifier().vkey}\nquorum 2\n")
    watcher = Monitor(LogClient(url), tmp_path / "s", log_verifier=world.log.verifier(), policy=policy,
                      clock=Clock(T0))
    world.publish(cosigners=(w1, w2))
    assert watcher.poll().size == 1
    world.alert("A-1")
    world.publish(cosigners=(w1,))  # a view only one witness has seen
    caught(watcher, "unwitnessed", "requires 2 of 2")
    policy_file = tmp_path / "policy"
    policy_file.write_text("quorum 3\n")
    result = CliRunner().invoke(main, ["monitor", url, "--state-dir", str(tmp_path / "s"), "--once",
                                       "--policy", str(policy_file)])
    assert result.exit_code == 2 and "quorum 3" in result.output


def test_static_writer_increments_and_partial_tiles_fall_back_to_full(
        world: World, url: str, tmp_path: Path) -> None:
    for i in range(299):
        world.alert(f"A-{i}", T0)
    at_300 = world.publish()
    assert len(world.entries) == 300
    for i in range(212):
        world.alert(f"B-{i}", T0)
    written = write_static_log(world.directory, world.entries, world.signed(), since=300)
    names = {p.relative_to(world.directory).as_posix() for p in written}
    assert "tile/0/000" not in names and "tile/0/001" in names and "tile/entries/001" in names
    # A mirror that has moved on: the partial tiles of size 300 are gone, the full ones remain.
    (world.directory / "tile" / "0" / "001.p" / "44").unlink()
    (world.directory / "tile" / "entries" / "001.p" / "44").unlink()
    (world.directory / "checkpoint").write_bytes(at_300)
    assert monitor(world, url, tmp_path / "s").poll().size == 300
    with pytest.raises(StaticLogError, match="only 512 entries"):
        write_static_log(world.directory, world.entries, world.signed([*world.entries, b"x"]))
    with pytest.raises(StaticLogError, match="root"):
        write_static_log(world.directory, world.entries[:5], world.signed(world.entries[1:6]))


def test_config_errors(world: World, url: str, tmp_path: Path) -> None:
    with pytest.raises(MonitorConfigError, match="no log key"):
        Monitor(LogClient(url), tmp_path / "s")
    monitor(world, url, tmp_path / "s").close()
    with pytest.raises(MonitorConfigError, match="differs from the pinned"):
        Monitor(LogClient(url), tmp_path / "s", log_verifier=Signer.generate(ORIGIN).verifier())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "monitor.sqlite").write_bytes(b"not a database" * 100)
    with pytest.raises(MonitorConfigError, match="unusable"):
        Monitor(LogClient(url), tmp_path / "bad", log_verifier=world.log.verifier())


# ------------------------------------------------------------------ CLI


def test_cli_monitor_once(world: World, url: str, tmp_path: Path) -> None:
    world.alert("A-1")
    world.publish()
    runner = CliRunner()
    state = str(tmp_path / "cli-state")
    result = runner.invoke(main, ["monitor", url, "--state-dir", state, "--once"])
    assert result.exit_code == 2 and "no log key" in result.output
    key_file = tmp_path / "log.pub"
    key_file.write_text(world.log.verifier().vkey + "\n")
    result = runner.invoke(main, ["monitor", url, "--state-dir", state, "--once", "--log-key", str(key_file),
                                  "--origin", ORIGIN])
    assert result.exit_code == 0, result.output
    assert "verified size 2" in result.output
    world.publish(world.entries[:1])  # rollback
    evidence_file = tmp_path / "evidence.json"
    result = runner.invoke(main, ["monitor", url, "--state-dir", state, "--once",
                                  "--evidence", str(evidence_file)])
    assert result.exit_code == 1
    assert "rollback" in result.output and "Traceback" not in result.output
    assert json.loads(evidence_file.read_text())["kind"] == "rollback"
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = runner.invoke(main, ["monitor", dead, "--state-dir", state, "--once"])
    assert result.exit_code == 3 and "cannot read the log" in result.output
    result = runner.invoke(main, ["monitor", url, "--state-dir", str(tmp_path / "x"), "--log-key", "nope"])
    assert result.exit_code == 2 and "error:" in result.output
