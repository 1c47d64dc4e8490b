"""``tocsin serve``: run the hub (one process, SQLite or PostgreSQL, in-process fan-out)."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stdout
from tocsin.config import SettingsError, load_settings
from tocsin.trust.registry import RegistryError, load_registry

SHUTDOWN_GRACE_SECS = 2


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="TCP port (default 8000).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the database and keys live (default ./data).")
@click.option("--demo", is_flag=True, default=None,
              help="Create demo issuers and their keys on first run.")
@click.option("--registry", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Signed issuer registry (default DATA_DIR/registry.json).")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="TOML settings file (see docs/configuration.md).")
@click.option("--public-url", default=None,
              help="Public base URL for links in feeds (default: http://HOST:PORT).")
@click.option("--store", default=None, metavar="URL",
              help="PostgreSQL URL (postgresql://user@host/db) for a shared store; default: SQLite "
                   "in the data directory.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str | None, port: int | None, data_dir: Path | None, demo: bool | None,
          registry: Path | None, config_file: Path | None, public_url: str | None,
          store: str | None, log_level: str) -> None:
    """Run the hub: issue, store, log and deliver alerts."""
    import uvicorn

    from tocsin.api.server import ClosingServer, StreamingHttpProtocol
    from tocsin.assemble import build_app
    from tocsin.cli.common import load_regions
    from tocsin.compat.alerts_in_ua_routes import compat_listener
    from tocsin.demo import DEMO_ISSUERS, demo_key_path, ensure_demo
    from tocsin.runtime import Hub
    from tocsin.store.backend import preflight_store
    from tocsin.store.integrity import StartupRefused, preflight
    from tocsin.tlog.checkpoint import CosignatureError
    from tocsin.trust.note import NoteError

    try:
        settings = load_settings(
            {"host": host, "port": port, "data_dir": data_dir, "demo": demo, "registry": registry,
             "public_url": public_url, "store": store},
            config_file=config_file,
        )
    except SettingsError as exc:
        fail(str(exc))
    regions = load_regions(settings.regions)
    registry_path = settings.registry or settings.data_dir / "registry.json"
    try:  # before anything is written, demo files included: a refusal writes nothing
        preflight(settings.data_dir, settings.log_origin, shared_store=bool(settings.store))
        preflight_store(settings)  # a PostgreSQL store: does it hold this directory's log?
    except StartupRefused as exc:
        fail(escape(str(exc)))
    pinned = settings.data_dir / "registry-root.pub"
    if settings.demo and not registry_path.exists() and pinned.exists():
        fail(escape(f"{registry_path} is missing but {pinned} pins a registry: restore registry.json "
                    "from a backup (a new demo registry would replace the demo issuers' keys)"))
    if settings.demo:
        registry_path = ensure_demo(settings.data_dir, regions)
    if not registry_path.exists():
        fail(f"no issuer registry at {registry_path}; pass --registry FILE, or --demo for demo issuers")
    try:  # read before the store is opened: a refusal writes nothing, not even a WAL fold
        load_registry(registry_path.read_bytes())
    except (OSError, RegistryError) as exc:
        fail(escape(f"{registry_path}: {exc}"))
    try:
        hub = Hub(settings, registry_bytes=registry_path.read_bytes(), registry_path=registry_path,
                  regions=regions, checked=True)
    except StartupRefused as exc:
        fail(escape(str(exc)))
    except (NoteError, CosignatureError) as exc:  # e.g. the demo witness's key file
        fail(escape(f"{settings.data_dir}: a key file cannot be read ({exc}); restore it from a backup"))
    except sqlite3.DatabaseError as exc:  # e.g. the demo witness's database
        fail(escape(f"{settings.data_dir}: a database cannot be read ({exc}); run `tocsin store check "
                    f"{settings.data_dir}`"))
    except RegistryError as exc:
        fail(f"{registry_path}: {exc}")
    except OSError as exc:
        fail(f"cannot open the data directory {settings.data_dir}: {exc}")
    except (ValueError, SettingsError) as exc:  # a log key not matching its log, a bad vapid.key
        fail(f"{settings.data_dir}: {exc}")
    url = f"http://{settings.host}:{settings.port}"
    stdout.print(f"Tocsin hub on {url}  (data: {settings.data_dir.resolve()})")
    if settings.store:
        from tocsin.store.postgres import redacted

        stdout.print(f"Store: {redacted(settings.store)} (this process leads its writers)")
    stdout.print(f"Live map: {url}/   Check a message: {url}/check   API: {url}/api/v1/openapi.json")
    if settings.demo:
        key = demo_key_path(settings.data_dir, DEMO_ISSUERS[0].id)
        stdout.print("Demo issuers: " + ", ".join(d.id for d in DEMO_ISSUERS))
        stdout.print("Watch Kyiv from another terminal:")
        stdout.print(f"  curl -N '{url}/api/v1/stream?regions=UA80000000000093317'")
        stdout.print("Issue an air-raid alert for Kyiv:")
        stdout.print(f"  tocsin issue --hub {url} --key {key} --as {DEMO_ISSUERS[0].id} "
                     "--event 'Повітряна тривога' --area UA80000000000093317 "
                     "--instruction 'Негайно прямуйте до укриття'")
    # Live streams never end by themselves: on shutdown the hub ends them first (a clean end
    # of stream; clients reconnect and resume from their last event id), then uvicorn waits
    # for what is left (ClosingServer). The client is the TCP peer: uvicorn's own
    # X-Forwarded-For handling is off (Settings.trusted_proxies decides).
    server = ClosingServer(uvicorn.Config(
        compat_listener(build_app(hub), hub), host=settings.host, port=settings.port,
        log_level=log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECS,
        http=StreamingHttpProtocol.with_timeouts(settings.header_timeout_secs),
        proxy_headers=False, access_log=False, lifespan="on"), hub.close_streams)
    server.run()
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the start-up failed (its error is logged)
