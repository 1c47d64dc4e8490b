"""The kinds of warning Tocsin knows, and how a CAP alert declares its kind.

An issuer states the kind in an ``eventCode`` whose ``valueName`` is
``TOCSIN`` (``<eventCode><valueName>TOCSIN</valueName><value>air-raid</value>``).
The issuer registry allows each issuer a set of kinds; the verifier refuses a
kind the issuer may not use. Names are given in Ukrainian and English because
every public surface shows both.
"""

from __future__ import annotations

from dataclasses import dataclass

from tocsin.cap.model import Alert

KIND_VALUE_NAME = "TOCSIN"


@dataclass(frozen=True, slots=True)
class Kind:
    code: str
    name_en: str
    name_uk: str
    cap_category: str
    response: str  # the CAP responseType an issuer normally pairs with it


KINDS: dict[str, Kind] = {
    k.code: k
    for k in (
        Kind("air-raid", "Air raid alert", "Повітряна тривога", "Security", "Shelter"),
        Kind("missile", "Missile threat", "Ракетна загроза", "Security", "Shelter"),
        Kind("drone", "Drone threat", "Загроза ударних БпЛА", "Security", "Shelter"),
        Kind("shelling", "Artillery shelling", "Загроза артобстрілу", "Security", "Shelter"),
        Kind("shelter-in-place", "Shelter in place", "Залишайтеся в укритті", "Safety", "Shelter"),
        Kind("threat-notice", "Threat notice", "Попередження про загрозу", "Security", "Monitor"),
        Kind("facility-closed", "Facility closed", "Установа зачинена", "Safety", "Avoid"),
        Kind("facility-status", "Facility status", "Стан установи", "Safety", "None"),
        Kind("all-clear", "All clear", "Відбій тривоги", "Security", "AllClear"),
        Kind("denial", "Denial of a false message", "Спростування фейку", "Other", "None"),
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
