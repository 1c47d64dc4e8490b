"""CAP Atom feeds: one for everything, one per region (the OASIS "CAP feeds" practice).

Each entry links to the exact signed CAP document (``rel="alternate"``,
``type="application/cap+xml"``), so existing aggregators can consume Tocsin
without knowing anything else about it. Built with lxml, so every text is
escaped correctly whatever an issuer wrote.
"""

from __future__ import annotations

from datetime import UTC, datetime

from lxml import etree

from tocsin.store.base import AlertRecord

ATOM_NS = "http://www.w3.org/2005/Atom"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def atom_feed(*, title: str, feed_url: str, base_url: str, records: list[AlertRecord],
              now: float) -> bytes:
    """An Atom 1.0 feed of ``records`` (newest first)."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})  # type: ignore[dict-item]

    def sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            el.text = text
        return el

    sub(feed, "id", feed_url)
    sub(feed, "title", title)
    updated = max((r.received_ts for r in records), default=now)
    sub(feed, "updated", _iso(updated))
    sub(feed, "link", rel="self", href=feed_url, type="application/atom+xml")
    author = sub(feed, "author")
    sub(author, "name", "Tocsin hub")
    sub(feed, "generator", "Tocsin")
    for record in records:
        entry = sub(feed, "entry")
        sub(entry, "id", f"{base_url}/api/v1/alerts/{record.id}")
        sub(entry, "title", record.event)
        sub(entry, "updated", _iso(record.received_ts))
        sub(entry, "published", _iso(record.sent_ts))
        entry_author = sub(entry, "author")
        sub(entry_author, "name", record.issuer_id)
        sub(entry, "link", rel="alternate", type="application/cap+xml",
            href=f"{base_url}/api/v1/alerts/{record.id}/cap")
        sub(entry, "link", rel="related", type="application/json",
            href=f"{base_url}/api/v1/alerts/{record.id}")
        state = "active" if record.active_at(now) else "ended"
        sub(entry, "summary", f"{record.event} — {record.msg_type}, {record.status}, {state}")
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True))
