"""What a push message says: which events are pushed, how loudly, and the JSON payload.

Which events wake a person (issue 15, using the classes of :mod:`tocsin.kinds`):

* a **threat** (``Alert`` or ``Update``): loud — ``Urgency: high``, a short TTL, a
  vibration pattern and ``requireInteraction``;
* an **all-clear**: ``Urgency: high`` too (people wait in shelters for it), a longer
  TTL, no vibration pattern beyond the default, and the same ``Topic`` and ``tag`` as
  the place's alert, so it replaces a pending alert at the push service and the alert
  on screen;
* an **Update or Cancel of a threat**: says the alert was changed or withdrawn, same
  ``tag`` (replaces it), quiet;
* **notices are not pushed** (a closed embassy must not wake anyone at 3 a.m.; the map
  lists them), and **denials are never pushed** (they are about a message, not a place,
  and never reach region subscribers). Only ``Actual`` messages are pushed.

The payload (JSON, at most :data:`tocsin.push.crypto.MAX_PAYLOAD` bytes) carries what
the service worker shows and what the alert page needs to verify the alert: its id and
the links to the CAP bytes, the signed statement and the log proof (``links``); tapping
the notification opens ``url``, the alert page, which verifies in the browser.

**One message per place met** (:func:`place_groups`): an event meeting several of one
subscription's places is sent once for each, with that place's ``Topic`` and ``tag``, so an
all-clear for both places replaces, at the push service, a pending alert for either, and on
screen each place's alert. The service worker keeps it to one alarm: a message for an alert
already shown for another place is shown silently. At most :data:`MAX_MESSAGES_PER_EVENT`
messages per subscription per event: beyond that, the last one stands for the remaining
places (its ``Topic`` and ``tag`` are the first of them's; ``tags`` lists theirs, as many as
fit, and the service worker closes those notifications).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from tocsin.cap.model import Alert
from tocsin.kinds import KINDS, KindClass
from tocsin.push.crypto import MAX_PAYLOAD

THREAT_TTL_SECS = 15 * 60  # a threat not delivered in 15 minutes is old news; the map has it
ALL_CLEAR_TTL_SECS = 60 * 60
CHANGE_TTL_SECS = 60 * 60
VIBRATE_THREAT = (500, 200, 500, 200, 500, 200, 1000)
MAX_INSTRUCTION_CHARS = 600
MAX_PLACES_NAMED = 6
MAX_MESSAGES_PER_EVENT = 8  # per subscription: a person's places, not a wall of notifications
LANGUAGES = ("uk", "en")


@dataclass(frozen=True, slots=True)
class Loudness:
    """How a class of message is sent: RFC 8030 urgency and TTL, and how it shows."""

    urgency: str
    ttl: int
    require_interaction: bool
    vibrate: tuple[int, ...]


THREAT = Loudness("high", THREAT_TTL_SECS, True, VIBRATE_THREAT)
ALL_CLEAR = Loudness("high", ALL_CLEAR_TTL_SECS, False, (200, 100, 200))
CHANGE = Loudness("normal", CHANGE_TTL_SECS, False, ())

_TEXT = {
    "uk": {"cancelled": "Скасовано", "updated": "Оновлено", "demo": "ДЕМО", "more": "ще {n}",
           "all-clear": "Відбій тривоги"},
    "en": {"cancelled": "Cancelled", "updated": "Updated", "demo": "DEMO", "more": "{n} more",
           "all-clear": "All clear"},
}


def loudness(view: dict[str, Any], references_threat: bool) -> Loudness | None:
    """How to push an event whose alert view is ``view`` (None: not pushed).

    ``references_threat``: an Update or Cancel names at least one threat (looked up by
    the caller in the store), so the people that alert woke are told it changed.
    """
    if view.get("status") != "Actual":
        return None
    klass = view.get("class")
    msg_type = view.get("msgType")
    if klass == KindClass.DENIAL.value:
        return None
    if klass == KindClass.ALL_CLEAR.value:
        return ALL_CLEAR
    if klass == KindClass.THREAT.value and msg_type in ("Alert", "Update"):
        return THREAT
    if msg_type in ("Update", "Cancel") and references_threat:
        return CHANGE
    return None


def topic_for(place: str) -> str:
    """RFC 8030 ``Topic`` (<= 32 base64url characters) and notification tag of a place.

    A region's code is its own topic; a point's is a hash of its coordinates (never the
    coordinates themselves: the push service sees the topic).
    """
    if place.startswith("UA") and place.isalnum() and len(place) <= 32:
        return place
    return "pt" + hashlib.sha256(place.encode()).hexdigest()[:24]


def place_groups(places: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The messages one subscription gets for one event: a group of places each.

    ``places`` are the places met, in the person's order. Each gets a message of its own
    (its own ``Topic`` and ``tag``) up to :data:`MAX_MESSAGES_PER_EVENT`; the last message
    stands for every place left over.
    """
    if len(places) <= MAX_MESSAGES_PER_EVENT:
        return [(place,) for place in places]
    head = MAX_MESSAGES_PER_EVENT - 1
    return [*((place,) for place in places[:head]), places[head:]]


def tag_for(place: str) -> str:
    """The notification tag of a place (its Topic, prefixed)."""
    return "tocsin-" + topic_for(place)


def _info_for(alert: Alert, language: str) -> Any:
    for info in alert.info:
        if info.language.lower().startswith(language):
            return info
    return alert.info[0] if alert.info else None


def build_payload(*, view: dict[str, Any], alert: Alert, language: str, places: list[str],
                  place_names: list[str], how: Loudness, event_id: int, demo: bool) -> bytes:
    """The JSON payload of one message (``places``: the places it stands for, first = tag).

    ``tags`` lists the tag of every place the message stands for (the service worker
    closes those notifications); when the payload is too large, fewer places are named and
    fewer tags listed, never the message's own.
    """
    text = _TEXT.get(language, _TEXT["en"])
    info = _info_for(alert, language)
    kinds = view.get("kinds") or []
    kind = next((KINDS[k] for k in kinds if k in KINDS), None)
    if kind is not None:
        what = kind.name_uk if language == "uk" else kind.name_en
    else:
        what = (info.event if info is not None else None) or str(view.get("event") or "")
    msg_type = view.get("msgType")
    if msg_type == "Cancel":
        what = f"{text['cancelled']}: {what}" if kind is not None else text["cancelled"]
    elif msg_type == "Update" and how is CHANGE:
        what = f"{text['updated']}: {what}"
    shown = place_names[:MAX_PLACES_NAMED]
    where = ", ".join(shown)
    if len(place_names) > len(shown):
        where += ", " + text["more"].format(n=len(place_names) - len(shown))
    title = f"{what} — {where}" if where else what
    if demo:
        title = f"[{text['demo']}] {title}"
    instruction = (info.instruction or info.headline or "") if info is not None else ""
    instruction = instruction.strip()[:MAX_INSTRUCTION_CHARS]
    names = view.get("issuer_name") or {}
    issuer = names.get(language) or names.get("en") or view.get("issuer") or ""
    body_lines = [line for line in (instruction, f"{issuer} · {view.get('sent', '')}") if line]
    alert_id = str(view["id"])
    payload: dict[str, Any] = {
        "v": 1,
        "id": alert_id,
        "event_id": event_id,
        "class": view.get("class"),
        "msgType": msg_type,
        "kinds": kinds,
        "title": title,
        "body": "\n".join(body_lines),
        "instruction": instruction,
        "tag": tag_for(places[0]) if places else "tocsin-" + alert_id,
        "tags": [tag_for(p) for p in places],
        "places": place_names,
        "sent": view.get("sent"),
        "issuer": view.get("issuer"),
        "issuer_name": issuer,
        "references": view.get("references") or [],
        "url": f"/alerts/{alert_id}",
        "links": view.get("links") or {},
        "urgency": how.urgency,
        "requireInteraction": how.require_interaction,
        "vibrate": list(how.vibrate),
        "demo": demo,
    }
    data = msgspec.json.encode(payload)
    while len(data) > MAX_PAYLOAD and (payload["places"] or len(payload["tags"]) > 1):
        # keep the essentials: name fewer places, list fewer tags (its own stays first)
        payload["places"] = payload["places"][: len(payload["places"]) // 2]
        payload["tags"] = payload["tags"][: max(1, len(payload["tags"]) // 2)]
        payload["instruction"] = payload["instruction"][:200]
        payload["body"] = payload["body"][:300]
        data = msgspec.json.encode(payload)
    return data
