"""An independent reviewer's findings on the check (after issue 11), each as a failing case.

Through ``POST /api/v1/check`` on a real hub process, like ``test_claims_rule``.
The rule: ``authentic`` only when ONE signed, logged alert backs every claim and the
message adds nothing that alert does not say.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from tests.check.conftest import HubProcess, make_alert

from tocsin.cap import to_xml

KHARKIV_OBLAST = "UA63000000000041885"
ODESA_OBLAST = "UA51000000000030770"
LVIV_OBLAST = "UA46000000000026241"
MULTI = ("UA32000000000030281", "UA74000000000025378", "UA59000000000057109")

A1_HEAD = "Загроза масованого ракетного удару по Києву"
A1_DESC = ("Сьогодні з 15:00 до 18:00 можлива загроза масованого ракетного удару. Укриття в "
           "метро працюють цілодобово. Гаряча лінія: +380 44 123 45 67.")
A1_INSTR = "Не нехтуйте сигналами тривоги. Прямуйте до укриття, не залишайтеся вдома біля вікон."
A1_TEXT = f"{A1_HEAD}. {A1_DESC} {A1_INSTR}"
HUR2 = ("ГУР МО отримало інформацію про можливий масований удар по енергетичній "
        "інфраструктурі у ніч на 25 листопада. Не ігноруйте сигнали повітряної тривоги.")
EMB_DESC = ("The embassy has received specific information of a potential significant air "
            "attack on November 20. Out of an abundance of caution, the embassy will be "
            "closed, and employees are instructed to shelter in place.")
EMB_INSTR = "U.S. citizens should be prepared to immediately shelter in the event of an air alert."
EMB_TEXT = f"Embassy closed on November 20. {EMB_DESC} {EMB_INSTR}"


@pytest.fixture(scope="module")
def alerts(hub: HubProcess) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}

    def issue(key: str, alert: Any, issuer: str) -> None:
        out[key] = hub.issue(alert, issuer)
        out[key]["cap"] = to_xml(alert)

    issue("od", make_alert(kind="air-raid", areas=(ODESA_OBLAST,), event="Повітряна тривога",
                           instruction="Негайно прямуйте до укриття"), "demo-air-force")
    issue("od-clear", make_alert(kind="all-clear", areas=(ODESA_OBLAST,),
                                 headline="Відбій тривоги"), "demo-air-force")
    issue("a1", make_alert(issuer="demo-kyiv-city", kind="threat-notice", headline=A1_HEAD,
                           description=A1_DESC, instruction=A1_INSTR), "demo-kyiv-city")
    issue("a0", make_alert(kind="air-raid", event="Повітряна тривога"), "demo-air-force")
    issue("hur", make_alert(issuer="demo-defence-intelligence", kind="threat-notice",
                            headline=HUR2.split(". ")[0] + ".",
                            instruction=HUR2.split(". ")[1]), "demo-defence-intelligence")
    issue("emb", make_alert(issuer="demo-embassy", kind="facility-closed", language="en-US",
                            headline="Embassy closed on November 20", description=EMB_DESC,
                            instruction=EMB_INSTR), "demo-embassy")
    issue("kh", make_alert(kind="drone", areas=(KHARKIV_OBLAST,),
                           headline="Загроза ударних БпЛА",
                           instruction="Перебувайте в укритті до відбою тривоги."),
          "demo-air-force")
    issue("lviv", make_alert(kind="missile", areas=(LVIV_OBLAST,), headline="Ракетна небезпека",
                             instruction="Негайно прямуйте до укриття"), "demo-air-force")
    issue("multi", make_alert(kind="air-raid", areas=MULTI, event="Повітряна тривога"),
          "demo-air-force")
    return out


def verdict(hub: HubProcess, text: str) -> dict[str, Any]:
    return hub.check(text)


# 1. edited alert JSON
def test_edited_alert_json_is_never_authentic(hub: HubProcess, alerts: dict[str, Any]) -> None:
    alert_id = alerts["a1"]["id"]
    body = verdict(hub, json.dumps({"id": alert_id,
                                    "description": "Укриття в метро зачинені. Залишайтеся вдома."},
                                   ensure_ascii=False))
    assert body["verdict"] != "authentic", body
    view = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}", timeout=10).json()
    assert verdict(hub, json.dumps(view, ensure_ascii=False))["verdict"] == "authentic"
    changed = json.loads(json.dumps(view).replace("15:00", "16:00"))
    changed["active"] = False
    body = verdict(hub, json.dumps(changed, ensure_ascii=False))
    assert body["verdict"] == "altered", body
    assert body["differences"], body
    assert verdict(hub, json.dumps({"id": alert_id}))["verdict"] == "authentic"


# 2, 3, 4, 5, 8: additions that must be altered
@pytest.mark.parametrize("text", [
    f"{A1_HEAD}. Не … прямуйте до укриття.",
    f"{A1_HEAD}. … Прямуйте … вдома.",
    f"{A1_HEAD}. … Укриття … вдома.",
    f"{A1_TEXT} Вдома!",
    f"{A1_TEXT} Вдома біля вікон!",
    f"{A1_TEXT} Метро!",
    f"{EMB_TEXT} Immediately.",
    "ГУР МО отримало інформацію про можливий масований удар по … Києву",
    "The embassy has received specific information of a potential significant air attack on "
    "November 20. … U.S. citizens should be prepared to … shelter … in … Embassy",
    "Повітряна тривога в Києві 🚫🏠",
    "Повітряна тривога в Києві 🚇❌",
    "Повітряна тривога в Києві ❌🚇",
    "Повітряна тривога в Києві 📵",
    "Повітряна тривога в Києві ☢️",
    "☢️ Повітряна тривога в Києві",
    "Повітряна тривога в Києві 🇷🇺",
    f"{A1_HEAD}. Сьогодні … до 18:00.",
    # the same classes, written by the fixer (not the reviewer's texts)
    "ГУР МО отримало інформацію про можливий масований удар по Києву",
    "ГУР МО отримало інформацію про можливий масований удар по Києву енергетичній "
    "інфраструктурі у ніч на 25 листопада.",
    f"{A1_TEXT} Залишайтеся вдома!",
    f"{A1_TEXT} Укриття!",
    f"{A1_TEXT} До 18:00.",
    f"{A1_TEXT} Прямуйте до укриття, не залишайтеся.",
    f"{EMB_TEXT} Shelter!",
    f"{A1_HEAD}. … залишайтеся вдома біля вікон.",
    f"{A1_HEAD}. Сьогодні з 15:00 … загроза масованого ракетного удару.",
    "The embassy has received … information of a potential significant air attack on November "
    "20.",
    "Повітряна тривога в Києві ⛔",
    "Повітряна тривога в Києві 🤡",
    "Повітряна тривога в Києві 🇧🇾",
])
def test_an_added_or_spliced_claim_is_not_authentic(hub: HubProcess, alerts: dict[str, Any],
                                                    text: str) -> None:
    body = verdict(hub, text)
    assert body["verdict"] in ("altered", "not-issued", "unverifiable"), body


def test_a_cut_time_qualifier_is_a_cut(hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = verdict(hub, f"{A1_HEAD}. Сьогодні … до 18:00.")
    assert body["verdict"] == "altered", body
    assert "cut" in {d["fact"] for d in body["differences"]}


@pytest.mark.parametrize("text", [
    f"{A1_TEXT} Прямуйте до укриття!",  # the alert's own instruction, whole, said again
    f"{A1_HEAD}. … Прямуйте до укриття, не залишайтеся вдома біля вікон.",
    "The embassy has received specific information of a potential significant air attack … Out "
    "of an abundance of caution, the embassy will be closed …",
    "ГУР МО отримало інформацію про можливий масований удар по енергетичній інфраструктурі у ніч "
    "на 25 листопада. Київ.",
])
def test_honest_copies_and_excerpts_stay_authentic(hub: HubProcess, alerts: dict[str, Any],
                                                   text: str) -> None:
    body = verdict(hub, text)
    assert body["verdict"] == "authentic", body


def test_decorative_emoji_stay_framing(hub: HubProcess, alerts: dict[str, Any]) -> None:
    assert verdict(hub, "Повітряна тривога в Києві 🚨🙏")["verdict"] == "authentic"
    assert verdict(hub, f"{A1_TEXT} 🙏❤️")["verdict"] == "authentic"
    assert verdict(hub, "⚠️ Повітряна тривога в Києві 🇺🇦")["verdict"] == "authentic"  # its country


# 6. a real alert with its place written in the middle
@pytest.mark.parametrize("text", [
    "Загроза ударних БпЛА. Харківська область. Перебувайте в укритті до відбою тривоги.",
    "Загроза ударних БпЛА у Харкові. Перебувайте в укритті до відбою тривоги.",
    "Загроза ударних БпЛА на Харківщині. Перебувайте в укритті до відбою тривоги.",
    "Ракетна небезпека. Львівська область. Негайно прямуйте до укриття",
])
def test_a_place_inside_the_alerts_area_is_backed_wherever_it_stands(
        hub: HubProcess, alerts: dict[str, Any], text: str) -> None:
    assert verdict(hub, text)["verdict"] == "authentic"


def test_a_place_outside_the_area_in_the_middle_is_still_altered(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = verdict(hub, "Загроза ударних БпЛА. Сумська область. Перебувайте в укритті до "
                        "відбою тривоги.")
    assert body["verdict"] == "altered", body


# 7. an ended alert re-posted with place and instruction
def test_an_ended_alert_reposted_is_outdated(hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = verdict(hub, "Повітряна тривога. Одеська область. Негайно прямуйте до укриття")
    assert body["verdict"] == "outdated", body
    assert body["alert"]["id"] == alerts["od"]["id"]


# 9. pasted CAP bytes; zero-width only text
def test_a_cap_with_whitespace_changed_is_altered(hub: HubProcess,
                                                  alerts: dict[str, Any]) -> None:
    cap = alerts["a1"]["cap"].decode()
    assert verdict(hub, cap)["verdict"] == "authentic"
    for changed in (cap + "\n", cap.rstrip("\n") if cap.endswith("\n") else cap + "\n\n"):
        body = verdict(hub, changed)
        assert body["verdict"] == "altered", body
        assert any("whitespace at the end" in n for n in body["notes"]), body
    body = verdict(hub, "\n" + cap)
    assert body["verdict"] == "altered", body
    assert any("whitespace at the start" in n for n in body["notes"]), body


def test_zero_width_only_text_is_empty_input(hub: HubProcess) -> None:
    response = httpx.post(hub.url + "/api/v1/check", json={"text": "\u200b\u200b\u2060"},
                          timeout=10)
    assert response.status_code == 400, response.text
    assert "empty" in response.text
