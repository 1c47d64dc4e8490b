"""The one normal form of a message's text, and its SHA-256 (what a denial names).

A circulating message is reposted with different line breaks, capitals,
emoji, bullets, quotes and sometimes look-alike letters (a Latin ``a`` in a
Cyrillic word, a Cyrillic ``о`` in an English one). A denial must still name
it, so both the denial and the check hash the *normal form*, defined exactly:

1. Unicode NFKC (full-width, ligatures and compatibility digits fold);
   then format characters (Unicode category Cf: zero-width space and joiners,
   soft hyphen, bidirectional marks, BOM) are removed, so an invisible
   character inside a word neither splits it nor hides it ("Льв\u200bові").
2. Case folding (``str.casefold``).
3. Apostrophes inside words are removed (``обʼєкт``, ``об'єкт``, ``об’єкт``
   all become ``обєкт``).
4. Every character that is not a letter or a digit (Unicode categories L*
   and N*) is a separator: punctuation, symbols, emoji, marks, controls.
5. Each token (a maximal run of letters/digits) that mixes Latin and
   Cyrillic letters has its minority-script look-alikes folded into the
   majority script (ties go to Cyrillic); tokens in one script are unchanged.
6. Tokens are joined with single spaces.

``normal_sha256(text)`` is the lowercase hex SHA-256 of the UTF-8 normal form.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

# Latin letter -> Cyrillic look-alike (lower case: folding happens after casefold).
_LATIN_TO_CYRILLIC = {
    "a": "а", "b": "в", "c": "с", "e": "е", "h": "н", "i": "і", "j": "ј", "k": "к",
    "m": "м", "o": "о", "p": "р", "t": "т", "x": "х", "y": "у",
}  # fmt: skip
_CYRILLIC_TO_LATIN = {
    "а": "a", "в": "b", "с": "c", "е": "e", "н": "h", "і": "i", "ј": "j", "к": "k",
    "м": "m", "о": "o", "р": "p", "т": "t", "х": "x", "у": "y", "ї": "i", "ѕ": "s",
}  # fmt: skip
_APOSTROPHES = re.compile(r"(?<=\w)['’ʼ`‘ʹ](?=\w)")
_LATIN = re.compile("[a-z]")
_SEPARATORS = re.compile(r"[^\w]|_", re.UNICODE)
_PRINTABLE_AS_IS = re.compile(r"[\n\r\t]")


def _script(char: str) -> str:
    if "a" <= char <= "z":
        return "latin"
    if "\u0400" <= char <= "\u04ff":
        return "cyrillic"
    return "other"


def fold_token(token: str) -> str:
    """Fold look-alike letters of a mixed-script token into its majority script."""
    # Fast paths, same answer: an ASCII token has no Cyrillic letter, and a token without
    # a Latin letter is in one script (or none) — both come back unchanged.
    if token.isascii() or _LATIN.search(token) is None:
        return token
    latin = sum(1 for c in token if _script(c) == "latin")
    cyrillic = sum(1 for c in token if _script(c) == "cyrillic")
    if not latin or not cyrillic:
        return token
    table = _LATIN_TO_CYRILLIC if cyrillic >= latin else _CYRILLIC_TO_LATIN
    return "".join(table.get(c, c) for c in token)


def tokens(text: str) -> list[str]:
    """The normal form's tokens (steps 1-5 of the module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    # A format character is never printable: text printable apart from its line breaks and
    # tabs holds none (the usual case, checked in C), else each character is asked.
    if not _PRINTABLE_AS_IS.sub(" ", text).isprintable() and any(
            unicodedata.category(c) == "Cf" for c in text):
        text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = text.casefold()
    text = _APOSTROPHES.sub("", text)
    out: list[str] = []
    for raw in _SEPARATORS.sub(" ", text).split():
        # Letters and digits only. A run of \w (no "_") is one already when str.isalnum()
        # says so, checked in C (every isalnum character is in L* or N*: a test holds Python's
        # Unicode data to it); otherwise each character is asked.
        token = raw if raw.isalnum() else "".join(
            c for c in raw if unicodedata.category(c)[0] in "LN")
        if token:
            out.append(fold_token(token))
    return out


def normal_form(text: str) -> str:
    """The exact normal form (see module docstring): tokens joined by single spaces."""
    return " ".join(tokens(text))


def normal_sha256(text: str) -> str:
    """Hex SHA-256 of the UTF-8 normal form: the value a denial carries."""
    return hashlib.sha256(normal_form(text).encode("utf-8")).hexdigest()
