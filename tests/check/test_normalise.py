"""The normal form a denial hashes: each rule of its definition, and its stability."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from tocsin.check.normalise import fold_token, normal_form, normal_sha256, tokens


def test_case_punctuation_emoji_and_spacing_fold_away() -> None:
    posted = "‼️ ГУР МО попереджає:\n\n  Сьогодні ВНОЧІ — масований удар!!! 🚀🚀"
    assert normal_form(posted) == "гур мо попереджає сьогодні вночі масований удар"


def test_apostrophes_inside_words_are_removed_whatever_the_mark() -> None:
    forms = ["обʼєкт", "об'єкт", "об’єкт", "об`єкт"]
    assert {normal_form(f) for f in forms} == {"обєкт"}


def test_nfkc_folds_full_width_and_compatibility_characters() -> None:
    assert normal_form("ＫＹＩＶ ２２：００") == "kyiv 22 00"
    assert normal_form("ﬁre") == "fire"


def test_latin_look_alikes_in_a_cyrillic_word_become_cyrillic() -> None:
    # "Київ" with Latin K and i; "тривога" with Latin o and a.
    assert normal_form("Kиїв") == "київ"
    assert normal_form("тривoгa") == "тривога"
    assert fold_token("tрива") == "трива"


def test_cyrillic_look_alikes_in_a_latin_word_become_latin() -> None:
    assert normal_form("Аir raid") == "air raid"  # Cyrillic А
    assert normal_form("strikе") == "strike"  # Cyrillic е


def test_single_script_tokens_are_left_alone() -> None:
    assert tokens("Kyiv Київ") == ["kyiv", "київ"]


def test_hash_is_sha256_of_the_utf8_normal_form() -> None:
    expected = hashlib.sha256("гур попереджає".encode()).hexdigest()
    assert normal_sha256("ГУР попереджає!") == expected
    assert normal_sha256("  гур\tПОПЕРЕДЖАЄ 🙏") == expected
    assert normal_sha256("ГУР не попереджає") != expected


@given(st.text(max_size=200))
def test_normal_form_is_idempotent(text: str) -> None:
    once = normal_form(text)
    assert normal_form(once) == once


@given(st.text(max_size=200))
def test_normal_form_has_only_letters_digits_and_single_spaces(text: str) -> None:
    form = normal_form(text)
    assert "  " not in form and form == form.strip()
    assert all(c == " " or c.isalnum() for c in form)


def _tokens_by_definition(text: str) -> list[str]:
    """The module docstring's steps 1-5, character by character (the reference)."""
    import unicodedata

    from tocsin.check.normalise import _APOSTROPHES, _SEPARATORS, fold_token

    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf").casefold()
    text = _APOSTROPHES.sub("", text)
    out = []
    for raw in _SEPARATORS.sub(" ", text).split():
        token = "".join(c for c in raw if unicodedata.category(c)[0] in "LN")
        if token:
            out.append(fold_token(token))
    return out


def test_every_alphanumeric_character_is_a_letter_or_a_digit() -> None:
    """``tokens`` keeps a run of word characters whole when ``str.isalnum()`` says it is one
    (checked in C): that holds only while Python's Unicode data puts every such character in
    L* or N*. A Python whose data did not would fail here, not change the normal form."""
    import unicodedata

    odd = [hex(i) for i in range(0x110000)
           if chr(i).isalnum() and unicodedata.category(chr(i))[0] not in "LN"]
    assert odd == []


def test_the_fast_paths_give_the_normal_form_by_definition() -> None:
    import random

    from tocsin.check.normalise import tokens

    rng = random.Random(7)
    alphabet = ("абвгґдеєжзиіїйклмнопрстуфхцчшщьюяАБВЇЄҐ abcdefxyzKYIV 0123456789 ²½Ⅻ٣ "
                "\n\t\r.,!?;:—–-«»\"'’ʼ`_/\\()[]{}#@%&*+=<>|~^ 🚨⚠️👍🏽 \u200b\u200d\u00ad\u2066"
                "\ufeff\u0301\u0489 ｋｙｉｖ ﬁ")
    texts = ["Повітряна тривога у м. Києві! Укриття — негайно.\nAir raid: Kyiv 22:00",
             "Льв\u200bові обʼєкт об'єкт Kyїv ｋｙｉｖ ﬁle"]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))) for _ in range(3000)]
    for text in texts:
        assert tokens(text) == _tokens_by_definition(text), repr(text)
