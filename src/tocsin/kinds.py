"""The kinds of warning Tocsin knows, and how a CAP alert declares its kind.

An issuer states the kind in an ``eventCode`` whose ``valueName`` is
``TOCSIN`` (``<eventCode><valueName>TOCSIN</valueName><value>air-raid</value>``).
The issuer registry allows each issuer a set of kinds; the verifier refuses a
kind the issuer may not use. Names are given in Ukrainian and English because
every public surface shows both.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from tocsin.cap.model import Alert

KIND_VALUE_NAME = "TOCSIN"


class KindClass(StrEnum):
    """What a kind says about a place, which decides how every surface shows it.

    * ``threat``: people in the area should act now (take shelter). Only threats colour a
      region as under alert, count in region status and reach region streams as alerts.
    * ``notice``: information for people in the area (a facility closed, a threat warned
      of); shown apart from threats, never as "under alert".
    * ``all-clear``: ends earlier threats and notices of the same issuer.
    * ``denial``: a statement about a circulating *message*, not about a place; it colours
      nothing and has its own stream event type and list.
    """

    THREAT = "threat"
    NOTICE = "notice"
    ALL_CLEAR = "all-clear"
    DENIAL = "denial"


@dataclass(frozen=True, slots=True)
class Kind:
    code: str
    name_en: str
    name_uk: str
    cap_category: str
    response: str  # the CAP responseType an issuer normally pairs with it
    klass: KindClass


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("air-raid", "Air raid alert", "Повітряна тривога", "Security", "Shelter", KindClass.THREAT),
        Kind("missile", "Missile threat", "Ракетна загроза", "Security", "Shelter", KindClass.THREAT),
        Kind("drone", "Drone threat", "Загроза ударних БпЛА", "Security", "Shelter", KindClass.THREAT),
        Kind("shelling", "Artillery shelling", "Загроза артобстрілу", "Security", "Shelter",
             KindClass.THREAT),
        Kind("shelter-in-place", "Shelter in place", "Залишайтеся в укритті", "Safety", "Shelter",
             KindClass.THREAT),
        Kind("threat-notice", "Threat notice", "Попередження про загрозу", "Security", "Monitor",
             KindClass.NOTICE),
        Kind("facility-closed", "Facility closed", "Установа зачинена", "Safety", "Avoid",
             KindClass.NOTICE),
        Kind("facility-status", "Facility status", "Стан установи", "Safety", "None", KindClass.NOTICE),
        Kind("all-clear", "All clear", "Відбій тривоги", "Security", "AllClear", KindClass.ALL_CLEAR),
        Kind("denial", "Denial of a false message", "Спростування фейку", "Other", "None",
             KindClass.DENIAL),
    )
}


def alert_kinds(alert: Alert) -> frozenset[str]:
    """Every kind the alert declares (in any ``info``); empty if it declares none.

    An alert with ``responseType`` AllClear counts as ``all-clear`` even without
    the event code, so a plain CAP all-clear is treated as one.
    """
    found: set[str] = set()
    for info in alert.info:
        for code in info.event_code:
            if code.value_name == KIND_VALUE_NAME:
                found.add(code.value.strip())
        if "AllClear" in info.response_type:
            found.add("all-clear")
    return frozenset(found)


_CLASS_ORDER = (KindClass.DENIAL, KindClass.ALL_CLEAR, KindClass.THREAT, KindClass.NOTICE)


def kind_class(kinds: frozenset[str] | set[str] | tuple[str, ...]) -> KindClass:
    """The one class of an alert that declares ``kinds``.

    A denial is a denial whatever else it declares (it must never colour a place); an
    all-clear next; then a threat if any kind is one. Everything else, including an alert
    that declares no known kind, is a notice: unknown is never promoted to a threat.
    """
    classes = {KINDS[k].klass for k in kinds if k in KINDS}
    for klass in _CLASS_ORDER:
        if klass in classes:
            return klass
    return KindClass.NOTICE


def alert_class(alert: Alert) -> KindClass:
    """The class of a parsed alert (see :func:`kind_class`)."""
    return kind_class(alert_kinds(alert))
