"""Issue 11's rule: a message is backed by ONE alert only if every claim in it is that alert's.

:func:`judge` compares a read message (:class:`~tocsin.check.message.MessageView`
and its :class:`~tocsin.check.claims.Claims`) with one logged alert
(:class:`AlertView`) and returns a :class:`Judgement`:

* the alert's words are lined up with the message's (``difflib``, anchored
  on runs of two or more equal words); inside the quoted span, any word
  replaced or inserted is a difference;
* words the message leaves out are *omissions*: allowed, and listed, unless
  a negation, qualifier ("не", "можливі", "potential", "only"), time or
  number is cut out of a sentence whose later words are kept, a negation is
  kept without the word it negates, or the omission is unmarked and carries a
  fact (a number, a place, a time);
* words of the message's own that finish (or begin) an alert sentence the
  quote cuts short are a change ("удар по … Києву"); a place the alert
  targets, inserted between two of its sentences, is backed;
* everything outside the quoted span is judged clause by clause: an issuer
  named must be the alert's issuer, a place must lie inside the alert's area,
  a kind word must be of the alert's class; framing
  (:mod:`tocsin.check.framing`) is allowed; anything else left is an added
  claim unless it repeats a run of the alert's own words as the alert says
  them (never a lone word, a time, or words from a negated clause);
* emoji that state something (:mod:`tocsin.check.emoji`) must be backed;
* every link and phone number must be in the alert; a link to this hub's
  page of this very alert is allowed; a link naming an alert on another
  host is a difference (the site is not this hub);
* the message *identifies* the alert when it names a place the alert
  targets or carries at least :data:`IDENTIFY_WORDS` of its words. A
  generic phrase alone ("Повітряна тривога") identifies nothing.

Invariant: ``Judgement.clean`` is true only when no claim of the message is
missing from the alert; the engine says ``authentic`` (or ``outdated``) only
for a clean, identifying judgement against a verified, logged alert.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tocsin.cap import CapError, parse_alert
from tocsin.check import lexicon
from tocsin.check.align import Difference, classify
from tocsin.check.claims import Claims, kind_mentions
from tocsin.check.emoji import emoji_claims
from tocsin.check.framing import FUNCTION_WORDS, UNIT_WORDS, framing_spans
from tocsin.check.index import info_text_fields
from tocsin.check.message import MessageView, read_message
from tocsin.kinds import KindClass, kind_class
from tocsin.regions import RegionSet
from tocsin.store.base import AlertRecord

IDENTIFY_WORDS = 6  # words of an alert a message must carry when it names no place of it
DERIVED_MIN_MATCHED = 3  # a changed copy: at least this many of the alert's words...
DERIVED_MIN_COVERAGE = 0.5  # ...and this share of it (or DERIVED_LONG words)
DERIVED_LONG = 8
MAX_DIFFERENCES = 24  # a judgement stops listing here: it is not clean either way
REPEAT_MAX_WORDS = 0  # a lone word said again ("Вдома!", "Метро!") is a claim
GENERIC_THREAT_KINDS = frozenset({"air-raid", "threat-notice"})  # "Тривога!", "Загроза!"
_ALERT_LINK = re.compile(r"/(?:api/v1/alerts|alerts|check/alert)/([0-9a-f]{32})(?![0-9a-f])", re.I)


@dataclass(frozen=True, slots=True)
class InfoView:
    language: str
    view: MessageView  # the info's text read like a message (tokens, sentences)
    raw: str


@dataclass(frozen=True, slots=True)
class AlertView:
    """What the rule needs of one logged alert, read from its exact CAP bytes."""

    record: AlertRecord
    infos: tuple[InfoView, ...]
    lemmas: frozenset[str]
    targets: tuple[str, ...]  # region codes the alert covers fully (CAP geocodes first)
    klass: KindClass
    raw: str  # every info's text, case-folded (for links and phone numbers)
    named: tuple[str, ...] = ()  # the CAP geocodes alone (what to show)

    @property
    def id(self) -> str:
        return self.record.id


def alert_view(record: AlertRecord, regions: RegionSet) -> AlertView | None:
    """Read a stored alert for the rule; None if its CAP cannot be read back."""
    try:
        alert = parse_alert(record.cap, strict=False).alert
    except CapError:
        return None
    infos = tuple(InfoView(lang, read_message(text), text)
                  for lang, text in info_text_fields(alert))
    lemmas = frozenset(o for info in infos for t in info.view.tokens
                       for o in lexicon.lemma_options(t))
    codes: list[str] = []
    for info in alert.info:
        for area in info.area:
            for pair in area.geocode:
                code = regions.canonical(pair.value.strip())
                if code and code not in codes:
                    codes.append(code)
    named = tuple(codes)
    for code, coverage in record.targets.items():
        if coverage == "full" and code not in codes:
            codes.append(code)
    return AlertView(record, infos, lemmas, tuple(codes), kind_class(record.kinds),
                     "\n".join(i.raw for i in infos).casefold(), named or tuple(codes[:3]))


@dataclass
class Judgement:
    """One message against one alert."""

    alert: AlertView
    language: str
    matched: int
    alert_len: int
    message_len: int
    span: tuple[int, int]
    differences: list[Difference] = field(default_factory=list)
    omitted: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    place_ok: bool = False  # the message names a place inside the alert's area
    own_link: bool = False  # the message links to this alert's page on this hub
    linked: bool = False  # the message names this alert's id in a link (any host)

    @property
    def coverage(self) -> float:
        return self.matched / self.alert_len if self.alert_len else 0.0

    @property
    def clean(self) -> bool:
        return not self.differences

    @property
    def identifying(self) -> bool:
        if self.own_link:
            return True
        return self.matched >= min(2, self.alert_len) and self.matched > 0 and (
            self.place_ok or self.matched >= IDENTIFY_WORDS)

    @property
    def derived(self) -> bool:
        """Whether the message is plausibly a (changed) copy of this alert."""
        if self.linked or self.own_link:
            return True
        if self.matched >= DERIVED_MIN_MATCHED and (self.coverage >= DERIVED_MIN_COVERAGE
                                                    or self.matched >= DERIVED_LONG):
            return True
        return self.matched >= 2 and self.coverage == 1.0 and self.place_ok


@dataclass(frozen=True, slots=True)
class Context:
    """What the rule needs besides the two texts."""

    regions: RegionSet
    is_place: Callable[[str], bool]
    is_issuer: Callable[[str], bool]
    issuer_name: Callable[[str], str]
    hub_hosts: frozenset[str]
    alert_exists: Callable[[str], bool]


def _within(ctx: Context, code: str, targets: Sequence[str]) -> bool:
    return any(code == t or ctx.regions.covers(t, code) for t in targets)


def _ops(alert: Sequence[str], message: Sequence[str]) -> tuple[list[tuple[str, int, int, int, int]],
                                                               int, int] | None:
    matcher = difflib.SequenceMatcher(None, list(alert), list(message), autojunk=False)
    ops: list[tuple[str, int, int, int, int]] = list(matcher.get_opcodes())
    anchors = [k for k, op in enumerate(ops) if op[0] == "equal" and op[2] - op[1] >= 2]
    if not anchors:
        anchors = [k for k, op in enumerate(ops) if op[0] == "equal"]
    if not anchors:
        return None
    return ops, anchors[0], anchors[-1]


def judge(msg: MessageView, claims: Claims, alert: AlertView, ctx: Context) -> Judgement | None:
    """The best judgement of ``msg`` against any one ``info`` of ``alert`` (None: no overlap)."""
    best: Judgement | None = None
    kinds = kind_mentions(list(claims.options) or [lexicon.lemma_options(t)
                                                   for t in msg.tokens])
    for info in alert.infos:
        j = _judge_info(msg, claims, alert, info, ctx, kinds)
        if j is None:
            continue
        if best is None or (j.clean, j.matched) > (best.clean, best.matched):
            best = j
    return best


def _judge_info(msg: MessageView, claims: Claims, alert: AlertView, info: InfoView,
                ctx: Context, kinds: list[tuple[str, int, int]]) -> Judgement | None:
    a_toks = info.view.tokens
    m_toks = msg.tokens
    found = _ops(a_toks, m_toks)
    if found is None:
        if alert.id not in _linked_ids(msg):
            return None
        # No shared words, but a link names this alert: judge everything as commentary.
        bare = Judgement(alert, info.language, 0, len(a_toks), len(m_toks), (0, 0))
        _judge_commentary(bare, msg, claims, alert, info, list(range(len(m_toks))), ctx,
                          kinds)
        bare.place_ok = any(m.kind == "place" and _within(ctx, m.value, alert.targets)
                            for m in claims.mentions)
        _judge_actionables(bare, msg, alert, ctx)
        _judge_emoji(bare, msg, alert)
        return bare
    ops, first, last = found
    matched = sum(op[2] - op[1] for op in ops[first:last + 1] if op[0] == "equal")
    span = (ops[first][3], ops[last][4])
    j = Judgement(alert, info.language, matched, len(a_toks), len(m_toks), span)
    kept: set[int] = set()
    for tag, a0, a1, _m0, _m1 in ops[first:last + 1]:
        if tag == "equal":
            kept.update(range(a0, a1))
    # 1. Inside the quoted span: replaced or inserted words are changes.
    omitted_runs: list[tuple[int, int, bool]] = []  # alert [a0, a1), marked
    for tag, a0, a1, m0, m1 in ops[first + 1:last]:
        if tag == "equal":
            continue
        if tag == "delete":
            omitted_runs.append((a0, a1, m0 in msg.ellipsis_before))
            continue
        removed, added = a_toks[a0:a1], m_toks[m0:m1]
        if tag == "insert" and a0 in info.view.sentence_starts \
                and _backed_place(claims, m0, m1, m_toks, alert, ctx):
            # "Загроза ударних БпЛА. Харківська область. …", "… БпЛА у Харкові. …": a place
            # it targets, between two of its sentences (inside one it would change the
            # sentence: "удар по Києву енергетичній…")
            continue
        fact = classify([*removed, *added], ctx.is_place, ctx.is_issuer)
        j.differences.append(Difference(fact, " ".join(msg.originals[m0:m1]),
                                        " ".join(info.view.originals[a0:a1])))
    # 2. Truncation at either end is an omission too (marked or not).
    a_first, a_last = ops[first][1], ops[last][2]
    if a_first > 0:
        omitted_runs.append((0, a_first, True))
    if a_last < len(a_toks):
        omitted_runs.append((a_last, len(a_toks), True))
    _judge_omissions(j, info, kept, omitted_runs, ctx)
    # 3. Outside the span: commentary, clause by clause.
    outside = [i for i in range(len(m_toks)) if not span[0] <= i < span[1]]
    _judge_commentary(j, msg, claims, alert, info, outside, ctx, kinds)
    # 3b. Words joined to the quote across a marked omission, where the quote stops (or
    # starts) inside an alert sentence: "удар по … Києву" makes Kyiv the target.
    _judge_splices(j, msg, info, span, (a_first, a_last), ctx)
    # 4. Places named anywhere: one inside the alert's area identifies it.
    j.place_ok = any(m.kind == "place" and _within(ctx, m.value, alert.targets)
                     for m in claims.mentions)
    # 5. Links and phone numbers; emoji that state something (a "no", a hazard, a flag).
    _judge_actionables(j, msg, alert, ctx)
    _judge_emoji(j, msg, alert)
    return j


def _judge_splices(j: Judgement, msg: MessageView, info: InfoView, span: tuple[int, int],
                   alert_edges: tuple[int, int], ctx: Context) -> None:
    """Message words that finish (or begin) an alert sentence the quote cuts short: a change.

    Commentary after a quote is judged clause by clause, and a place inside the alert's
    area is backed there ("Повітряна тривога… Київ"). But when the quote stops inside an
    alert sentence and the message goes on in the same sentence, or past a "…", with
    words of its own, those words finish the alert's sentence: "…масований удар по …
    Києву" (or "…удар по Києву") names a target the alert never named. The same at the
    start ("Києву … масований удар по енергетичній …").
    """
    a_toks, starts = info.view.tokens, info.view.sentence_starts
    m_toks = msg.tokens
    a_first, a_last = alert_edges
    sides = []
    joined_after = span[1] in msg.ellipsis_before or span[1] not in msg.sentence_starts
    joined_before = span[0] in msg.ellipsis_before or span[0] not in msg.sentence_starts
    if span[1] < len(m_toks) and joined_after and 0 < a_last < len(a_toks) \
            and a_last not in starts:
        end = next((k for k in range(span[1] + 1, len(m_toks) + 1)
                    if k in msg.sentence_starts or k == len(m_toks)), len(m_toks))
        alert_end = next((k for k in sorted(starts | {len(a_toks)}) if k > a_last), len(a_toks))
        sides.append((span[1], end, a_last, alert_end))
    if span[0] > 0 and joined_before and a_first > 0 and a_first not in starts:
        begin = max((k for k in msg.sentence_starts if k < span[0]), default=0)
        alert_begin = max((k for k in starts if k < a_first), default=0)
        sides.append((begin, span[0], alert_begin, a_first))
    framing = framing_spans(m_toks)
    for m0, m1, a0, a1 in sides:
        own = [k for k in range(m0, m1) if k not in framing and m_toks[k] not in FUNCTION_WORDS]
        if not own:
            continue
        fact = classify([m_toks[k] for k in own], ctx.is_place, ctx.is_issuer)
        j.differences.append(Difference("added" if fact == "wording" else fact,
                                        " ".join(msg.originals[m0:m1]),
                                        " ".join(info.view.originals[a0:a1])))
        j.notes.append("words of the message's own are joined across an omission to a "
                       "sentence of the alert cut short there")


def _backed_place(claims: Claims, m0: int, m1: int, m_toks: Sequence[str], alert: AlertView,
                  ctx: Context) -> bool:
    """Whether message words ``[m0, m1)`` only name places inside the alert's area.

    A place the alert targets is a claim it backs wherever the message writes it (in the
    headline, between sentences, in any inflection); unit and function words around the
    name ("у", "область") go with it. A place outside the area is never backed.
    """
    covered: set[int] = set()
    for m in claims.mentions:
        if m.kind != "place" or m.end <= m0 or m.start >= m1:
            continue
        if m.start < m0 or m.end > m1 or not _within(ctx, m.value, alert.targets):
            return False
        covered.update(range(m.start, m.end))
    if not covered:
        return False
    return all(k in covered or m_toks[k] in FUNCTION_WORDS or m_toks[k] in UNIT_WORDS
               for k in range(m0, m1))


def _linked_ids(msg: MessageView) -> set[str]:
    found = (ALERT_LINK.search(a.raw) for a in msg.actionables if a.fact == "link")
    return {m.group(1).lower() for m in found if m}


def _judge_omissions(j: Judgement, info: InfoView, kept: set[int],
                     runs: list[tuple[int, int, bool]], ctx: Context) -> None:
    toks, words = info.view.tokens, info.view.originals
    starts = sorted(info.view.sentence_starts | {len(toks)})
    sentence_of = {}
    for s, e in itertools.pairwise(starts):
        for k in range(s, e):
            sentence_of[k] = (s, e)
    cut_reported: set[tuple[int, int]] = set()
    for a0, a1, marked in sorted(runs):
        text = " ".join(words[a0:a1])
        for k in range(a0, a1):
            sentence = sentence_of.get(k)
            if sentence is None or sentence in cut_reported:
                continue
            s, e = sentence
            if not any(x in kept for x in range(s, e)):
                continue  # a whole sentence left out: allowed
            modified_kept = k + 1 < e and (k + 1) in kept
            if modified_kept and lexicon.lemma_options(toks[k]) & lexicon.QUALIFIER_LEMMAS:
                cut_reported.add(sentence)
                j.differences.append(Difference(
                    "cut", " ".join(words[x] if x in kept else "…" for x in range(s, e)
                                    ).replace("… …", "…"),
                    " ".join(words[s:e])))
        spliced = _splice(toks, kept, sentence_of, a0, a1)
        if spliced is not None and spliced not in cut_reported:
            cut_reported.add(spliced)
            s, e = spliced
            j.differences.append(Difference(
                "cut", " ".join(words[x] if x in kept else "…" for x in range(s, e)
                                ).replace("… …", "…"),
                " ".join(words[s:e])))
            continue
        if not marked:
            # Unmarked: whole sentences may go; a fact cut from a kept sentence may not.
            partial = [toks[k] for k in range(a0, a1) if (sentence := sentence_of.get(k))
                       and any(x in kept for x in range(*sentence))]
            fact = classify(partial, ctx.is_place, ctx.is_issuer) if partial else "wording"
            if fact in ("time", "region", "kind", "severity") or any(
                    t.isdigit() for t in partial):
                j.differences.append(Difference(fact, "", text))
                continue
        j.omitted.append(text)


def _cuts_meaning(opts: frozenset[str], word: str) -> bool:
    return bool(word.isdigit() or opts & (lexicon.QUALIFIER_LEMMAS | lexicon.TIME_LEMMAS))


def _splice(toks: Sequence[str], kept: set[int], sentence_of: dict[int, tuple[int, int]],
            a0: int, a1: int) -> tuple[int, int] | None:
    """The alert sentence an omission of ``toks[a0:a1]`` changes the meaning of, if any.

    An omission may drop whole sentences, or the end of a sentence. Inside a sentence
    that is kept on the far side of the cut, it may not take out a negation, a qualifier,
    a time or a number (the words kept after it would then say something else:
    "Сьогодні … до 18:00", "Прямуйте … вдома"); nor may it leave a negation kept
    without the word it negates ("Не … прямуйте").
    """
    for k in range(a0, a1):
        sentence = sentence_of.get(k)
        if sentence is None:
            continue
        if any(x in kept for x in range(k + 1, sentence[1])) and _cuts_meaning(
                lexicon.lemma_options(toks[k]), toks[k]):
            return sentence
    before = a0 - 1
    if before in kept and (sentence := sentence_of.get(before)) is not None \
            and before + 1 < sentence[1] \
            and lexicon.lemma_options(toks[before]) & lexicon.NEGATION_LEMMAS:
        return sentence
    return None


def _judge_commentary(j: Judgement, msg: MessageView, claims: Claims, alert: AlertView,
                      info: InfoView, outside: list[int], ctx: Context,
                      kinds: list[tuple[str, int, int]]) -> None:
    if not outside:
        return
    out = set(outside)
    explained: set[int] = set(i for i in outside if msg.tokens[i] in FUNCTION_WORDS)
    framing = framing_spans(msg.tokens) & out
    explained |= framing
    for m in claims.mentions:
        rng = set(range(m.start, m.end))
        if not rng & out:
            continue
        if m.kind == "issuer":
            if m.value == alert.record.issuer_id:
                explained |= rng
            else:
                j.differences.append(Difference("issuer", m.phrase,
                                                ctx.issuer_name(alert.record.issuer_id)))
                explained |= rng
        elif m.kind == "place":
            if not _within(ctx, m.value, alert.targets):
                j.differences.append(Difference("region", m.phrase, ", ".join(
                    _region_name(ctx, c) for c in alert.named[:3])))
            explained |= rng
            for k in (m.start - 1, m.end):  # "у місті Києві", "Kyiv Oblast"
                if 0 <= k < len(msg.tokens) and msg.tokens[k] in UNIT_WORDS:
                    explained.add(k)
    for kind, start, end in kinds:
        rng = set(range(start, end))
        if not rng <= out or rng <= explained:
            continue
        if kind in alert.record.kinds or (kind in GENERIC_THREAT_KINDS
                                          and alert.klass is KindClass.THREAT):
            explained |= rng
    clauses: dict[tuple[int, int], list[int]] = {}
    for i in outside:
        if i not in explained:
            clauses.setdefault(msg.clause_of(i), []).append(i)
    for (s, e), rest in sorted(clauses.items()):
        if len(j.differences) >= MAX_DIFFERENCES:
            j.notes.append("more of the message differs than is listed here")
            break
        words = [msg.tokens[i] for i in rest]
        # The clause's own words (framing aside), said again as the alert says them:
        # "Удар по енергетиці!" repeats "…удар по енергетиці…" (a kind word and all).
        said = [msg.tokens[i] for i in range(s, e) if i in out and i not in framing]
        if _repeats(words, alert, info) or (len(said) >= 2 and _repeats(said, alert, info)):
            continue
        fact = _added_fact(words, ctx)
        j.differences.append(Difference(fact, " ".join(msg.originals[s:e]), ""))


def _repeats(words: list[str], alert: AlertView, info: InfoView) -> bool:
    """Commentary that only repeats the alert's own words (a headline said twice, "В укриття!").

    A run of two or more words counts only as the alert says it: not when the alert has a
    negation or qualifier before it in its clause ("можливі відключення" repeated as
    "відключення", "не залишайтеся вдома" as "Вдома!"), not when the run holds a negation
    or qualifier but stops before its clause ends, and never with a time or a number. A
    lone content word said again ("Метро!", "Immediately.") is a claim (REPEAT_MAX_WORDS).
    """
    toks = info.view.tokens
    n = len(words)
    opts = [lexicon.lemma_options(w) for w in words]
    if any(w.isdigit() or o & lexicon.TIME_LEMMAS for w, o in zip(words, opts, strict=True)):
        return False  # a time or a number said again alone is a claim ("18:00!", "До 18:00.")
    qualified = any(o & lexicon.QUALIFIER_LEMMAS for o in opts)
    if n >= 2:
        for p in range(len(toks) - n + 1):
            if list(toks[p:p + n]) != words or _negated(info.view, p):
                continue
            # a negation or qualifier repeated must keep all it governs, to its clause's end
            # ("Прямуйте до укриття, не залишайтеся." drops what not to stay near)
            if qualified and p + n != info.view.clause_of(p)[1]:
                continue
            return True
    if qualified:
        return False
    if len(words) > REPEAT_MAX_WORDS:
        return False
    return all(lexicon.lemma_options(w) & alert.lemmas for w in words)


def _negated(view: MessageView, p: int) -> bool:
    """Whether alert word ``p`` sits after a negation or qualifier in its clause.

    ("не залишайтеся вдома біля вікон": "вдома біля вікон" said again alone says the
    opposite of the alert.)
    """
    start, _ = view.clause_of(p)
    return any(lexicon.lemma_options(view.tokens[k]) & lexicon.QUALIFIER_LEMMAS
               for k in range(start, p))


def _added_fact(words: list[str], ctx: Context) -> str:
    lems = [lexicon.lemma_options(w) for w in words]
    if any(o & lexicon.APP_LEMMAS for o in lems):
        return "app"
    if any(o & lexicon.FORWARD_LEMMAS for o in lems):
        return "forward"
    if any(o & lexicon.STATUS_LEMMAS for o in lems):
        return "status"
    if any(_imperative(w) for w in words):
        return "instruction"
    fact = classify(words, ctx.is_place, ctx.is_issuer)
    return "added" if fact == "wording" else fact


@functools.lru_cache(maxsize=50_000)
def _imperative(word: str) -> bool:
    if not re.search(r"[а-яієїґё]", word):
        return False
    for lang in ("uk", "ru"):
        for parse in lexicon._analyzer(lang).parse(word)[:2]:
            if "impr" in parse.tag:
                return True
    return False


def _region_name(ctx: Context, code: str) -> str:
    region = ctx.regions.get(code)
    return region.name_uk_full if region else code


def _judge_actionables(j: Judgement, msg: MessageView, alert: AlertView, ctx: Context) -> None:
    digits_in_alert = re.sub(r"\D", "", alert.raw)
    for item in msg.actionables:
        if item.fact == "phone":
            digits = re.sub(r"\D", "", item.raw)
            if digits and digits in digits_in_alert:
                continue
            j.differences.append(Difference("phone", item.raw, ""))
            continue
        link = _ALERT_LINK.search(item.raw)
        if link:
            host = _host(item.raw)
            named = link.group(1).lower()
            if named == alert.id:
                j.linked = True
            if host in ctx.hub_hosts:
                if named == alert.id:
                    j.own_link = True
                    continue
                j.differences.append(Difference("link", item.raw, f"/alerts/{alert.id}"))
                j.notes.append(f"the link names another alert ({named}), not the one quoted")
                continue
            j.differences.append(Difference("link", item.raw, f"/alerts/{alert.id}"))
            if ctx.alert_exists(named):
                j.notes.append(f"the link names a real alert id ({named}), but the site "
                               f"{host or '?'} is not this hub")
            continue
        if item.raw.casefold() in alert.raw:
            continue
        j.differences.append(Difference("link", item.raw, ""))


_EMOJI_SAYS = {"prohibition": "a prohibition or “no” sign", "hazard": "a hazard sign",
               "flag": "a flag (a place)", "kind": "a kind of threat",
               "mockery": "mockery: calls the alert a joke"}


def _judge_emoji(j: Judgement, msg: MessageView, alert: AlertView) -> None:
    """Emoji that state a claim (:mod:`tocsin.check.emoji`) must be the alert's too."""
    countries = {code[:2] for code in alert.targets if len(code) >= 2 and code[:2].isalpha()}
    claims = emoji_claims(msg.text, alert_text=alert.raw, kinds=alert.record.kinds,
                          countries=countries)
    for claim in claims[:8]:
        j.differences.append(Difference("emoji", claim.emoji, ""))
    if claims:
        j.notes.append("emoji that say something are claims: "
                       + ", ".join(dict.fromkeys(f"{c.emoji} ({_EMOJI_SAYS[c.what]})"
                                                 for c in claims[:8])))


def _host(url: str) -> str:
    text = url if "://" in url else "http://" + url
    try:
        return (urlsplit(text).netloc or "").lower()
    except ValueError:
        return ""


def foreign_link_note(host: str, alert_id: str) -> str:
    return f"the id {alert_id} is a real alert, but the site {host} is not this hub"


def host_of(url: str) -> str:
    """The host[:port] of a link as written (lower case; '' if none)."""
    return _host(url)


ALERT_LINK = _ALERT_LINK
