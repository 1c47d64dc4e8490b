"""Name lookup: Ukrainian inflections, colloquial names, transliteration, unit words."""

from __future__ import annotations

import pytest

from tocsin.regions import RegionSet, default_region_set
from tocsin.regions.names import transliterate

KYIV = "UA80000000000093317"
KYIV_OBLAST = "UA32000000000030281"


@pytest.fixture(scope="module")
def rs() -> RegionSet:
    return default_region_set()


@pytest.mark.parametrize(
    ("query", "level", "name_uk"),
    [
        ("Київ", "oblast", "Київ"),
        ("у Києві", "oblast", "Київ"),
        ("до Києва", "oblast", "Київ"),
        ("Київщина", "oblast", "Київська"),
        ("на Київщині", "oblast", "Київська"),
        ("Київська область", "oblast", "Київська"),
        ("Київської області", "oblast", "Київська"),
        ("Kyivska oblast", "oblast", "Київська"),
        ("Kyiv Oblast", "oblast", "Київська"),
        ("Kyiv", "oblast", "Київ"),
        ("KYIV", "oblast", "Київ"),
        ("м. Київ", "oblast", "Київ"),
        ("у Львові", "hromada", "Львівська"),
        ("Львівщина", "oblast", "Львівська"),
        ("Львівська область", "oblast", "Львівська"),
        ("в Одесі", "hromada", "Одеська"),
        ("на Одещині", "oblast", "Одеська"),
        ("Харківщині", "oblast", "Харківська"),
        ("у Харкові", "hromada", "Харківська"),
        ("Дніпрі", "hromada", "Дніпровська"),
        ("у Білій Церкві", "hromada", "Білоцерківська"),
        ("у Кривому Розі", "hromada", "Криворізька"),
        ("Кам'янці-Подільському", "raion", "Кам’янець-Подільський"),
        ("Кам’янець-Подільська громада", "hromada", "Кам’янець-Подільська"),
        ("в Ірпені", "hromada", "Ірпінська"),
        ("у Чернівцях", "hromada", "Чернівецька"),
        ("Славутич", "hromada", "Славутицька"),
        ("Slavutych", "hromada", "Славутицька"),
        ("Коцюбинське", "hromada", "Коцюбинська"),
        ("Вишгородський район", "raion", "Вишгородський"),
        ("Вишгородського району", "raion", "Вишгородський"),
        ("Vyshhorodskyi Raion", "raion", "Вишгородський"),
        ("Закарпаття", "oblast", "Закарпатська"),
        ("Zakarpattia Oblast", "oblast", "Закарпатська"),
        ("Крим", "oblast", "Автономна Республіка Крим"),
        ("Автономної Республіки Крим", "oblast", "Автономна Республіка Крим"),
        ("Ivano-Frankivsk Oblast", "oblast", "Івано-Франківська"),
        ("Запоріжжя", "oblast", "Запорізька"),
    ],
)
def test_names_find_the_right_region_first(rs: RegionSet, query: str, level: str, name_uk: str) -> None:
    found = rs.find_by_name(query)
    assert found, f"nothing found for {query!r}"
    assert (found[0].level, found[0].name_uk) == (level, name_uk)


def test_unit_words_narrow_the_level(rs: RegionSet) -> None:
    assert {r.level for r in rs.find_by_name("Львівська")} == {"oblast", "hromada"}
    assert [r.level for r in rs.find_by_name("Львівська громада")] == ["hromada"]
    assert [r.level for r in rs.find_by_name("Львівська обл")] == ["oblast"]
    assert [r.code for r in rs.find_by_name("Kyiv")] == [KYIV, KYIV_OBLAST]
    assert [r.code for r in rs.find_by_name("Kyiv Oblast")] == [KYIV_OBLAST, KYIV]


def test_language_filter(rs: RegionSet) -> None:
    assert rs.find_by_name("Київ", lang="en") == []
    assert rs.find_by_name("Kyiv", lang="uk") == []
    assert rs.find_by_name("Київ", lang="uk")[0].code == KYIV
    with pytest.raises(ValueError, match="lang"):
        rs.find_by_name("Київ", lang="de")


@pytest.mark.parametrize("query", ["", "   ", "Атлантида", "у", "Paris", "область"])
def test_no_match_is_empty(rs: RegionSet, query: str) -> None:
    assert rs.find_by_name(query) == []


@pytest.mark.parametrize(
    ("ukrainian", "latin"),
    [  # examples from the transliteration table of CMU Resolution No. 55
        ("Згорани", "Zghorany"),
        ("Розгон", "Rozghon"),
        ("Єнакієве", "Yenakiieve"),
        ("Їжакевич", "Yizhakevych"),
        ("Кадиївка", "Kadyivka"),
        ("Йосипівка", "Yosypivka"),
        ("Юрій", "Yurii"),
        ("Яготин", "Yahotyn"),
        ("Костянтин", "Kostiantyn"),
        ("Знам'янка", "Znamianka"),
        ("Щербухи", "Shcherbukhy"),
        ("Гаврилюк", "Havryliuk"),
    ],
)
def test_transliteration(ukrainian: str, latin: str) -> None:
    assert transliterate(ukrainian) == latin.lower()


def test_every_region_is_found_by_each_of_its_names(rs: RegionSet) -> None:
    missed = [
        (region.code, name)
        for region in rs
        for name in (region.name_uk, region.name_uk_full, region.name_en)
        if region not in rs.find_by_name(name)
    ]
    assert missed == []


def test_raion_word_also_means_city_district(rs: RegionSet) -> None:
    found = rs.find_by_name("Печерський район")
    assert [(r.level, r.oblast) for r in found] == [("district", KYIV)]
    assert rs.find_by_name("Autonomous Republic of Crimea")[0].code == "UA01000000000013043"
