"""The check's search history: what is filed for each alert, and how the check reads it back.

The checker must answer in well under 100 ms with a million alerts logged, and a hub's
memory must not grow with its history, so nothing here is held in RAM: the issuing path
prepares each alert's :class:`~tocsin.store.base.SearchText` (:func:`search_text`: its
words in the normal form, per ``info``; the keys it is found under) and the store files it
in the same transaction as the alert (SQLite: an FTS5 inverted index and word frequencies;
any store: the ``text_*`` methods of :class:`~tocsin.store.base.Store`, in the contract
suite). An alert is searchable the moment it is durable — there is no index to load at
start, to catch up, or to follow.

Keys an alert is filed under (opaque to the store):

* ``i:ISSUER`` — a non-denial alert of that issuer;
* ``r:CODE`` — a region the alert targets, unless a *complete* region above it implies it;
  ``f:CODE`` — a complete region: it and every region below it are targeted ``full``.
  So the alerts targeting a region are exactly those filed under ``r:`` of it or ``f:`` of
  one of its ancestors (:meth:`History.recent_in_region`), without filing the hundreds of
  hromadas of an oblast-wide alert one by one;
* ``d:SHA256`` — a denial naming that normal-form SHA-256.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Protocol

from tocsin.cap.model import Alert
from tocsin.check.normalise import tokens
from tocsin.kinds import alert_kinds
from tocsin.regions import RegionSet
from tocsin.store.base import SearchText, TextEntry

DENIES_VALUE_NAME = "TOCSIN-DENIES-SHA256"


class TextSource(Protocol):
    """The part of a store the check searches (every :class:`tocsin.store.base.Store`)."""

    def text_stats(self, words: Collection[str]) -> tuple[int, dict[str, int]]: ...

    def text_postings(self, word: str, *, denial: bool = False) -> list[int]: ...

    def text_entries(self, positions: Collection[int]) -> dict[int, TextEntry]: ...

    def text_recent(self, key: str | None, limit: int) -> list[int]: ...


def info_text_fields(alert: Alert) -> list[tuple[str, str]]:
    """(language, text) per info: the words a repost of it would carry."""
    out = []
    for info in alert.info:
        # The event ("Ракетна загроза") is a label reposts rarely carry; it stands in
        # only when there is no headline.
        parts = [info.headline or info.event, info.description or "", info.instruction or ""]
        out.append((info.language, "\n".join(p for p in parts if p)))
    return out


def denied_hashes(alert: Alert) -> tuple[str, ...]:
    found = []
    for info in alert.info:
        for pair in info.parameter:
            if pair.value_name == DENIES_VALUE_NAME:
                value = pair.value.strip().lower()
                if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
                    found.append(value)
    return tuple(dict.fromkeys(found))


def search_text(alert: Alert, *, issuer_id: str, kinds: Collection[str],
                targets: Mapping[str, str], regions: RegionSet) -> SearchText:
    """What the check searches for one alert (pure: the issuing path calls it before storing)."""
    denial = "denial" in (alert_kinds(alert) or set(kinds))
    infos = tuple((language, tuple(tokens(text))) for language, text in info_text_fields(alert))
    if denial:
        text = next((i.description for i in alert.info if i.description), "") or ""
        return SearchText(infos=infos, denial=True, denied=tuple(tokens(text)),
                          keys=tuple(f"d:{digest}" for digest in denied_hashes(alert)))
    return SearchText(infos=infos, keys=(f"i:{issuer_id}", *region_keys(targets, regions)))


def region_keys(targets: Mapping[str, str], regions: RegionSet) -> list[str]:
    """``r:``/``f:`` keys for a target map (see the module docstring)."""
    complete: dict[str, bool] = {}

    def is_complete(code: str) -> bool:
        if code not in complete:
            complete[code] = targets.get(code) == "full" and all(
                is_complete(kid.code) for kid in regions.children(code))
        return complete[code]

    keys: list[str] = []
    for code in targets:
        if regions.get(code) is None:
            keys.append(f"r:{code}")
            continue
        if any(is_complete(up.code) for up in regions.ancestors(code)):
            continue
        keys.append(f"r:{code}")
        if is_complete(code):
            keys.append(f"f:{code}")
    return keys


class History:
    """The check's reads of the search history, in the terms the engine ranks by."""

    def __init__(self, source: TextSource, regions: RegionSet) -> None:
        self.source = source
        self.regions = regions

    def stats(self, words: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(alerts searchable, non-denial alerts having each word that any has)."""
        return self.source.text_stats(set(words))

    def postings(self, word: str, *, denial: bool = False) -> list[int]:
        return self.source.text_postings(word, denial=denial)

    def entries(self, positions: Collection[int]) -> dict[int, TextEntry]:
        return self.source.text_entries(positions) if positions else {}

    def recent(self, n: int) -> list[int]:
        """The newest ``n`` searchable alerts (denials too), newest first."""
        return self.source.text_recent(None, n)

    def recent_by_issuer(self, issuer_id: str, n: int) -> list[int]:
        return self.source.text_recent(f"i:{issuer_id}", n)

    def recent_in_region(self, code: str, n: int) -> list[int]:
        """The newest ``n`` non-denial alerts targeting ``code`` (full or partial), newest first."""
        if self.regions.get(code) is None:
            return self.source.text_recent(f"r:{code}", n)
        found = set(self.source.text_recent(f"r:{code}", n))
        for up in self.regions.ancestors(code):
            found.update(self.source.text_recent(f"f:{up.code}", n))
        return sorted(found, reverse=True)[:n]

    def denials_naming(self, digest: str, n: int = 20) -> list[int]:
        return self.source.text_recent(f"d:{digest}", n)
