"""``tocsin verify``: the offline verdict on one alert. Exit codes are the verdict.

0 authentic, 3 altered, 4 forged, 5 unauthorised, 2 unusable input, and with
``--proof``: 6 when the signature is authentic but the proof bundle does not
show the alert in the log (bad checkpoint signature, missing witness quorum,
or an inclusion proof that does not lead to the signed root).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import (
    fail,
    load_regions,
    read_input_file,
    read_log_key,
    read_policy,
    regions_option,
    stderr,
    stdout,
)
from tocsin.trust.keyfiles import KeyFileError, read_verifier
from tocsin.trust.registry import RegistryError, load_registry, parse_time
from tocsin.trust.verify import VerifyInputError, verify_alert

EXIT_BY_STATUS = {"authentic": 0, "altered": 3, "forged": 4, "unauthorised": 5}
EXIT_NOT_LOGGED = 6
STYLE_BY_STATUS = {"authentic": "bold green", "altered": "bold red", "forged": "bold red",
                   "unauthorised": "bold yellow"}


@main.command("verify")
@click.argument("cap_file", type=click.Path(path_type=Path))
@click.option("--sig", "sig_file", type=click.Path(path_type=Path), default=None,
              help="The signed statement (default: CAP_FILE.sig).")
@click.option("--registry", "registry_file", required=True, type=click.Path(path_type=Path),
              help="The signed issuer registry (JSON).")
@click.option("--root", "root_file", type=click.Path(path_type=Path), default=None,
              help="Pin the registry root public key (.pub); strongly recommended.")
@click.option("--at", "at_text", default=None,
              help="When the alert was first seen (RFC 3339); refuses keys revoked by then.")
@click.option("--proof", "proof_file", type=click.Path(path_type=Path), default=None,
              help="A C2SP tlog-proof bundle: also check the alert is in the log.")
@click.option("--log-key", "log_key", default=None,
              help="The log's public key (.pub file or vkey text); required with --proof "
                   "unless the policy names it.")
@click.option("--origin", default=None,
              help="The log origin (default: the log key's name).")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), default=None,
              help="Witness policy (k-of-n cosignatures) the checkpoint must satisfy.")
@regions_option
def verify(cap_file: Path, sig_file: Path | None, registry_file: Path, root_file: Path | None,
           at_text: str | None, proof_file: Path | None, log_key: str | None,
           origin: str | None, policy_file: Path | None, regions_dir: Path | None = None) -> None:
    """Verify CAP_FILE against its signed statement and the issuer registry."""
    cap_bytes = read_input_file(str(cap_file))
    sig_path = sig_file or cap_file.with_name(cap_file.name + ".sig")
    statement = read_input_file(str(sig_path), limit=64 * 1024)
    registry_bytes = read_input_file(str(registry_file))
    try:
        at: datetime | None = parse_time(at_text, "--at") if at_text is not None else None
    except RegistryError as exc:
        fail(escape(str(exc)))
    try:
        root = read_verifier(root_file) if root_file is not None else None
    except KeyFileError as exc:
        fail(escape(str(exc)))
    try:
        registry = load_registry(registry_bytes, root=root)
    except RegistryError as exc:
        fail(escape(f"{registry_file}: {exc}"))
    if root is None:
        stderr.print("warning: registry root key not pinned (--root); the registry's "
                     "integrity was checked, not who signed it")
    try:
        verdict = verify_alert(cap_bytes, statement, registry, regions=load_regions(regions_dir),
                               at=at)
    except VerifyInputError as exc:
        fail(escape(f"{sig_path}: {exc}"))
    style = STYLE_BY_STATUS[verdict.status]
    stdout.print(f"[{style}]{verdict.status}[/]: {escape(verdict.reason)}", markup=True)
    if proof_file is not None and verdict.status == "authentic":
        _check_proof(proof_file, cap_bytes, statement, log_key, origin, policy_file)
    raise click.exceptions.Exit(EXIT_BY_STATUS[verdict.status])


def _check_proof(proof_file: Path, cap: bytes, statement: bytes, log_key: str | None,
                 origin: str | None, policy_file: Path | None) -> None:
    """Check the bundle offline; exit 6 if it does not prove the alert is logged."""
    from tocsin.tlog.entry import EntryError, alert_entry
    from tocsin.tlog.proof import PolicyError, ProofBundleError, ProofVerificationError, verify_proof_bundle

    bundle = read_input_file(str(proof_file), limit=256 * 1024)
    policy = read_policy(policy_file) if policy_file is not None else None
    verifier = read_log_key(log_key) if log_key is not None else None
    if verifier is None and (policy is None or not policy.logs):
        fail("--proof needs the log's key: --log-key PUB, or a --policy with a 'log' line")
    if origin is None:
        names = {verifier.name} if verifier is not None else {v.name for v in policy.logs}  # type: ignore[union-attr]
        if len(names) != 1:
            fail("give --origin: the log key names do not decide it")
        origin = names.pop()
    try:
        entry = alert_entry(statement, cap)
        proven = verify_proof_bundle(bundle, origin=origin, entry=entry, log_verifier=verifier,
                                     policy=policy)
    except ProofBundleError as exc:
        fail(escape(f"{proof_file}: {exc}"))
    except (ProofVerificationError, PolicyError, EntryError) as exc:
        stdout.print(f"[bold red]not logged[/]: {escape(str(exc))}", markup=True)
        raise click.exceptions.Exit(EXIT_NOT_LOGGED) from None
    witnesses = f", cosigned by {len(proven.cosignatures)} witness(es)" if proven.cosignatures else ""
    stdout.print(f"[bold green]logged[/]: entry {proven.index} of {escape(origin)} "
                 f"(checkpoint size {proven.checkpoint.size}{witnesses})", markup=True)
