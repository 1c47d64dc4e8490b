"""``tocsin serve``: run the hub (one process, SQLite, in-process fan-out)."""

from __future__ import annotations

from pathlib import Path

import click

from tocsin.cli import main
from tocsin.cli.common import fail, stdout
from tocsin.config import SettingsError, load_settings
from tocsin.trust.registry import RegistryError

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
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve(host: str | None, port: int | None, data_dir: Path | None, demo: bool | None,
          registry: Path | None, config_file: Path | None, log_level: str) -> None:
    """Run the hub: issue, store, log and deliver alerts."""
    import uvicorn

    from tocsin.api.app import create_app
    from tocsin.api.check_routes import check_routes
    from tocsin.api.push_routes import push_routes
    from tocsin.api.server import StreamingHttpProtocol
    from tocsin.cli.common import load_regions
    from tocsin.compat.alerts_in_ua_routes import alerts_in_ua_routes, compat_listener
    from tocsin.demo import DEMO_ISSUERS, demo_key_path, ensure_demo
    from tocsin.runtime import Hub
    from tocsin.web import web_routes

    try:
        settings = load_settings(
            {"host": host, "port": port, "data_dir": data_dir, "demo": demo, "registry": registry},
            config_file=config_file,
        )
    except SettingsError as exc:
        fail(str(exc))
    regions = load_regions(settings.regions)
    registry_path = settings.registry or settings.data_dir / "registry.json"
    if settings.demo:
        registry_path = ensure_demo(settings.data_dir, regions)
    if not registry_path.exists():
        fail(f"no issuer registry at {registry_path}; pass --registry FILE, or --demo for demo issuers")
    try:
        hub = Hub(settings, registry_bytes=registry_path.read_bytes(), registry_path=registry_path,
                  regions=regions)
    except RegistryError as exc:
        fail(f"{registry_path}: {exc}")
    except OSError as exc:
        fail(f"cannot open the data directory {settings.data_dir}: {exc}")
    except (ValueError, SettingsError) as exc:  # a log key not matching its log, a bad vapid.key
        fail(f"{settings.data_dir}: {exc}")
    url = f"http://{settings.host}:{settings.port}"
    stdout.print(f"Tocsin hub on {url}  (data: {settings.data_dir.resolve()})")
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
    hub.add_routes(check_routes)
    hub.add_routes(push_routes)
    hub.add_routes(web_routes)
    hub.add_routes(alerts_in_ua_routes)  # also at the root of compat_port, if set (compat_listener)
    # Live streams never end by themselves: on shutdown give them a moment, then close them
    # (clients reconnect and resume from their last event id).
    uvicorn.run(compat_listener(create_app(hub), hub), host=settings.host, port=settings.port,
                log_level=log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECS,
                http=StreamingHttpProtocol, access_log=False, lifespan="on")
