"""``tocsin follow URL``: add a feed to the hub's followed-feeds file (docs/federation.md).

Trust is given here, on the command line, and written to the file: a Tocsin hub is
followed with ``--registry-root`` and ``--log-key`` (from that hub's operator, never from
the feed), a CAP feed optionally with ``--cert`` files for its XML signatures. The entry
is checked exactly as the hub will read it before anything is written. The hub reads the
file when it starts. Exit codes: 0 added, 2 unusable input (nothing written).

``--once`` polls the feed once, now, with the same follower the hub runs, prints each
alert with the words the hub would show and each refusal, and writes nothing: exit 0 if
the feed was read, 1 if the feed itself was refused (the reason printed).
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stdout
from tocsin.config import Settings, SettingsError, load_settings
from tocsin.follow.config import FollowedFeed


@main.command("follow")
@click.argument("url")
@click.option("--name", default=None, help="Name shown with its alerts (default: the URL's host).")
@click.option("--registry-root", "registry_root", default=None,
              help="A Tocsin hub's registry root key (.pub file or vkey text): follow it as a hub.")
@click.option("--log-key", "log_key", default=None,
              help="That hub's log key (.pub file or vkey text); required with --registry-root.")
@click.option("--origin", default=None, help="That hub's log origin (default: the log key's name).")
@click.option("--policy", "policy_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Witness policy the hub's checkpoints must satisfy (k-of-n cosignatures).")
@click.option("--cert", "certs", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="A PEM certificate a CAP feed's XML signatures may verify against (repeatable).")
@click.option("--interval", "interval", type=float, default=60.0, show_default=True,
              help="Seconds between polls (1..3600).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The hub's data directory (the file is DATA_DIR/follows.toml unless 'follows' is set).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The hub's TOML settings file.")
@click.option("--once", is_flag=True, default=False,
              help="Poll the feed once now and print what the hub would show; write nothing.")
def follow(url: str, name: str | None, registry_root: str | None, log_key: str | None,
           origin: str | None, policy_file: Path | None, certs: tuple[Path, ...], interval: float,
           data_dir: Path | None, config_file: Path | None, once: bool) -> None:
    """Follow the CAP Atom feed at URL (another Tocsin hub's /feeds/alerts.atom, or any CAP feed)."""
    from tocsin.follow.config import FollowConfigError, feed_from_table, load_follows

    try:
        settings = load_settings({"data_dir": data_dir}, config_file=config_file)
    except SettingsError as exc:
        fail(escape(str(exc)))
    path = settings.follows_path
    table: dict[str, object] = {"name": name or (urlsplit(url).hostname or "feed"), "url": url,
                                "kind": "tocsin" if registry_root or log_key else "cap",
                                "interval_secs": interval}
    for key, value in (("registry_root", _key_text(registry_root)), ("log_key", _key_text(log_key)),
                       ("origin", origin)):
        if value is not None:
            table[key] = value
    if policy_file is not None:
        table["witness_policy"] = str(policy_file.resolve())
    if certs:
        table["certificates"] = [str(c.resolve()) for c in certs]
    try:
        existing = load_follows(path)
        feed = feed_from_table(table, path.parent, len(existing))
    except FollowConfigError as exc:
        fail(escape(str(exc)))
    if once:
        _poll_once(feed, settings)
    if any(f.name == feed.name for f in existing):
        fail(escape(f"{path}: a feed named {feed.name!r} is already followed (give --name)"))
    text = feed.as_toml(policy_path=table.get("witness_policy"),  # type: ignore[arg-type]
                        cert_paths=tuple(table.get("certificates", ())))  # type: ignore[arg-type]
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    new = (old.rstrip("\n") + "\n\n" if old.strip() else "") + text
    tomllib.loads(new)  # what is written reads back
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, path)
    trust = ("registry root and log key" + (" and witness policy" if feed.witness_policy else "")
             if feed.kind == "tocsin" else
             f"{len(feed.certificates)} certificate(s)" if feed.certificates else
             "nothing: its alerts are shown as relayed, unverified")
    stdout.print(f"following {escape(feed.name)} ({feed.kind}) at {escape(feed.url)}, trusting "
                 f"{escape(trust)}; written to {escape(str(path))} (read when the hub starts)")


def _key_text(value: str | None) -> str | None:
    """A key option as vkey text (a ``.pub`` file is read)."""
    if value is None:
        return None
    path = Path(value)
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    return value


def _poll_once(feed: FollowedFeed, settings: Settings) -> None:
    """One poll into a throw-away store; print every verdict; exit 0, or 1 if the feed failed."""
    import asyncio

    from prometheus_client import CollectorRegistry

    from tocsin.delivery.outbound import parse_allowed_hosts
    from tocsin.follow.fetch import new_client
    from tocsin.follow.follower import FeedFollower, FollowMetrics
    from tocsin.follow.store import RelayStore
    from tocsin.regions import region_set_for

    store = RelayStore(":memory:")
    follower = FeedFollower(feed, store=store, regions=region_set_for(settings.regions),
                            allowed_hosts=parse_allowed_hosts(settings.follow_allowed_hosts),
                            metrics=FollowMetrics(CollectorRegistry()),
                            max_sent_age_secs=settings.max_sent_age_secs)

    async def poll() -> None:
        async with new_client() as client:
            await follower.poll(client)

    asyncio.run(poll())
    for row in store.recent(limit=500):
        stdout.print(f"{escape(row['id'])}  {escape(row['words'])}: {escape(row['event'])}")
    for refusal in store.refusals(feed.name, limit=500):
        stdout.print(f"[bold red]refused[/] {escape(refusal['subject'])}: {escape(refusal['code'])}: "
                     f"{escape(refusal['reason'])}", markup=True)
    error = follower.status.last_error
    store.close()
    if error is not None:
        stdout.print(f"[bold red]feed refused[/]: {escape(error['code'])}: {escape(error['message'])}",
                     markup=True)
    raise click.exceptions.Exit(1 if error is not None else 0)
