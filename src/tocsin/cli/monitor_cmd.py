"""``tocsin monitor URL``: follow a hub's transparency log and prove any misbehaviour.

Exit codes: 0 the log verified (``--once``); 1 the log misbehaved - portable
evidence JSON is printed on stdout (and written to ``--evidence FILE``);
2 unusable arguments, key or state; 3 the log could not be read (``--once``;
without it, read failures are reported and retried at the next interval).
"""

from __future__ import annotations

import json
import time
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
)
from tocsin.services.log_client import LogClient, LogClientError
from tocsin.services.monitor import MisbehaviourError, Monitor, MonitorConfigError

EXIT_MISBEHAVIOUR = 1
EXIT_UNREACHABLE = 3


@main.command("monitor")
@click.argument("url")
@click.option("--state-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("tocsin-monitor"),
              show_default=True, help="Where the monitor keeps what it verified (SQLite).")
@click.option("--log-key", default=None,
              help="The log's verifier key (vkey or .pub file); required on the first run, then pinned.")
@click.option("--origin", default=None, help="The log's origin line (default: the log key's name).")
@click.option("--registry", "registry_file", type=click.Path(path_type=Path), default=None,
              help="A signed issuer registry to start from; its root key is pinned for registry entries.")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path), default=None,
              help="A witness policy file: every checkpoint must carry its quorum of cosignatures.")
@click.option("--once", is_flag=True, help="Poll once and exit with the result.")
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(min=0.5),
              help="Seconds between polls.")
@click.option("--evidence", "evidence_file", type=click.Path(path_type=Path), default=None,
              help="Also write the evidence JSON to this file when the log misbehaves.")
@regions_option
def monitor(url: str, state_dir: Path, log_key: str | None, origin: str | None, registry_file: Path | None,
            policy_file: Path | None, once: bool, interval: float, evidence_file: Path | None,
            regions_dir: Path | None = None) -> None:
    """Verify every checkpoint and entry of the log at URL, and keep following it."""
    registry = read_input_file(str(registry_file)) if registry_file is not None else None
    policy = read_policy(policy_file) if policy_file is not None else None
    log_verifier = read_log_key(log_key) if log_key is not None else None
    client = LogClient(url)
    try:
        watcher = Monitor(client, state_dir, log_verifier=log_verifier, origin=origin,
                          registry=registry, regions=load_regions(regions_dir), policy=policy)
    except MonitorConfigError as exc:
        fail(escape(str(exc)))
    except OSError as exc:
        fail(escape(f"{state_dir}: cannot use the state directory ({exc.strerror or exc})"))
    try:
        while True:
            try:
                result = watcher.poll()
            except LogClientError as exc:
                if once:
                    fail(escape(f"cannot read the log: {exc}"), EXIT_UNREACHABLE)
                stderr.print(f"warning: cannot read the log: {escape(str(exc))}; retrying")
            except MonitorConfigError as exc:
                fail(escape(str(exc)))
            except MisbehaviourError as exc:
                document = json.dumps(exc.evidence, indent=2, ensure_ascii=False)
                click.echo(document)
                if evidence_file is not None:
                    evidence_file.write_text(document + "\n", encoding="utf-8")
                fail(escape(f"the log misbehaved ({exc.kind}): {exc.reason}"), EXIT_MISBEHAVIOUR)
            else:
                stderr.print(f"verified size {result.size} (+{result.size - result.old_size} entries: "
                             f"{result.alerts} alert(s), {result.registries} registry version(s))")
            if once:
                return
            time.sleep(interval)
    finally:
        watcher.close()
        client.close()
