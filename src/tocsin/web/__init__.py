"""The live map and public pages (issue 6), served by ``tocsin serve`` at ``/``.

Register with ``hub.add_routes(web_routes)``; see :mod:`tocsin.web.routes`
and ``docs/web.md``. Everything the browser runs is plain files under
``static/`` (no build step); Leaflet is vendored, never fetched from a CDN.
"""

from tocsin.web.routes import web_routes

__all__ = ["web_routes"]
