"""Composition: the one place that puts a hub process together from its parts.

:func:`build_app` mounts every adapter — the HTTP API, the check, the web pages, the
alerts.in.ua-compatible API — around a :class:`~tocsin.runtime.Hub`. ``tocsin serve`` and the
tests that need the real route table both use it, so the OpenAPI test sees exactly what a
running hub serves.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount

from tocsin.api.app import create_app
from tocsin.api.check_routes import check_routes
from tocsin.api.email_routes import email_routes
from tocsin.api.org_routes import org_routes
from tocsin.api.push_routes import push_routes
from tocsin.api.webhook_routes import webhook_routes
from tocsin.api.websub_routes import websub_routes
from tocsin.compat.alerts_in_ua_routes import alerts_in_ua_routes
from tocsin.follow.routes import relay_routes
from tocsin.runtime import Hub, WriterOnly
from tocsin.services.witness_http import witness_app
from tocsin.web import web_routes


def build_app(hub: Hub) -> Starlette:
    """The hub's ASGI app with every adapter's routes (the web pages' catch-all defers to
    the routes after it)."""
    factories: list[Callable[[Hub], list[BaseRoute]]] = [
        check_routes,
        push_routes,  # Web Push API, /sw.js and the manifest (docs/push.md)
        relay_routes,  # alerts relayed from followed feeds (docs/federation.md)
        webhook_routes,  # webhooks (docs/webhooks.md)
        websub_routes,  # the WebSub hub of the Atom feeds (docs/webhooks.md)
        org_routes,  # organisations: admin API, pages, check-in links (docs/organisations.md)
        email_routes,  # email alerts: subscribe, confirm, unsubscribe (docs/email.md)
        web_routes,
        alerts_in_ua_routes,  # also at the root of compat_port, if set (compat_listener)
    ]
    routes: list[BaseRoute] = []
    for factory in factories:
        try:
            routes.extend(factory(hub))
        except WriterOnly:
            if hub.edge is None:
                raise
            # An edge: these paths go to the writer (tocsin.bus.handover), nothing to mount.
    if hub.local_witness is not None:  # the demo's own witness
        routes.append(Mount("/witness", app=witness_app(hub.local_witness)))
    return create_app(hub, routes)
