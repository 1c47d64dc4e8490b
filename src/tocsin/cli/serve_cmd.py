"""``tocsin serve``: run the hub — one process by default; a writer, edges or both (docs/deploy.md)."""

from __future__ import annotations

import sqlite3
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape

from tocsin.cli import main
from tocsin.cli.common import fail, stdout
from tocsin.config import Settings, SettingsError, load_settings
from tocsin.trust.registry import RegistryError, load_registry

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.types import ASGIApp

    from tocsin.bus.standby import StandbyWriter
    from tocsin.bus.workers import Workers
    from tocsin.regions import RegionSet
    from tocsin.runtime import Hub
    from tocsin.store.base import Store

SHUTDOWN_GRACE_SECS = 2
#: A writer that stopped itself: another writer's epoch superseded it, or a standby could not
#: open the log it took the lead of (systemd's Restart= starts it again, as a standby).
EXIT_SUPERSEDED = 4


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
@click.option("--bus", default=None, help="NATS URL(s) for the doorbell, e.g. nats://127.0.0.1:4222.")
@click.option("--role", type=click.Choice(["all", "writer", "edge"]), default=None,
              help="all (default: one process), writer, or edge (docs/deploy.md).")
@click.option("--workers", type=int, default=None,
              help="Run N edge processes on the one port (SO_REUSEPORT) plus the writer.")
@click.option("--writer-url", default=None,
              help="Edge: where to hand writes (default: DATA_DIR/writer.url, written by the writer).")
def serve(host: str | None, port: int | None, data_dir: Path | None, demo: bool | None,
          registry: Path | None, config_file: Path | None, public_url: str | None,
          store: str | None, log_level: str, bus: str | None, role: str | None,
          workers: int | None, writer_url: str | None) -> None:
    """Run the hub: issue, store, log and deliver alerts."""
    import uvicorn

    from tocsin.api.server import ClosingServer, StreamingHttpProtocol
    from tocsin.assemble import build_app
    from tocsin.cli.common import load_regions
    from tocsin.compat.alerts_in_ua_routes import compat_listener
    from tocsin.demo import DEMO_ISSUERS, demo_key_path, ensure_demo
    from tocsin.runtime import Hub
    from tocsin.store.backend import AnotherWriterLeads, preflight_store
    from tocsin.store.integrity import StartupRefused, preflight
    from tocsin.tlog.checkpoint import CosignatureError
    from tocsin.trust.note import NoteError

    try:
        settings = load_settings(
            {"host": host, "port": port, "data_dir": data_dir, "demo": demo, "registry": registry,
             "public_url": public_url, "store": store, "bus": bus, "role": role,
             "workers": workers, "writer_url": writer_url},
            config_file=config_file,
        )
    except SettingsError as exc:
        fail(str(exc))
    regions = load_regions(settings.regions)
    if settings.role == "edge":
        _serve_edge(settings, regions, log_level)
        return
    edges = None
    if settings.workers:
        settings, edges = _workers(settings, config_file, log_level)
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
    stopped: list[str] = []  # why this writer stopped itself (superseded, or a failed takeover)
    server: ClosingServer | None = None

    def stop_writer(reason: str) -> None:  # on the event loop
        stopped.append(reason)
        if server is not None:
            server.should_exit = True

    def open_hub(store: Store | None = None) -> Hub:
        opened = Hub(settings, registry_bytes=registry_path.read_bytes(),
                     registry_path=registry_path, regions=regions, checked=True, store=store)
        opened.on_superseded = lambda: stop_writer(
            "another writer leads the store now: this writer stopped (start it again to wait "
            "as a standby)")
        return opened

    standby: StandbyWriter | None = None
    try:
        hub: Hub | None = open_hub()
    except AnotherWriterLeads as exc:
        if settings.role != "writer":
            fail(escape(str(exc)))
        hub, standby = None, _standby(settings, regions, open_hub, stop_writer)
        stdout.print(escape(f"Standby: {exc}; this writer waits to take over"))
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
    url = settings.base_url if edges is not None else f"http://{settings.host}:{settings.port}"
    stdout.print(f"Tocsin hub on {url}  (data: {settings.data_dir.resolve()})")
    if edges is not None:
        stdout.print(f"{edges.count} edge processes on that port, the writer on "
                     f"http://127.0.0.1:{settings.port}; doorbell: "
                     f"{settings.bus or f'none (edges poll every {settings.bus_poll_secs:g} s)'}")
    if settings.store and standby is None:
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
    if standby is not None:
        app: ASGIApp = standby
        closing = standby.close_streams
    else:
        assert hub is not None
        app, closing = compat_listener(build_app(hub), hub), hub.close_streams
    server = ClosingServer(uvicorn.Config(
        app, host=settings.host, port=settings.port,
        log_level=log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECS,
        http=StreamingHttpProtocol.with_timeouts(settings.header_timeout_secs),
        proxy_headers=False, access_log=False, lifespan="on"),
        closing)
    if edges is not None:
        import threading

        def start_edges() -> None:  # once the writer listens and has said where
            while not server.started and not server.should_exit:
                time.sleep(0.05)  # uvicorn has no start callback; a flag set once
            if server.started:
                edges.start()

        threading.Thread(target=start_edges, name="tocsin-workers", daemon=True).start()
    try:
        server.run()
    finally:
        if edges is not None:
            edges.stop()
    if stopped:
        fail(escape(stopped[0]), code=EXIT_SUPERSEDED)
    if not server.started:
        sys.exit(3)  # as uvicorn.run: the start-up failed (its error is logged)


def _standby(settings: Settings, regions: RegionSet, open_hub: Callable[[Store], Hub],
             stop_writer: Callable[[str], None]) -> StandbyWriter:
    """A writer that waits for the store's lead, then opens as ``open_hub`` opens it."""
    from tocsin.assemble import build_app
    from tocsin.bus.standby import StandbyWriter
    from tocsin.ledger.effects import state_rules
    from tocsin.store.base import StorageUnavailable
    from tocsin.store.postgres import PostgresStore

    def ancestors(code: str) -> list[str]:
        return [r.code for r in regions.ancestors(code)]

    try:
        store = PostgresStore(settings.store, rules=state_rules(ancestors))
    except StorageUnavailable as exc:
        fail(escape(f"the store cannot be used ({exc})"))
    return StandbyWriter(store, open_hub=open_hub, build_app=build_app,
                         on_failed=lambda why: stop_writer(f"the standby could not take over: {why}"))


def _workers(settings: Settings, config_file: Path | None, log_level: str
             ) -> tuple[Settings, Workers]:
    """The writer's settings beside ``--workers N`` edges, and the edges to start.

    The edges take the public host and port; the writer moves to a private 127.0.0.1 port
    they hand writes to, trusts them (127.0.0.1) as proxies, and keeps the public URL for links.
    """
    import socket

    from tocsin.bus.workers import Workers

    with socket.socket() as probe:  # a free private port for the writer
        probe.bind(("127.0.0.1", 0))
        private = int(probe.getsockname()[1])
    argv = ["serve", "--role", "edge", "--workers", "0", "--host", settings.host, "--port",
            str(settings.port), "--data-dir", str(settings.data_dir), "--writer-url",
            f"http://127.0.0.1:{private}", "--log-level", log_level]
    if settings.bus:
        argv += ["--bus", settings.bus]
    if config_file is not None:
        argv += ["--config", str(config_file)]
    proxies = ",".join(p for p in (settings.trusted_proxies, "127.0.0.1") if p)
    writer = replace(settings, host="127.0.0.1", port=private, public_url=settings.base_url,
                     trusted_proxies=proxies, compat_port=0).validated()
    env = {"TOCSIN_STORE": settings.store} if settings.store else {}
    return writer, Workers(argv, settings.workers, env)


def _leader_url(store: Store) -> Callable[[], str | None] | None:
    """How an edge asks a shared store where its leader takes writes (None: SQLite)."""
    from tocsin.store.base import Leadership

    return store.leader_url if isinstance(store, Leadership) else None


def _serve_edge(settings: Settings, regions: RegionSet, log_level: str) -> None:
    """An edge: reads and streams from the store, hands writes to the writer."""
    import uvicorn

    from tocsin.api.server import ClosingServer, StreamingHttpProtocol
    from tocsin.assemble import build_app
    from tocsin.bus.handover import Handover, WriterAddress
    from tocsin.bus.workers import reuse_port_socket
    from tocsin.compat.alerts_in_ua_routes import compat_listener
    from tocsin.runtime import Hub
    from tocsin.store.integrity import StartupRefused

    try:
        hub = Hub(settings, regions=regions)
    except (StartupRefused, RegistryError, SettingsError) as exc:
        fail(escape(str(exc)))
    app = Handover(compat_listener(build_app(hub), hub),
                   writer=WriterAddress(settings.writer_url, settings.data_dir,
                                        leader=_leader_url(hub.store)),
                   trusted_proxies=settings.proxy_addresses,
                   max_body_bytes=settings.max_body_bytes,
                   body_timeout_secs=settings.body_timeout_secs)
    try:
        sock = reuse_port_socket(settings.host, settings.port)
    except OSError as exc:
        fail(f"cannot listen on {settings.host}:{settings.port}: {exc}")
    where = "the store" if settings.store else str(settings.db_path)
    stdout.print(f"Tocsin edge on http://{settings.host}:{settings.port}  (store: {where}, bus: "
                 f"{settings.bus or 'none, polling'}, writes to: "
                 f"{settings.writer_url or settings.data_dir / 'writer.url'})")
    server = ClosingServer(uvicorn.Config(
        app, log_level=log_level, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECS,
        http=StreamingHttpProtocol.with_timeouts(settings.header_timeout_secs),
        proxy_headers=False, access_log=False, lifespan="on"), hub.close_streams)
    server.run(sockets=[sock])
    if not server.started:
        sys.exit(3)
