"""A message read once: its words, where its sentences and marked omissions fall, its links.

The claim rule (:mod:`tocsin.check.rule`) needs more than the normal-form
tokens: where a sentence or clause starts (commentary is judged clause by
clause), where the writer marked an omission ("…", "...", "[…]"), and the
actionable items — links, e-mail and Telegram addresses, phone numbers —
which are judged as whole items, never word by word.

Invariant: ``tokens`` is exactly :func:`tocsin.check.normalise.tokens` of the
text with the actionable items cut out; token indices in ``sentence_starts``
and ``ellipsis_before`` refer to it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from tocsin.check.normalise import tokens

_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>«»\"]+"
    r"|(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}(?::\d+)?(?:/[^\s<>«»\"]*)?",
    re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_HANDLE = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,}")
_PHONE = re.compile(r"(?<![\w:.,/])\+?\(?\d[\d \-()]{6,}\d(?![\w:/])")
_TRAILING = ".,;:!?)»\"'’”"
ELLIPSIS = r"\[\s*(?:…|\.{2,})\s*\]|\(\s*(?:…|\.{2,})\s*\)|…|\.{2,}"
# "." and ":" between two digits ("18:00", "25.11") are part of a time or date, not a boundary.
_BOUNDARY = re.compile(
    rf"({ELLIPSIS})|((?:[!?;\n«»\"“”„()\[\]]|(?<!\d)[.:]|[.:](?!\d))+)")


@dataclass(frozen=True, slots=True)
class Actionable:
    """A link, address or phone number in a message: judged whole, never word by word."""

    fact: str  # "link" or "phone"
    raw: str


@dataclass(frozen=True, slots=True)
class MessageView:
    text: str
    tokens: tuple[str, ...]
    originals: tuple[str, ...]  # the same words with their case (for names)
    sentence_starts: frozenset[int]
    ellipsis_before: frozenset[int]  # token i follows a marked omission (len: one at the end)
    actionables: tuple[Actionable, ...] = field(default=())
    starts: tuple[int, ...] = ()  # sentence_starts, sorted (for bisect)

    def clause_of(self, i: int) -> tuple[int, int]:
        """The clause (sentence or part between ':' / quotes) holding token ``i``."""
        starts = self.starts or tuple(sorted(self.sentence_starts))
        k = bisect.bisect_right(starts, i)
        start = starts[k - 1] if k else 0
        end = starts[k] if k < len(starts) else len(self.tokens)
        return start, end


def find_actionables(text: str) -> tuple[list[Actionable], str]:
    """The message's links, addresses and phone numbers, and the text without them."""
    found: list[tuple[int, int, Actionable]] = []

    def take(pattern: re.Pattern[str], fact: str) -> None:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            raw = m.group(0).rstrip(_TRAILING)
            end = start + len(raw)
            if fact == "phone" and sum(c.isdigit() for c in raw) < 9:
                continue
            if fact == "link" and pattern is _URL and raw.replace(".", "").isdigit():
                continue
            if any(s < end and start < e for s, e, _ in found):
                continue
            found.append((start, end, Actionable(fact, raw)))

    take(_EMAIL, "link")
    take(_URL, "link")
    take(_HANDLE, "link")
    take(_PHONE, "phone")
    found.sort(key=lambda f: f[0])
    out: list[str] = []
    last = 0
    for start, end, _ in found:
        out.append(text[last:start])
        out.append("\n")
        last = end
    out.append(text[last:])
    return [a for _, _, a in found], "".join(out)


def _originals(chunk: str, toks: list[str]) -> list[str]:
    """The chunk's words with their case, one per token (falls back to the tokens)."""
    out: list[str] = []
    for word in re.findall(r"[\w'’ʼ\u00ad\u200b-\u200d\u2060-]+", chunk):
        parts = tokens(word)
        if len(parts) == 1:
            out.append(word.replace("\u00ad", "").replace("\u200b", "").replace("\u200c", "")
                       .replace("\u200d", "").replace("\u2060", ""))
        else:
            out.extend(parts)
    return out if len(out) == len(toks) else list(toks)


def read_message(text: str) -> MessageView:
    """Read ``text`` (already cleaned by :func:`tocsin.check.engine.clean_text`)."""
    actionables, work = find_actionables(text)
    toks: list[str] = []
    originals: list[str] = []
    starts: set[int] = {0}
    ellipses: set[int] = set()
    last = 0
    for m in _BOUNDARY.finditer(work):
        chunk = work[last:m.start()]
        ct = tokens(chunk)
        toks.extend(ct)
        originals.extend(_originals(chunk, ct))
        if m.group(1):
            ellipses.add(len(toks))
        starts.add(len(toks))
        last = m.end()
    chunk = work[last:]
    ct = tokens(chunk)
    toks.extend(ct)
    originals.extend(_originals(chunk, ct))
    whole = tokens(work)
    if toks != whole:  # a boundary inside a token (never expected): no marks rather than wrong ones
        return MessageView(text, tuple(whole), tuple(whole), frozenset({0}), frozenset(),
                           tuple(actionables), (0,))
    return MessageView(text, tuple(toks), tuple(originals), frozenset(starts),
                       frozenset(ellipses), tuple(actionables), tuple(sorted(starts)))
