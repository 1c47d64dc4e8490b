"""Times as people in Ukraine read them: Kyiv local time, with the zone said in words.

Every sentence Tocsin writes for people (the check's summaries, pages) gives times this way,
so the page, the CLI and the API say the same thing: "1 грудня 2026 р. о 18:10 за київським
часом" / "1 December 2026 at 18:10 Kyiv time".
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

KYIV = ZoneInfo("Europe/Kyiv")
_MONTHS_UK = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня",
              "вересня", "жовтня", "листопада", "грудня")
_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")


def kyiv_words(value: str | float | datetime, lang: str) -> str:
    """``value`` (ISO 8601 with an offset, POSIX seconds, or an aware datetime) in Kyiv time.

    Text that is not a time is returned unchanged (never guessed at).
    """
    try:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, int | float):
            moment = datetime.fromtimestamp(value, KYIV)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value)
    if moment.tzinfo is None:
        return str(value)
    local = moment.astimezone(KYIV)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if lang.startswith("uk"):
        return f"{local.day} {_MONTHS_UK[local.month - 1]} {local.year} р. о {clock} за київським часом"
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year} at {clock} Kyiv time"
