"""What a circulating message claims: who says it, what threat, where and when.

The reader works on lemmas (:mod:`tocsin.check.lexicon`), so "ГУР МО
попереджає", "Главное управление разведки предупреждает" and "Defence
Intelligence of Ukraine warns" all name the same registry issuer. Issuer
names come from the signed registry (names, aliases, their national
transliteration and a Russian rendering), never from a list of our own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tocsin.check import lexicon
from tocsin.check.message import MessageView, read_message
from tocsin.check.normalise import fold_token, tokens
from tocsin.regions import RegionSet
from tocsin.regions.names import transliterate
from tocsin.trust.registry import Registry

_WORD = re.compile(r"[\w'’ʼ-]+", re.UNICODE)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b")
_DATE_NUM = re.compile(r"\b(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])(?:\.(\d{2,4}))?\b")
_MAX_REGIONS_PER_NAME = 2  # a name shared by more places than this is too vague to count


@dataclass(frozen=True, slots=True)
class Mention:
    """A name in the message: an issuer (registry id) or a place (region code), by position."""

    kind: str  # "issuer" or "place"
    value: str
    start: int  # token positions [start, end) in the message's tokens
    end: int
    phrase: str


@dataclass(frozen=True, slots=True)
class Claims:
    """The facts a message asserts, as found (codes, ids, kinds, time phrases)."""

    issuers: tuple[str, ...] = ()
    issuer_phrases: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    region_phrases: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    lemmas: tuple[str, ...] = field(default=(), repr=False)
    mentions: tuple[Mention, ...] = field(default=(), repr=False)
    actionables: tuple[tuple[str, str], ...] = ()  # (link|phone, as written)
    options: tuple[frozenset[str], ...] = field(default=(), repr=False)


def _is_abbreviation(alias: str) -> bool:
    return alias.isupper() and len(alias.replace(" ", "")) <= 6


class IssuerNames:
    """Every way a message can name a registry issuer, as lemma sequences."""

    def __init__(self, registry: Registry) -> None:
        self.version = registry.version
        self._phrases: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
        for issuer in registry.issuers:
            names = {issuer.name_uk, issuer.name_en, *issuer.aliases_uk, *issuer.aliases_en}
            variants: set[tuple[str, bool]] = set()
            for name in names:
                abbr = _is_abbreviation(name)
                variants.add((name, abbr))
                if re.search(r"[а-яієїґ]", name, re.IGNORECASE):
                    latin = transliterate(name)
                    variants.add((latin, abbr))
                    variants.add((latin.replace("h", "g"), abbr))  # Russian-style: GUR for ГУР
            for name, abbr in variants:
                seq = tuple(lexicon.lemmas(tokens(name)))
                if seq:
                    self._add(seq, issuer.id, abbr)
                    russian = tuple(lexicon.UK_TO_RU.get(w, w) for w in seq)
                    if russian != seq:
                        self._add(russian, issuer.id, abbr)

    def _add(self, seq: tuple[str, ...], issuer_id: str, abbr: bool) -> None:
        bucket = self._phrases.setdefault(seq[0], [])
        if (seq, abbr, issuer_id) not in bucket:
            bucket.append((seq, abbr, issuer_id))

    def find(self, options: list[frozenset[str]], originals: list[str]) -> list[tuple[str, str]]:
        """(issuer id, phrase as written) for each issuer named, longest phrase first."""
        found: dict[str, str] = {}
        for m in self.mentions(options, originals):
            found.setdefault(m.value, m.phrase)
        return list(found.items())

    def mentions(self, options: list[frozenset[str]], originals: list[str]) -> list[Mention]:
        """Every issuer name in the message, with its position."""
        out: list[Mention] = []
        i = 0
        while i < len(options):
            best: tuple[int, str] | None = None
            heads = [e for o in options[i] for e in self._phrases.get(o, ())]
            for seq, abbr, issuer_id in heads:
                n = len(seq)
                if not lexicon.phrase_at(options, i, seq):
                    continue
                if abbr and not all(o.isupper() for o in originals[i:i + n]):
                    continue  # "гур" in running text is not the abbreviation ГУР
                if best is None or n > best[0]:
                    best = (n, issuer_id)
            if best is None:
                i += 1
                continue
            n, issuer_id = best
            out.append(Mention("issuer", issuer_id, i, i + n, " ".join(originals[i:i + n])))
            i += n
        return out


def _original_words(text: str) -> list[str]:
    """The message's words with their case, aligned one to one with :func:`tokens`."""
    out: list[str] = []
    for word in _WORD.findall(text):
        for part in tokens(word):
            out.append(word if len(tokens(word)) == 1 else part)
    return out


def find_regions(text: str, regions: RegionSet) -> list[tuple[str, str]]:
    """(region code, phrase) for each place named: capitalised words, 1 to 3 long."""
    found: dict[str, str] = {}
    for m in place_mentions(_original_words(text), regions):
        found.setdefault(m.value, m.phrase)
    return list(found.items())


def place_mentions(words: list[str], regions: RegionSet,
                   options: list[frozenset[str]] | None = None) -> list[Mention]:
    """Every place named (capitalised words, 1 to 3 long; residents' names), by position."""
    out: list[Mention] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not word[:1].isupper() or not word[:1].isalpha():
            i += 1
            continue
        hit = False
        for n in (3, 2, 1):
            phrase = " ".join(words[i:i + n])
            if len(phrase) < 3 or i + n > len(words) or any(w[:1].isdigit() for w in words[i:i + n]):
                continue
            matches = regions.find_by_name(phrase)
            if not matches:
                ru = lexicon.RU_PLACES.get(lexicon.lemma(fold_token(words[i].casefold())))
                if ru and n == 1:
                    matches = regions.find_by_name(ru)
            if matches and len(matches) <= _MAX_REGIONS_PER_NAME:
                out.append(Mention("place", matches[0].code, i, i + n, phrase))
                i += n
                hit = True
                break
        if not hit:
            i += 1
    if options is not None:
        taken = {k for m in out for k in range(m.start, m.end)}
        for k, opts in enumerate(options):
            if k in taken:
                continue
            place = next((lexicon.DEMONYMS[o] for o in sorted(opts) if o in lexicon.DEMONYMS),
                         None)
            if place:
                matches = regions.find_by_name(place)
                if matches:
                    out.append(Mention("place", matches[0].code, k, k + 1, words[k]))
    out.sort(key=lambda m: m.start)
    return out


_KIND_SEQS = {kind: tuple(tuple(p.split()) for p in phrases)
              for kind, phrases in lexicon.KIND_PHRASES.items()}


_KIND_HEADS: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
for _kind, _seqs in _KIND_SEQS.items():
    for _seq in _seqs:
        _KIND_HEADS.setdefault(_seq[0], []).append((_kind, _seq))


def kind_mentions(options: list[frozenset[str]] | tuple[frozenset[str], ...],
                  ) -> list[tuple[str, int, int]]:
    """(kind, start, end) for each kind phrase in the message (lemmas, any case form)."""
    out: list[tuple[str, int, int]] = []
    opts = list(options)
    for i, here in enumerate(opts):
        for head in here:
            for kind, seq in _KIND_HEADS.get(head, ()):
                if lexicon.phrase_at(opts, i, seq):
                    out.append((kind, i, i + len(seq)))
    return out


def find_kinds(options: list[frozenset[str]]) -> list[str]:
    """Kinds whose words the message uses (in any case form)."""
    found = {kind for kind, _, _ in kind_mentions(options)}
    return [kind for kind in _KIND_SEQS if kind in found]


def find_times(text: str, lemmas: list[str], originals: list[str]) -> list[str]:
    """Time phrases as written: clock times, dates, and words like "tonight" / "вночі"."""
    found = [m.group(0) for m in _CLOCK.finditer(text)]
    found += [m.group(0) for m in _DATE_NUM.finditer(text) if m.group(0) not in found]
    for i, lem in enumerate(lemmas):
        if lem in lexicon.MONTHS and i > 0 and originals[i - 1].isdigit():
            found.append(f"{originals[i - 1]} {originals[i]}")
        elif lem in lexicon.TIME_LEMMAS and lem not in lexicon.MONTHS:
            found.append(originals[i])
    return list(dict.fromkeys(found))


def read_claims(text: str, names: IssuerNames, regions: RegionSet,
                view: MessageView | None = None) -> Claims:
    """Everything :class:`Claims` holds, read from ``text`` (or its :class:`MessageView`)."""
    view = view or read_message(text)
    toks = list(view.tokens)
    lems = lexicon.lemmas(toks)
    options = [lexicon.lemma_options(t) for t in toks]
    originals = list(view.originals)
    issuer_mentions = names.mentions(options, originals)
    places = place_mentions(originals, regions, options)
    issuers: dict[str, str] = {}
    for m in issuer_mentions:
        issuers.setdefault(m.value, m.phrase)
    where: dict[str, str] = {}
    for m in places:
        where.setdefault(m.value, m.phrase)
    return Claims(
        issuers=tuple(issuers),
        issuer_phrases=tuple(issuers.values()),
        kinds=tuple(find_kinds(options)),
        regions=tuple(where),
        region_phrases=tuple(where.values()),
        times=tuple(find_times(text, lems, originals)),
        lemmas=tuple(lems),
        mentions=tuple(sorted([*issuer_mentions, *places], key=lambda m: m.start)),
        options=tuple(options),
        actionables=tuple((a.fact, a.raw) for a in view.actionables),
    )
