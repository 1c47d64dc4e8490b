"""Word lists and the lemmatiser the claim reader uses (Ukrainian, Russian, English).

Inflection is handled by dictionaries, not by guessing suffixes: ``pymorphy3``
with its shipped Ukrainian and Russian dictionaries (no download at run time)
turns "Повітряних сил", "розвідки", "Харькове" into lemmas. English gets a
plain plural strip. Every list here is matched on lemmas, so one entry covers
all case forms.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import pymorphy3  # type: ignore[import-untyped]

_UK_ONLY = re.compile(r"[ієїґ]")
_RU_ONLY = re.compile(r"[ыэъё]")
_CYRILLIC = re.compile(r"[а-яёієїґ]")


@functools.cache
def _analyzer(lang: str) -> Any:
    return pymorphy3.MorphAnalyzer(lang=lang)


@functools.lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    """The dictionary form of one normalised token (see :mod:`tocsin.check.normalise`)."""
    if not _CYRILLIC.search(token):
        if token.isascii() and token.isalpha() and len(token) > 3 and token.endswith("s") \
                and not token.endswith("ss"):
            return token[:-1]
        return token
    langs: tuple[str, ...]
    if _RU_ONLY.search(token):
        langs = ("ru",)
    elif _UK_ONLY.search(token):
        langs = ("uk",)
    else:
        langs = ("uk", "ru")
    for lang in langs:
        analyzer = _analyzer(lang)
        if analyzer.word_is_known(token) or lang == langs[-1]:
            form: str = analyzer.parse(token)[0].normal_form
            return form.replace("ё", "е")
    return token  # pragma: no cover - loop always returns


def lemmas(tokens: list[str]) -> list[str]:
    return [lemma(t) for t in tokens]


@functools.lru_cache(maxsize=200_000)
def lemma_options(token: str) -> frozenset[str]:
    """Every lemma any reading of ``token`` has, in either language (for phrase matching).

    Short Cyrillic words are often known to both dictionaries with different
    readings ("главное" is a Ukrainian-unknown Russian adjective but a Russian
    noun too), so phrases match if *any* reading fits.
    """
    options = {token, lemma(token)}
    if _CYRILLIC.search(token):
        for lang in ("uk", "ru"):
            if (lang == "uk" and _RU_ONLY.search(token)) or (lang == "ru" and _UK_ONLY.search(token)):
                continue
            for parse in _analyzer(lang).parse(token)[:4]:
                options.add(str(parse.normal_form).replace("ё", "е"))
    return frozenset(options)


def phrase_at(options: list[frozenset[str]], i: int, phrase: tuple[str, ...]) -> bool:
    """Whether the lemma ``phrase`` starts at position ``i`` of a message's lemma options."""
    if i + len(phrase) > len(options):
        return False
    return all(word in options[i + k] for k, word in enumerate(phrase))


# Institutional words, Ukrainian lemma -> Russian lemma: lets an issuer's
# Ukrainian name match a Russian-language post ("Главное управление разведки").
UK_TO_RU = {
    "повітряний": "воздушный", "збройний": "вооруженный", "україна": "украина",
    "головний": "главный", "управління": "управление", "розвідка": "разведка",
    "міністерство": "министерство", "воєнний": "военный", "військовий": "военный",
    "київський": "киевский", "міський": "городской", "адміністрація": "администрация",
    "демонстраційний": "демонстрационный", "республіка": "республика", "зсу": "всу",
    "сила": "сила", "оборона": "оборона", "посольство": "посольство",
}  # fmt: skip

# Russian exonyms of oblasts and their centres -> the Ukrainian name the region index knows.
RU_PLACES = {
    "киев": "Київ", "киевский": "Київська область", "киевщина": "Київщина",
    "харьков": "Харків", "харьковский": "Харківська область", "львов": "Львів",
    "львовский": "Львівська область", "одесса": "Одеса", "одесский": "Одеська область",
    "днепр": "Дніпро", "днепропетровский": "Дніпропетровська область",
    "запорожье": "Запоріжжя", "запорожский": "Запорізька область", "херсон": "Херсон",
    "херсонский": "Херсонська область", "николаев": "Миколаїв",
    "николаевский": "Миколаївська область", "сумы": "Суми", "сумской": "Сумська область",
    "чернигов": "Чернігів", "черниговский": "Чернігівська область", "полтава": "Полтава",
    "полтавский": "Полтавська область", "винница": "Вінниця",
    "винницкий": "Вінницька область", "житомир": "Житомир",
    "житомирский": "Житомирська область", "ровно": "Рівне", "ровенский": "Рівненська область",
    "луцк": "Луцьк", "волынский": "Волинська область", "ужгород": "Ужгород",
    "закарпатский": "Закарпатська область", "тернополь": "Тернопіль",
    "тернопольский": "Тернопільська область", "черкассы": "Черкаси",
    "черкасский": "Черкаська область", "донецк": "Донецьк", "донецкий": "Донецька область",
    "луганск": "Луганськ", "луганский": "Луганська область", "черновцы": "Чернівці",
    "черновицкий": "Чернівецька область", "кировоградский": "Кіровоградська область",
    "кропивницкий": "Кропивницький", "крым": "Крим",
}  # fmt: skip


def _words(text: str) -> list[str]:
    return text.split()


def _lemma_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Kind words (lemmas; a phrase is matched word by word in order).
KIND_PHRASES: dict[str, tuple[str, ...]] = {
    "air-raid": ("повітряний тривога", "тривога", "воздушный тревога", "тревога", "air raid",
                 "raid", "air alert", "сирена", "siren"),
    "missile": ("ракета", "ракетний", "балістика", "балістичний", "ракетный", "баллистика",
                "баллистический", "missile", "ballistic", "кинджал", "калібр", "іскандер"),
    "drone": ("бпла", "дрон", "шахед", "безпілотник", "беспилотник", "drone", "uav", "shahed"),
    "shelling": ("обстріл", "артобстріл", "обстрел", "shelling", "artillery", "артилерія"),
    "threat-notice": ("удар", "атака", "strike", "attack", "загроза", "угроза", "threat"),
    "all-clear": ("відбій", "отбой", "all clear"),
    "facility-closed": ("зачинений", "закритий", "закрытый", "closed"),
    "denial": ("фейк", "спростування", "fake", "фейковий", "фейковый"),
}

SEVERITY_LEMMAS = _lemma_set(
    "масований масштабний наймасованіший критичний екстрений терміново негайно масований "
    "массированный массированн масштабный срочно немедленно критический massive urgent "
    "immediately critical extreme major severe"
)
NEGATION_LEMMAS = _lemma_set("не ні нема немає нет not no dont never ніколи никогда без")
MONTHS = {
    **{m: i + 1 for i, m in enumerate(_words(
        "січень лютий березень квітень травень червень липень серпень вересень жовтень "
        "листопад грудень"))},
    **{m: i + 1 for i, m in enumerate(_words(
        "январь февраль март апрель май июнь июль август сентябрь октябрь ноябрь "
        "декабрь"))},
    **{m: i + 1 for i, m in enumerate(_words(
        "january february march april may june july august september october november "
        "december"))},
}
TIME_LEMMAS = _lemma_set(
    "сьогодні завтра вчора вночі ніч ранок вечір вечора день година хвилина зранку ввечері "
    "сегодня вчера ночь ночью утро вечер час минута today tonight tomorrow yesterday "
    "morning evening night hour minute noon midnight"
) | frozenset(MONTHS)
INSTRUCTION_LEMMAS = _lemma_set(
    "укриття сховище евакуація евакуюватися прямувати залишатися виходити укрытие убежище "
    "эвакуация shelter evacuate stay leave go remain"
)

# Words whose removal from a sentence changes what it claims: an excerpt may
# leave out whole sentences or plain words, never these from a sentence it keeps.
QUALIFIER_LEMMAS = NEGATION_LEMMAS | _lemma_set(
    "можливий можливо ймовірно ймовірний імовірно імовірний лише тільки щонайменше приблизно "
    "орієнтовно тимчасово тимчасовий частково якщо поки крім окрім "
    "возможный возможно вероятно вероятный только лишь минимум приблизительно временно "
    "временный частично если пока кроме "
    "potential potentially possible possibly may might likely probably only least "
    "approximately temporarily temporary partially partly if unless until except "
    # how sure, how specific, why: "specific information", "out of an abundance of caution"
    "specific unconfirmed reportedly caution precaution precautionary "
    "конкретний непідтверджений обережність запобіжний "
    "конкретный неподтвержденный осторожность"
)
# A call to spread the message, and an app or file to install: actionable claims.
FORWARD_LEMMAS = _lemma_set(
    "переслати пересилати поширити поширювати розіслати розсилати репостнути "
    "переслать пересылать распространить распространять разослать поделиться "
    "forward share repost spread"
)
APP_LEMMAS = _lemma_set(
    "застосунок додаток програма бот завантажити встановити скачати "
    "приложение программа бот скачать установить загрузить "
    "app application bot download install apk"
)
# A message that says the alert is a drill or a test claims a status.
STATUS_LEMMAS = _lemma_set(
    "навчання навчальний тренування тест тестовий учения учебный тренировка "
    "drill exercise test"
)
# Residents' names -> the place the region index knows (lemmas, uk and ru).
DEMONYMS = {
    "киянин": "Київ", "киевлянин": "Київ", "одесит": "Одеса", "одессит": "Одеса",
    "харківянин": "Харків", "харьковчанин": "Харків", "харьковчане": "Харків",
    "львівянин": "Львів", "львівяна": "Львів", "львовянин": "Львів",
    "дніпрянин": "Дніпро", "днепрянин": "Дніпро", "криворіжець": "Кривий Ріг",
    "криворожанин": "Кривий Ріг", "запоріжець": "Запоріжжя", "запорожец": "Запоріжжя",
    "сумчанин": "Суми", "сумчан": "Суми", "херсонець": "Херсон", "херсонец": "Херсон",
    "миколаївець": "Миколаїв", "николаевец": "Миколаїв", "вінничанин": "Вінниця",
    "полтавець": "Полтава", "полтавчанин": "Полтава", "чернігівець": "Чернігів",
    "житомирянин": "Житомир", "черкащанин": "Черкаси", "харківяни": "Харків",
}  # fmt: skip
