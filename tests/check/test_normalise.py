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
