"""Emoji that state something: a prohibition, a hazard, a place (a flag), a kind of threat.

Issue 11 lets emoji stand around an exact copy as framing ("🚨", "🙏", "❤️"): they
add feeling, not facts. A few emoji are read by everyone as words, and then they are
claims the alert must back like any other (the reviewer's cases: "Повітряна тривога в
Києві 🚫🏠" says *do not stay home*, "❌🚇" *the metro is closed*, "📵" *switch your phone
off*, "☢️" *a nuclear hazard*, "🇷🇺" *a Russian place or speaker*):

* prohibition signs (🚫 ❌ ⛔ 🛑 ✖ ❎ 🙅 📵 🔇 🔕 🚷 🚳 🚯 🚱 🔞): an instruction or a "no";
* hazard signs (☢ ☣ ☠): a kind of danger no alert here states by emoji;
* flags (two regional-indicator letters, or a tag sequence): a place. A flag of the
  country an alert's area lies in (🇺🇦 for a Ukrainian region code) is backed;
* kind emoji (🚀 missile, 🛸 🛩 drone): backed when the alert is of that kind;
* mockery (😂 🤣 😆 😹 🤡 🙄): calls the alert a joke, as "лол" or "Фейк!" would.

Each is backed when the alert's own text has it. Everything else (🚨 ⚠️ 🙏 ❤️ 😱 🏠 …)
stays framing: an object alone ("🏠") says nothing the words around it do not.
Invariant: :func:`emoji_claims` returns only what is not backed, in message order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PROHIBITION = frozenset("🚫❌⛔🛑✖❎🙅📵🔇🔕🚷🚳🚯🚱🔞")
HAZARD = frozenset("☢☣☠")
MOCKERY = frozenset("😂🤣😆😹🤡🙄")  # "лол": calling the alert a joke, like "Фейк!"
KIND_EMOJI = {"🚀": frozenset({"missile"}), "🛸": frozenset({"drone"}),
              "🛩": frozenset({"drone"})}
_RI_FIRST, _RI_LAST = 0x1F1E6, 0x1F1FF  # regional indicator letters A..Z
_TAG_FLAG = "\U0001F3F4"  # 🏴 + tag letters (subdivision flags)


@dataclass(frozen=True, slots=True)
class EmojiClaim:
    what: str  # "prohibition", "hazard", "flag", "kind", "mockery"
    emoji: str
    country: str = ""  # for a flag: its two letters


def _flags(text: str) -> Iterable[tuple[int, int, str]]:
    i = 0
    while i < len(text) - 1:
        a, b = ord(text[i]), ord(text[i + 1])
        if _RI_FIRST <= a <= _RI_LAST and _RI_FIRST <= b <= _RI_LAST:
            yield i, i + 2, chr(a - _RI_FIRST + 65) + chr(b - _RI_FIRST + 65)
            i += 2
        else:
            i += 1


def emoji_claims(text: str, *, alert_text: str, kinds: Iterable[str],
                 countries: Iterable[str]) -> list[EmojiClaim]:
    """The emoji of ``text`` that state something the alert (its text, kinds, area) does not."""
    kinds, countries = set(kinds), {c.upper() for c in countries}
    out: list[tuple[int, EmojiClaim]] = []
    for start, _end, country in _flags(text):
        flag = text[start:start + 2]
        if country not in countries and flag not in alert_text:
            out.append((start, EmojiClaim("flag", flag, country)))
    for pos, char in enumerate(text):
        if char in alert_text:
            continue
        if char in PROHIBITION:
            out.append((pos, EmojiClaim("prohibition", char)))
        elif char in HAZARD:
            out.append((pos, EmojiClaim("hazard", char)))
        elif char in MOCKERY:
            out.append((pos, EmojiClaim("mockery", char)))
        elif char in KIND_EMOJI and not KIND_EMOJI[char] & kinds:
            out.append((pos, EmojiClaim("kind", char)))
        elif char == _TAG_FLAG and pos + 1 < len(text) and 0xE0000 <= ord(text[pos + 1]) <= 0xE007F:
            out.append((pos, EmojiClaim("flag", char)))
    out.sort(key=lambda p: p[0])
    return [c for _, c in out]
