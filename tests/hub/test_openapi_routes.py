"""The OpenAPI document lists every machine-readable route a real hub mounts — no more, no less.

The app is built by the same composition ``tocsin serve`` uses (``tocsin.assemble``), so a
route added by any adapter (the check, the web pages' JSON, the compat API) is seen here.
Pages for people (HTML) are listed by name below; anything else must be in the document.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from tocsin.api.openapi import openapi_document
from tocsin.assemble import build_app
from tocsin.config import Settings
from tocsin.demo import ensure_demo
from tocsin.regions import default_region_set
from tocsin.runtime import Hub

HTML_PAGES = {"/", "/alerts/{alert_id}", "/regions/{code}", "/issuers", "/issuers/{issuer_id}",
              "/about", "/favicon.ico", "/check", "/check/{name}", "/{path}",
              "/relayed/{alert_id}",
              "/org", "/org/login", "/org/enrol/{token}", "/org/c/{message}/{token}"}  # organisations
MOUNTED_APPS = {"/static", "/witness"}  # static files; the demo witness (C2SP tlog-witness)


def _paths(routes: list[BaseRoute]) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            assert route.path in MOUNTED_APPS, f"unexpected mount {route.path}"
        elif isinstance(route, (Route, WebSocketRoute)):
            found.add(re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path))
    return found


def test_openapi_lists_every_mounted_route(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", demo=True)
    registry = ensure_demo(settings.data_dir, default_region_set())
    hub = Hub(settings, registry_bytes=registry.read_bytes(), registry_path=registry)
    app = build_app(hub)
    mounted = _paths(app.routes) - HTML_PAGES
    documented = set(openapi_document()["paths"])
    assert sorted(mounted - documented) == [], "routes the OpenAPI document does not describe"
    assert sorted(documented - mounted) == [], "documented paths no hub serves"
