"""Line a message up against an alert's text and name what differs.

A repost may add words around the alert (commentary, emoji, a channel's
signature), cut it short, or change a fact inside it. The alignment tells
these apart: words the message adds *before* or *after* the quoted span are
commentary; words cut at either end are truncation; anything changed *inside*
the span, or a word swapped right at its edge, is a difference, classified by
the fact it touches (region, time, kind, severity, instruction, issuer,
wording).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tocsin.check import lexicon

_KIND_SEQS = tuple(tuple(p.split()) for phrases in lexicon.KIND_PHRASES.values()
                   for p in phrases)
# A swap at an edge is a change when the message's words there state one of these;
# a mention of an issuer there is commentary ("КМВА попереджає:"), judged from the claims.
_EDGE_FACTS = frozenset({"region", "time", "kind", "severity", "instruction"})
MATERIAL_FACTS = frozenset({"region", "time", "kind", "severity", "instruction", "issuer"})


@dataclass(frozen=True, slots=True)
class Difference:
    """One change: the fact it touches, the message's words and the alert's words."""

    fact: str
    message: str
    alert: str


@dataclass(frozen=True, slots=True)
class Alignment:
    matched: int  # alert words found, in order, inside the span
    alert_len: int
    message_len: int
    span: tuple[int, int]  # message word range the alert occupies
    differences: tuple[Difference, ...]

    @property
    def coverage(self) -> float:
        return self.matched / self.alert_len if self.alert_len else 0.0

    @property
    def material(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.fact in MATERIAL_FACTS or d.fact == "wording")


def classify(words: Sequence[str], is_place: Callable[[str], bool],
             is_issuer: Callable[[str], bool]) -> str:
    """The fact a changed run of words touches (the first rule that fits)."""
    lems = [lexicon.lemma_options(w) for w in words]
    if any(w.isdigit() for w in words) or any(o & lexicon.TIME_LEMMAS for o in lems):
        return "time"
    if any(is_place(w) for w in words):
        return "region"
    if any(lexicon.phrase_at(lems, i, seq) for seq in _KIND_SEQS for i in range(len(lems))):
        return "kind"
    if any(o & lexicon.SEVERITY_LEMMAS for o in lems):
        return "severity"
    if any(o & (lexicon.NEGATION_LEMMAS | lexicon.INSTRUCTION_LEMMAS) for o in lems):
        return "instruction"
    if any(is_issuer(w) for w in words):
        return "issuer"
    return "wording"


def align(alert: Sequence[str], message: Sequence[str], *,
          is_place: Callable[[str], bool], is_issuer: Callable[[str], bool]) -> Alignment:
    """Align ``alert`` words into ``message`` words (both normal-form tokens)."""
    matcher = difflib.SequenceMatcher(None, list(alert), list(message), autojunk=False)
    ops = matcher.get_opcodes()
    # Anchor the span on runs of at least two equal words, so a lone shared
    # "у" far away in a long post does not stretch the span over commentary.
    anchors = [k for k, op in enumerate(ops) if op[0] == "equal" and op[2] - op[1] >= 2]
    if not anchors:
        anchors = [k for k, op in enumerate(ops) if op[0] == "equal"]
    if not anchors:
        return Alignment(0, len(alert), len(message), (0, 0), ())
    first, last = anchors[0], anchors[-1]
    matched = sum(op[2] - op[1] for op in ops[first:last + 1] if op[0] == "equal")
    diffs: list[Difference] = []

    def note(alert_words: Sequence[str], message_words: Sequence[str]) -> None:
        fact = classify([*alert_words, *message_words], is_place, is_issuer)
        diffs.append(Difference(fact, " ".join(message_words), " ".join(alert_words)))

    for tag, a0, a1, m0, m1 in ops[first + 1:last]:
        if tag == "equal":
            continue
        removed, added = alert[a0:a1], message[m0:m1]
        if tag == "delete":
            # Words cut from the middle matter only if they carry a fact ("не", a date, a place).
            fact = classify(removed, is_place, is_issuer)
            if fact in MATERIAL_FACTS:
                diffs.append(Difference(fact, "", " ".join(removed)))
            continue
        note(removed, added)
    # At the edges: a swap (both sides have words) is a change when the message's
    # words there state a fact (a place, a time, a kind, an instruction...);
    # otherwise it is a truncated quote next to commentary ("Бережіть себе").
    for k in (first - 1, last + 1):
        if 0 <= k < len(ops) and ops[k][0] == "replace":
            _, a0, a1, m0, m1 = ops[k]
            near_alert = alert[a0:a1][:3] if k > last else alert[a0:a1][-3:]
            near_msg = message[m0:m1][:3] if k > last else message[m0:m1][-3:]
            fact = classify(near_msg, is_place, is_issuer)
            if fact in _EDGE_FACTS:
                diffs.append(Difference(fact, " ".join(near_msg), " ".join(near_alert)))
    span = (ops[first][3], ops[last][4])
    return Alignment(matched, len(alert), len(message), span, tuple(diffs))
