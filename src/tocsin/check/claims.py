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
from tocsin.check.normalise import fold_token, tokens
from tocsin.regions import RegionSet
from tocsin.regions.names import transliterate
from tocsin.trust.registry import Registry

_WORD = re.compile(r"[\w'’ʼ-]+", re.UNICODE)
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b")
_DATE_NUM = re.compile(r"\b(0?[1-9]|[12]\d|3[01])\.(0?[1-9]|1[0-2])(?:\.(\d{2,4}))?\b")
_MAX_REGIONS_PER_NAME = 2  # a name shared by more places than this is too vague to count


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
            found.setdefault(issuer_id, " ".join(originals[i:i + n]))
            i += n
        return list(found.items())


def _original_words(text: str) -> list[str]:
    """The message's words with their case, aligned one to one with :func:`tokens`."""
    out: list[str] = []
    for word in _WORD.findall(text):
        for part in tokens(word):
            out.append(word if len(tokens(word)) == 1 else part)
    return out


def find_regions(text: str, regions: RegionSet) -> list[tuple[str, str]]:
    """(region code, phrase) for each place named: capitalised words, 1 to 3 long."""
    words = _original_words(text)
    found: dict[str, str] = {}
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
                found.setdefault(matches[0].code, phrase)
                i += n
                hit = True
                break
        if not hit:
            i += 1
    return list(found.items())


_KIND_SEQS = {kind: tuple(tuple(p.split()) for p in phrases)
              for kind, phrases in lexicon.KIND_PHRASES.items()}


def find_kinds(options: list[frozenset[str]]) -> list[str]:
    """Kinds whose words the message uses (in any case form)."""
    return [kind for kind, seqs in _KIND_SEQS.items()
            if any(lexicon.phrase_at(options, i, seq)
                   for seq in seqs for i in range(len(options)))]


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


def read_claims(text: str, names: IssuerNames, regions: RegionSet) -> Claims:
    """Everything :class:`Claims` holds, read from ``text``."""
    toks = tokens(text)
    lems = lexicon.lemmas(toks)
    options = [lexicon.lemma_options(t) for t in toks]
    originals = _original_words(text)
    if len(originals) != len(toks):  # pathological splitting: fall back to normal tokens
        originals = toks
    issuers = names.find(options, originals)
    places = find_regions(text, regions)
    return Claims(
        issuers=tuple(i for i, _ in issuers),
        issuer_phrases=tuple(p for _, p in issuers),
        kinds=tuple(find_kinds(options)),
        regions=tuple(c for c, _ in places),
        region_phrases=tuple(p for _, p in places),
        times=tuple(find_times(text, lems, originals)),
        lemmas=tuple(lems),
    )
