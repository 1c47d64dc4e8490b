"""What a process's role changes: trust anchors of an edge, its health and its metrics.

Roles (``Settings.role``): ``all`` — one process does everything (the default); ``writer`` —
verifies, decides, commits, signs checkpoints, rings the doorbell, and says where it listens;
``edge`` — serves reads, streams, feeds, the map and the check from the store, and hands
writes to the writer (:mod:`tocsin.bus.handover`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from tocsin.store.integrity import StartupRefused
from tocsin.trust.note import NoteError, Verifier
from tocsin.trust.registry import RegistryError, load_registry

if TYPE_CHECKING:
    from tocsin.runtime import Hub

log = logging.getLogger("tocsin.roles")

#: An edge whose last look at the store is older than this many poll periods is not caught up.
STALE_POLLS = 3


def edge_registry_root(data_dir: Path, logged: bytes) -> Verifier:
    """The registry root an edge trusts: the writer's pin if this machine has it, else the
    root of the registry the store logged (the store is the writer's; an edge adds no trust)."""
    path = data_dir / "registry-root.pub"
    if path.exists():
        try:
            return Verifier.from_vkey(path.read_text(encoding="utf-8").strip())
        except (OSError, NoteError) as exc:
            raise RegistryError(f"{path}: not a verifier key ({exc})") from None
    return load_registry(logged).root


def edge_log_verifier(data_dir: Path) -> Verifier:
    """The log's public key, from ``DATA_DIR/log.pub`` (written beside the writer's log key)."""
    path = data_dir / "log.pub"
    try:
        return Verifier.from_vkey(path.read_text(encoding="utf-8").strip())
    except FileNotFoundError:
        raise StartupRefused(f"{path} is missing: an edge verifies checkpoints with the log's "
                             "public key; copy log.pub from the writer's data directory") from None
    except (OSError, NoteError) as exc:
        raise StartupRefused(f"{path}: not the log's public key ({exc})") from None


def writer_leads(hub: Hub) -> bool:
    """Whether this process is the writer that commits now: the one place leadership is read.

    With SQLite a writer process is the only one (the file has one writer); with PostgreSQL
    the hub's lease keeper (:class:`tocsin.store.lease.LeaseKeeper`) says whether it leads.
    """
    if not hub.settings.is_writer:
        return False
    return hub.lease.leading if hub.lease is not None else True


def health(hub: Hub) -> dict[str, Any]:
    """Role, whether this process is caught up with the store, and the bus, for /healthz."""
    settings = hub.settings
    data: dict[str, Any] = {"role": settings.role}
    edge = hub.edge
    if edge is not None:
        fresh = time.monotonic() - edge.last_poll <= STALE_POLLS * edge.poll_secs
        data["lag_events"] = edge.lag
        data["caught_up"] = edge.lag == 0 and fresh
        data["doorbells_missed"] = edge.doorbells_missed
    else:
        data["lag_events"] = 0
        data["caught_up"] = True  # the writer is the store's source
        data["leading"] = writer_leads(hub)
    doorbell = hub.doorbell
    data["bus"] = "off" if doorbell is None else (
        "connected" if doorbell.connected else "disconnected")
    return data


class RoleCollector(Collector):
    """Per-role metrics, read when scraped (no bookkeeping on the hot path)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        role = GaugeMetricFamily("tocsin_role", "This process's role (1 for its role)",
                                 labels=["role"])
        role.add_metric([hub.settings.role], 1)
        yield role
        edge = hub.edge
        yield GaugeMetricFamily("tocsin_store_lag_events",
                                "Committed events this process has not yet published",
                                value=0 if edge is None else edge.lag)
        yield CounterMetricFamily("tocsin_doorbells_missed",
                                  "Polls that found events no doorbell had announced",
                                  value=0 if edge is None else edge.doorbells_missed)
        doorbell = hub.doorbell
        yield CounterMetricFamily("tocsin_doorbells_heard", "Doorbell rings received",
                                  value=0 if doorbell is None else doorbell.rings_heard)
        yield CounterMetricFamily("tocsin_doorbells_rung", "Doorbell rings sent",
                                  value=0 if doorbell is None else doorbell.rings_sent)
        yield GaugeMetricFamily("tocsin_bus_connected", "1 while connected to NATS",
                                value=1 if doorbell is not None and doorbell.connected else 0)
        yield GaugeMetricFamily("tocsin_writer_leading", "1 while this process leads as writer",
                                value=1 if writer_leads(hub) else 0)


def register_role_metrics(hub: Hub) -> None:
    hub.metrics.registry.register(RoleCollector(hub))
