"""Find regions by name, in Ukrainian (inflected) or in Latin transliteration.

People write "у Києві", "Київщина", "Kyivska oblast", "Lviv". Rather than
stemming queries (Ukrainian stems alternate: Київ/Києва, Львів/Львова, Ірпінь/
Ірпеня, so a stemmer either over- or under-matches), we *generate* the case
forms of every name once and look queries up exactly. A generated form that
no one writes costs a dictionary entry, never a false match on another name.

Indexed for each region: its Ukrainian name, its English name, the national
transliteration (CMU Resolution No. 55, 2010) of the Ukrainian name, and for
oblasts the colloquial "-щина" names. Cities (KATOTTG category M) map to the
hromada they lead: "Славутич" finds Славутицька громада.

Unit words in the query ("область", "району", "hromada", "oblast") are not
part of names; they narrow the result to that level when it has a match.
"""

from __future__ import annotations

import csv
import itertools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from tocsin.regions.hierarchy import Level

if TYPE_CHECKING:
    from tocsin.regions.hierarchy import Region, RegionSet

Lang = Literal["uk", "en"]

_APOSTROPHES = "’'ʼ`‘ʹ"  # all the apostrophes Ukrainian text uses
_CYRILLIC = re.compile(r"[а-яґєії]")
_TOKEN = re.compile(r"[a-zа-яґєії'][a-zа-яґєії'\-]*")


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOP_WORDS = _wordset(
    "у в на з із зі до від по біля для м міста місті місто місту містом смт "
    "in at of the near city town to for"
)
_LEVEL_WORDS: dict[str, tuple[Level, ...]] = {}
_LEVEL_TABLE: tuple[tuple[str, tuple[Level, ...]], ...] = (
    ("область області областю обл oblast oblasti region", ("oblast",)),
    ("район району районі районом р-н raion rayon", ("raion", "district")),
    ("громада громади громаді громаду громадою тг hromada hromady community", ("hromada",)),
    ("district", ("raion", "district")),
)
for _words, _levels in _LEVEL_TABLE:
    for _word in _words.split():
        _LEVEL_WORDS[_word] = _levels
_TYPE_WORDS = _wordset(
    "територіальна територіальної територіальній територіальну міська міської міській "
    "сільська сільської сільській селищна селищної селищній terytorialna miska silska "
    "selyshchna"
)

_NOT_NAME_WORDS = _STOP_WORDS | _TYPE_WORDS | frozenset(_LEVEL_WORDS)

#: Colloquial oblast names, keyed by the oblast's KATOTTG two-digit number.
_COLLOQUIAL: dict[str, tuple[str, ...]] = {
    "05": ("вінниччина",),
    "07": ("волинь",),
    "12": ("дніпропетровщина", "дніпровщина"),
    "14": ("донеччина",),
    "18": ("житомирщина",),
    "21": ("закарпаття",),
    "23": ("запоріжжя",),
    "26": ("івано-франківщина", "прикарпаття"),
    "32": ("київщина",),
    "35": ("кіровоградщина", "кропивниччина"),
    "44": ("луганщина",),
    "46": ("львівщина",),
    "48": ("миколаївщина",),
    "51": ("одещина",),
    "53": ("полтавщина",),
    "56": ("рівненщина",),
    "59": ("сумщина",),
    "61": ("тернопільщина",),
    "63": ("харківщина",),
    "65": ("херсонщина",),
    "68": ("хмельниччина",),
    "71": ("черкащина",),
    "73": ("буковина",),
    "74": ("чернігівщина",),
    "01": ("крим",),
}

_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie",
    "ж": "zh", "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l",
    "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u",
    "ф": "f", "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu",
    "я": "ia", "'": "", "-": "-",
}  # fmt: skip
_TRANSLIT_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}


def normalise(text: str) -> str:
    """Lower case, NFC, one apostrophe, single spaces: the form every key is kept in."""
    text = unicodedata.normalize("NFC", text).lower()
    for mark in _APOSTROPHES:
        text = text.replace(mark, "'")
    return " ".join(_TOKEN.findall(text))


def transliterate(text: str) -> str:
    """Ukrainian to Latin by the national system (CMU Resolution No. 55, 27.01.2010)."""
    out: list[str] = []
    previous = " "
    for char in normalise(text).replace("зг", "zgh"):
        at_start = not previous.isalpha() and previous != "'"
        if at_start and char in _TRANSLIT_INITIAL:
            out.append(_TRANSLIT_INITIAL[char])
        else:
            out.append(_TRANSLIT.get(char, char))
        previous = char
    return "".join(out)


def _word_forms(word: str) -> set[str]:
    """Case forms of one Ukrainian word (nominative given), nouns and adjectives."""
    if "-" in word:
        head, _, tail = word.partition("-")
        return {f"{a}-{b}" for a in _word_forms(head) for b in _word_forms(tail)}
    forms = {word}
    if len(word) < 3:
        return forms
    last, stem = word[-1], word[:-1]
    if word.endswith(("ий", "ій")):
        st = word[:-2]
        forms |= {st + e for e in ("ого", "ому", "им", "ім", "ього", "ьому")}
    if last == "а":
        # adjective (Київська -> Київської) and noun (Полтава -> Полтаві) endings
        forms |= {stem + e for e in ("ої", "ій", "у", "ою", "и", "і")}
        soft = {"к": "ц", "г": "з", "х": "с"}.get(stem[-1])
        if soft:
            forms.add(stem[:-1] + soft + "і")  # Церква -> Церкві, Ріка -> Ріці
    elif last == "я":
        forms |= {stem + e for e in ("і", "ї", "ю", "ею", "єю", "ям", "ям")}
    elif last in "ео":
        forms |= {stem + e for e in ("ого", "ому", "им", "ім", "а", "у", "і", "ом", "ові")}
    elif last in "ьй":
        stems = _alternate(stem)
        if word.endswith("ець"):  # fleeting е: Кам'янець -> Кам'янця
            stems.add(word[:-3] + "ц")
        for st in stems:
            forms |= {st + e for e in ("я", "ю", "і", "ем", "еві", "єм", "єві")}
    elif last == "і":  # plural names: Чернівці -> Чернівців, Чернівцях
        forms |= {stem + e for e in ("ів", "ям", "ях", "ями", "ам", "ах", "ами")}
    elif last.isalpha():
        stems = _alternate(word)
        if word.endswith("ок"):  # Городок -> Городка
            stems.add(word[:-2] + "к")
        for st in stems:
            forms |= {st + e for e in ("а", "у", "і", "ом", "ові", "я", "ю", "ем", "еві")}
            soft = {"к": "ц", "г": "з", "х": "с"}.get(st[-1])
            if soft:
                forms.add(st[:-1] + soft + "і")  # Ріг -> Розі
    return forms


def _alternate(stem: str) -> set[str]:
    """Stems with the closed-syllable і/ї of the nominative restored (Київ -> Києв-)."""
    out = {stem}
    if len(stem) >= 3 and stem[-2] in "ії" and stem[-1].isalpha():
        for vowel in ("о", "е") if stem[-2] == "і" else ("є",):
            out.add(stem[:-2] + vowel + stem[-1])
    return out


def _phrase_forms(name: str) -> set[str]:
    words = normalise(name).split()
    if not words:
        return set()
    if len(words) > 3:
        return {" ".join(words)}
    return {" ".join(combo) for combo in itertools.product(*(_word_forms(w) for w in words))}


def _strip_units(name: str) -> str:
    """The words of a name a query must match: no unit, type or stop words.

    Queries are reduced the same way in :meth:`NameIndex.find`, so a name
    like "Autonomous Republic of Crimea" matches itself.
    """
    words = normalise(name).split()
    return " ".join(w for w in words if w not in _NOT_NAME_WORDS)


@dataclass(frozen=True, slots=True)
class _Hit:
    rank: int  # 0: the region's own name; 1: a colloquial or settlement name
    code: str
    unit: bool = False  # the name matched only once its unit word was dropped


class NameIndex:
    """Every case form and spelling of every name, mapped to region codes."""

    def __init__(self, regions: RegionSet, cities: Iterable[tuple[str, str]] = ()) -> None:
        self.regions = regions
        self._keys: dict[str, set[_Hit]] = {}
        for region in regions:
            full = _strip_units(region.name_uk_full)
            unit = full != normalise(region.name_uk_full)
            self._add_uk(_strip_units(region.name_uk), _Hit(0, region.code, unit))
            self._add_uk(full, _Hit(0, region.code, unit))
            english = _strip_units(region.name_en)
            self._add(english, _Hit(0, region.code, english != normalise(region.name_en)))
            self._add(transliterate(_strip_units(region.name_uk)), _Hit(0, region.code, unit))
            if region.level == "oblast":
                for colloquial in _COLLOQUIAL.get(region.code[2:4], ()):
                    self._add_uk(colloquial, _Hit(1, region.code))
                    self._add(transliterate(colloquial), _Hit(1, region.code))
        for city, hromada in cities:
            if hromada in regions:
                self._add_uk(_strip_units(city), _Hit(1, hromada))
                self._add(transliterate(_strip_units(city)), _Hit(1, hromada))

    def _add(self, key: str, hit: _Hit) -> None:
        if key:
            self._keys.setdefault(key, set()).add(hit)

    def _add_uk(self, name: str, hit: _Hit) -> None:
        for form in _phrase_forms(name):
            self._add(form, hit)

    def find(self, text: str, lang: Lang | None = None) -> list[Region]:
        """Regions named by ``text``, best first (own names, then by level and code)."""
        words = normalise(text).split()
        levels: set[Level] = set()
        kept: list[str] = []
        for word in words:
            if word in _LEVEL_WORDS:
                levels.update(_LEVEL_WORDS[word])
            elif word not in _STOP_WORDS and word not in _TYPE_WORDS:
                kept.append(word)
        key = " ".join(kept)
        if not key:
            return []
        if lang is not None and (lang == "uk") != bool(_CYRILLIC.search(key)):
            return []
        hits = self._keys.get(key, set())
        best: dict[str, tuple[int, int]] = {}
        for hit in hits:
            # With a unit word in the query ("Kyiv Oblast"), prefer names that
            # carry one (Kyiv Oblast) over names that do not (Kyiv city).
            score = (hit.rank, 0 if hit.unit == bool(levels) else 1)
            best[hit.code] = min(best.get(hit.code, score), score)
        found = [self.regions.require(code) for code in best]
        if levels and any(r.level in levels for r in found):
            found = [r for r in found if r.level in levels]
        order = {"oblast": 0, "raion": 1, "hromada": 2, "district": 3}
        found.sort(key=lambda r: (best[r.code], order[r.level], r.code))
        return found


def read_cities(text: str) -> list[tuple[str, str]]:
    """Parse the shipped ``katottg_cities.csv``: (settlement name, hromada code) pairs."""
    return [
        (row["name_uk"], row["hromada_katottg"].strip().upper()) for row in csv.DictReader(text.splitlines())
    ]
