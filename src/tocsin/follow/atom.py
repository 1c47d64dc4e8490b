"""Read an Atom feed of CAP alerts, hardened as CAP itself is read.

The feed goes through :func:`tocsin.cap.parse.parse_xml` — no DOCTYPE (so no entity bomb
or external entity), no network, bounded size, depth and breadth — and only then is
walked for entries. An entry's CAP document is its ``link`` with
``type="application/cap+xml"``, else its ``rel="alternate"`` link (the OASIS CAP feed
practice and what Tocsin hubs, NWS and the WMO alert hubs write). Anything else (an RSS
feed, an entry without a link) is reported, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from lxml import etree

from tocsin.cap.errors import CapError, ParseLimits
from tocsin.cap.parse import parse_xml

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_FEED_BYTES = 4 << 20
MAX_ENTRIES = 500
FEED_LIMITS = ParseLimits(max_bytes=MAX_FEED_BYTES, max_depth=32, max_elements=50_000,
                          max_children=5_000)
CAP_TYPES = ("application/cap+xml", "application/xml", "text/xml")


class FeedError(ValueError):
    """The feed is not a readable Atom feed; the message says why."""


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry: its Atom id and the absolute URL of its CAP document."""

    entry_id: str
    cap_url: str


def _cap_link(entry: etree._Element) -> str | None:
    links = entry.findall(f"{{{ATOM_NS}}}link")
    for link in links:
        if (link.get("type") or "").split(";")[0].strip() == "application/cap+xml" and link.get("href"):
            return link.get("href")
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href") \
                and (link.get("type") or "application/cap+xml").split(";")[0].strip() in CAP_TYPES:
            return link.get("href")
    return None


def read_feed(data: bytes, feed_url: str) -> tuple[list[FeedEntry], list[str]]:
    """The feed's entries (newest first, as served; at most :data:`MAX_ENTRIES`) and the
    problems met on the way (entries without a CAP link), for the log."""
    try:
        root = parse_xml(data, FEED_LIMITS)
    except CapError as exc:
        raise FeedError(str(exc).replace("CAP needs no", "a feed needs no")) from None
    if root.tag != f"{{{ATOM_NS}}}feed":
        raise FeedError(f"not an Atom feed: the root element is {etree.QName(root).localname!r}")
    entries: list[FeedEntry] = []
    problems: list[str] = []
    for n, entry in enumerate(root.iterfind(f"{{{ATOM_NS}}}entry")):
        if n >= MAX_ENTRIES:
            problems.append(f"only the first {MAX_ENTRIES} entries are read")
            break
        entry_id = (entry.findtext(f"{{{ATOM_NS}}}id") or "").strip()[:500]
        href = _cap_link(entry)
        if href is None:
            problems.append(f"entry {n + 1} ({entry_id[:80] or 'no id'}) has no CAP link")
            continue
        entries.append(FeedEntry(entry_id or href, urljoin(feed_url, href.strip())))
    return entries, problems
