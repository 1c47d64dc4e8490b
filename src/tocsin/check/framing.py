"""Framing: the few words around a copied alert that are not claims.

Issue 11's rule: a message is ``authentic`` only when it adds nothing the
alert does not say. People still forward with a line of their own, so a
narrow set of words is *framing*, allowed around an exact copy:

* forwarding and attribution: "Переслано від …", "Forwarded from …",
  "… пишуть:", "(с) …" — the speaker named there must still be the alert's
  issuer (that is checked as a claim, not here);
* attention and well-wishes: "Увага!", "Важливо", "Бережіть себе",
  "Stay safe", "Держитесь", "Не ігноруйте";
* addressing the reader: "Друзі", "Сусіди", "рідні", "everyone";
* small function words ("і", "це", "the", "вот"), decorative emoji and
  punctuation (which are never tokens). Emoji that state something — a "no"
  sign, a hazard, a flag, mockery — are claims (:mod:`tocsin.check.emoji`).

Everything else — a verb telling people to do something, a place, a time,
a number, a negation, a link, a phone number, an app, "перешліть усім" — is
a claim and must be backed by the alert. The phrases are matched as exact
normal-form tokens, never by lemma: "переслано" (forwarded) is framing,
"перешліть" (forward it!) is a claim, though both have the lemma "переслати".
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from tocsin.check.normalise import tokens

_FRAMING_PHRASES = (
    # forwarding and attribution (uk, ru, en)
    "переслано від", "переслано з", "переслано", "пересилаю від", "пересилаю", "джерело",
    "пишуть у", "пишуть в", "повідомили", "попередили",
    "пишуть", "пише", "повідомляє", "повідомляють", "попереджає", "попереджають", "інформує",
    "офіційно", "офіційне повідомлення", "офіційне попередження",
    "переслано из", "переслано от", "пересылаю", "источник", "пишут", "сообщает", "сообщают",
    "предупреждает", "предупреждают", "официально", "вот что пишут",
    "forwarded from", "forwarded", "forwarding", "source", "says", "writes", "reports",
    "warns", "informs", "official", "via",
    # a pointer to more (the link after it is judged on its own)
    "деталі", "детальніше", "докладніше", "подробиці", "більше інформації", "подробнее",
    "подробности", "больше информации", "details", "more", "read more", "more info",
    # attention
    "увага", "важливо", "внимание", "важно", "attention", "important",
    # well-wishes and heeding
    "бережіть себе", "бережіть себе і рідних", "бережіть себе та рідних", "тримайтеся",
    "будьте обережні", "не ігноруйте", "це серйозно",
    "берегите себя", "держитесь", "будьте осторожны", "не игнорируйте", "это серьезно",
    "это серьёзно",
    "stay safe", "be safe", "take care", "stay strong", "be careful", "dont ignore",
    "do not ignore", "stay safe everyone", "бережіть себе та близьких", "бережіть себе рідні",
    "please", "будь ласка", "пожалуйста", "бережіть себе і своїх рідних",
    # addressing the reader
    "друзі", "сусіди", "рідні", "люди", "друзья", "соседи", "родные", "люди",
    "friends", "neighbours", "neighbors", "everyone", "everybody", "folks",
)

# Single words that carry no claim of their own (checked on the token itself).
def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


FUNCTION_WORDS = _wordset(
    "і й та а але це ця цей ці цю цього ось от вже ще так ну що чи як у в на з із зі до від "
    "по за для про всі всім усі усім все всіх с "
    "и но это эта этот эти вот уже ещё еще во со из от всем всех "
    "the a an and but this that these those it is are so of to in on at for from with by "
    "all here its")
# Unit words: framing only right next to a place name ("у місті Києві", "Kyiv Oblast"),
# where the name is the claim; alone ("…та області") they are a place claim of their own.
UNIT_WORDS = _wordset(
    "місто місті міста м city town город городе г область області oblast region район районі "
    "district громада громаді hromada")


@functools.cache
def _phrases() -> dict[str, list[tuple[str, ...]]]:
    by_head: dict[str, list[tuple[str, ...]]] = {}
    for phrase in _FRAMING_PHRASES:
        seq = tuple(tokens(phrase))
        if seq and seq not in by_head.setdefault(seq[0], []):
            by_head[seq[0]].append(seq)
    for heads in by_head.values():
        heads.sort(key=len, reverse=True)
    return by_head


def framing_spans(words: Sequence[str]) -> set[int]:
    """Positions of ``words`` (normal-form tokens) that are framing phrases."""
    covered: set[int] = set()
    table = _phrases()
    i = 0
    while i < len(words):
        hit = next((len(seq) for seq in table.get(words[i], ())
                    if tuple(words[i:i + len(seq)]) == seq), 0)
        if hit:
            covered.update(range(i, i + hit))
            i += hit
        else:
            i += 1
    return covered
