"""CAP Atom feeds: one for everything, one per region (the OASIS "CAP feeds" practice).

Each entry links to the exact signed CAP document (``rel="alternate"``,
``type="application/cap+xml"``), so existing aggregators can consume Tocsin
without knowing anything else about it. Built with lxml, so every text is
escaped correctly whatever an issuer wrote. Entries are made from alert views
(:mod:`tocsin.api.views`): each carries its class as an Atom ``category``
(scheme ``urn:tocsin:class``) and says in its summary whether it is in force or
how it ended ("ended by ID at TIME", "cancelled …", "expired at TIME"). A feed names its
WebSub hub (``rel="hub"``), so readers can be pushed new entries instead of polling.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from lxml import etree

ATOM_NS = "http://www.w3.org/2005/Atom"
CLASS_SCHEME = "urn:tocsin:class"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def state_words(view: dict[str, Any]) -> str:
    """Whether the alert is in force, or how it stopped, in plain words."""
    over = view.get("over")
    if over is not None:
        who = f" by {over['by']}" if over.get("by") else ""
        issuer = f" ({over['by_issuer']})" if over.get("by_issuer") else ""
        return f"{over['reason']}{who}{issuer} at {over['at_iso']}"
    return "active" if view.get("active") else "not in force"


def atom_feed(*, title: str, feed_url: str, base_url: str, views: list[dict[str, Any]],
              now: float, hub_url: str | None = None) -> bytes:
    """An Atom 1.0 feed of alert ``views`` (newest first); ``hub_url``: its WebSub hub."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    sub(feed, "id", feed_url)
    sub(feed, "title", title)
    updated = max((float(v["received"]) for v in views), default=now)
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    if hub_url is not None:  # W3C WebSub discovery (tocsin.callbacks.websub)
        sub(feed, "link", rel="hub", href=hub_url)
    author = sub(feed, "author")
    sub(author, "name", "Tocsin hub")
    sub(feed, "generator", "Tocsin")
    for view in views:
        alert_id = view["id"]
        entry = sub(feed, "entry")
        sub(entry, "id", f"{base_url}/api/v1/alerts/{alert_id}")
        sub(entry, "title", str(view["event"]))
        sub(entry, "updated", _iso(float(view["received"])))
        sub(entry, "published", _iso(float(view["sent_ts"])))
        entry_author = sub(entry, "author")
        sub(entry_author, "name", str(view["issuer"]))
        sub(entry, "category", scheme=CLASS_SCHEME, term=str(view["class"]))
        sub(entry, "link", rel="alternate", type="application/cap+xml",
            href=f"{base_url}/api/v1/alerts/{alert_id}/cap")
        sub(entry, "link", rel="related", type="application/json",
            href=f"{base_url}/api/v1/alerts/{alert_id}")
        places = ", ".join(a["name_en"] for a in view.get("areas", []))
        where = f" in {places}" if places else ""
        sub(entry, "summary", f"{view['event']}{where} — {view['class']}, {view['msgType']}, "
                              f"{view['status']}, {state_words(view)}")
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))
