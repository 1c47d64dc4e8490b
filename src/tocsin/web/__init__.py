"""The live map and public pages (issue 6), served by ``tocsin serve`` at ``/``.

Mounted by :func:`tocsin.assemble.build_app`; see :mod:`tocsin.web.routes`
and ``docs/web.md``. Everything the browser runs is plain files under
``static/`` (no build step); Leaflet is vendored, never fetched from a CDN.

``web_routes`` is imported lazily so ``python -m tocsin.web.geometry`` (the
layer builder) runs without first importing the Starlette routes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tocsin.web.routes import web_routes

__all__ = ["web_routes"]


def __getattr__(name: str) -> Any:
    if name == "web_routes":
        from tocsin.web.routes import web_routes

        return web_routes
    raise AttributeError(f"module 'tocsin.web' has no attribute {name!r}")
