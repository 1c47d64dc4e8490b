"""Which events are pushed and how loudly; the Topic rule; Retry-After; the payload limit."""

from __future__ import annotations

import email.utils
import json
import re
from typing import Any

from tocsin.push.crypto import MAX_PAYLOAD
from tocsin.push.messages import ALL_CLEAR, CHANGE, THREAT, build_payload, loudness, topic_for
from tocsin.push.sender import retry_after_secs

from .conftest import KYIV, make_alert


def _view(**kw: Any) -> dict[str, Any]:
    base = {"id": "a" * 32, "status": "Actual", "class": "threat", "msgType": "Alert",
            "kinds": ["air-raid"], "issuer_name": {"uk": "Повітряні сили", "en": "Air Force"},
            "sent": "2026-12-01T15:00:00+02:00", "links": {}}
    return {**base, **kw}


def test_only_threats_all_clears_and_changes_to_threats_are_pushed() -> None:
    assert loudness(_view(), False) is THREAT
    assert loudness(_view(msgType="Update"), False) is THREAT
    assert loudness(_view(**{"class": "all-clear"}), False) is ALL_CLEAR
    assert loudness(_view(**{"class": "notice"}), False) is None  # a notice never wakes anyone
    assert loudness(_view(**{"class": "notice", "msgType": "Cancel"}), True) is CHANGE
    assert loudness(_view(**{"class": "notice", "msgType": "Cancel"}), False) is None
    assert loudness(_view(**{"class": "denial"}), True) is None
    assert loudness(_view(status="Exercise"), False) is None
    assert THREAT.urgency == "high" and THREAT.ttl <= 900 and THREAT.require_interaction


def test_topics_are_short_base64url_and_never_coordinates() -> None:
    for place in (KYIV, "49.839700,24.029700"):
        topic = topic_for(place)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,32}", topic)
    assert topic_for(KYIV) == KYIV
    assert "49" not in topic_for("49.839700,24.029700")


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_secs("120", 1000.0) == 120.0
    date = email.utils.formatdate(1_796_000_030, usegmt=True)
    assert retry_after_secs(date, 1_796_000_000.0) == 30.0
    assert retry_after_secs("soon", 0.0) is None and retry_after_secs(None, 0.0) is None


def test_a_long_instruction_and_many_places_still_fit_one_message() -> None:
    alert = make_alert("demo-air-force", (KYIV,), instruction="Укриття! " * 2000)
    places = [f"UA{n:017d}" for n in range(300)]
    data = build_payload(view=_view(), alert=alert, language="uk", places=places,
                         place_names=["Дуже довга назва громади " * 3] * 300, how=THREAT,
                         event_id=1, demo=False)
    assert len(data) <= MAX_PAYLOAD


def test_one_message_per_place_met_and_the_last_stands_for_the_rest() -> None:
    from tocsin.push.messages import MAX_MESSAGES_PER_EVENT, place_groups

    assert place_groups((KYIV,)) == [(KYIV,)]
    assert place_groups((KYIV, "UA46060250000025047")) == [(KYIV,), ("UA46060250000025047",)]
    many = tuple(f"UA{n:017d}" for n in range(20))
    groups = place_groups(many)
    assert len(groups) == MAX_MESSAGES_PER_EVENT
    assert groups[:-1] == [(p,) for p in many[: MAX_MESSAGES_PER_EVENT - 1]]
    assert groups[-1] == many[MAX_MESSAGES_PER_EVENT - 1:]
    alert = make_alert("demo-air-force", (KYIV,))
    data = json.loads(build_payload(view=_view(**{"class": "all-clear"}), alert=alert, language="uk",
                                    places=list(groups[-1]), place_names=["x"] * len(groups[-1]),
                                    how=ALL_CLEAR, event_id=1, demo=False))
    assert data["tag"] == f"tocsin-{groups[-1][0]}"
    assert data["tags"] == [f"tocsin-{p}" for p in groups[-1]]  # the worker closes these
