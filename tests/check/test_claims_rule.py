"""Issue 11: ``authentic`` only when every claim is backed by ONE signed, logged alert.

Every example of the issue, through ``POST /api/v1/check`` on a real hub
process (``tocsin serve --demo``), with real signatures and a real log.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from tests.check.conftest import KYIV, HubProcess, make_alert

from tocsin.cap import to_xml
from tocsin.cap.model import Reference
from tocsin.check.denial import compose_denial
from tocsin.compose import compose_cancel

KHARKIV_OBLAST = "UA63000000000041885"
SUMY_OBLAST = "UA59000000000057109"
KHERSON_OBLAST = "UA65000000000030969"

HUR_TEXT = ("ГУР МО попереджає: ворог готує масований ракетний удар по енергетиці "
            "найближчої доби. За даними ГУР, до удару залучать стратегічну авіацію. "
            "Заздалегідь сплануйте, де будете в укритті.")
KCMA_TEXT = ("Попередження про аварійні відключення води у Києві. "
             "Через пошкодження магістралі воду в Дарницькому районі подаватимуть за графіком. "
             "Зробіть запас питної води.")
EMBASSY_TEXT = ("The Embassy of the Demo Republic in Kyiv has received specific information "
                "of a potential significant air attack on November 20. Out of an abundance of "
                "caution, the Embassy will be closed, and Embassy employees are being "
                "instructed to shelter in place.")
KHARKIV_TEXT = ("Повітряна тривога в Харківській області. Загроза застосування керованих "
                "авіабомб. Не залишайтеся на відкритій місцевості, прямуйте до укриття.")


@pytest.fixture(scope="module")
def alerts(hub: HubProcess) -> dict[str, dict[str, Any]]:
    """The alerts the issue's examples are about, issued and logged on the hub."""
    out: dict[str, dict[str, Any]] = {}

    def issue(key: str, alert: Any, issuer: str) -> None:
        out[key] = hub.issue(alert, issuer)
        out[key]["cap"] = to_xml(alert)
        out[key]["alert"] = alert

    now = datetime.now(UTC)
    # Ended by an all-clear, then the README's one-phrase alert (the all-clear comes first so
    # that it ends only the Kharkiv alert).
    issue("kharkiv", make_alert(kind="air-raid", areas=(KHARKIV_OBLAST,),
                                headline="Повітряна тривога в Харківській області",
                                description="Загроза застосування керованих авіабомб.",
                                instruction="Не залишайтеся на відкритій місцевості, прямуйте "
                                            "до укриття."), "demo-air-force")
    issue("kharkiv-clear", make_alert(kind="all-clear", areas=(KHARKIV_OBLAST,),
                                      headline="Відбій тривоги в Харківській області"),
          "demo-air-force")
    issue("short", make_alert(kind="air-raid", event="Повітряна тривога"), "demo-air-force")
    issue("hur", make_alert(issuer="demo-defence-intelligence", kind="threat-notice",
                            headline=HUR_TEXT.split(". ")[0],
                            description=HUR_TEXT.split(". ", 1)[1].rsplit(". ", 1)[0] + ".",
                            instruction=HUR_TEXT.rsplit(". ", 1)[1]),
          "demo-defence-intelligence")
    issue("kcma", make_alert(issuer="demo-kyiv-city", kind="threat-notice", headline=KCMA_TEXT.split(". ")[0],
                             description=KCMA_TEXT.split(". ")[1] + ".",
                             instruction=KCMA_TEXT.split(". ")[2]), "demo-kyiv-city")
    issue("embassy", make_alert(issuer="demo-embassy", kind="facility-closed", language="en-US",
                                headline="The Embassy of the Demo Republic will be closed",
                                description=EMBASSY_TEXT), "demo-embassy")
    issue("expired", make_alert(kind="drone", areas=(SUMY_OBLAST,),
                                sent=now - timedelta(minutes=5), expires_in=timedelta(minutes=1),
                                headline="Загроза ударних БпЛА на Сумщині",
                                description="Група безпілотників рухається курсом на Суми.",
                                instruction="Залишайтеся в укриттях до відбою тривоги."),
          "demo-air-force")
    kherson = make_alert(kind="missile", areas=(KHERSON_OBLAST,),
                         headline="Ракетна небезпека на Херсонщині",
                         description="Зафіксовано пуски керованих ракет у напрямку Херсона.",
                         instruction="Негайно займіть найближче укриття.")
    issue("cancelled", kherson, "demo-air-force")
    issue("cancel", compose_cancel(issuer_id="demo-air-force", sender=kherson.sender,
                                   original=Reference(sender=kherson.sender,
                                                      identifier=kherson.identifier,
                                                      sent=kherson.sent)), "demo-air-force")
    return out


def check(hub: HubProcess, text: str) -> dict[str, Any]:
    return hub.check(text)


def facts(body: dict[str, Any]) -> set[str]:
    return {d["fact"] for d in body["differences"]}


# -- short real alerts vouch for nothing else ------------------------------------------

def test_a_one_phrase_alert_does_not_vouch_for_another_place(hub: HubProcess,
                                                             alerts: dict[str, Any]) -> None:
    body = check(hub, "Повітряна тривога в Одесі! Всі в укриття")
    assert body["verdict"] == "unverifiable", body
    assert "UA51100270000073549" in [r["code"] for r in body["claims"]["regions"]]


def test_a_one_phrase_alert_in_the_air_forces_name_in_lviv_is_not_issued(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = check(hub, "Повітряні сили ЗСУ: Повітряна тривога у Львові. Укриття не працюють, "
                      "залишайтеся вдома.")
    assert body["verdict"] == "not-issued", body


@pytest.mark.parametrize(("text", "fact"), [
    ("Повітряна тривога у Києві. Вимкніть телефони, ворог відстежує сигнали", "instruction"),
    ("Повітряна тривога у Києві. This is a drill, no shelter needed.", "status"),
])
def test_a_one_phrase_alert_with_an_added_claim_is_altered(hub: HubProcess,
                                                           alerts: dict[str, Any], text: str,
                                                           fact: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == "altered", body
    assert body["alert"]["id"] == alerts["short"]["id"]
    assert fact in facts(body)


@pytest.mark.parametrize("text", ["Повітряна тривога", "ПОВІТРЯНА ТРИВОГА!!! 🚨"])
def test_the_generic_phrase_alone_is_unverifiable_and_lists_what_is_in_force(
        hub: HubProcess, alerts: dict[str, Any], text: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == "unverifiable", body
    listed = {a["id"]: a for a in body["current_alerts"]}
    assert alerts["short"]["id"] in listed
    assert KYIV in [w["code"] for w in listed[alerts["short"]["id"]]["where"]]
    assert "authentic" not in str(body["summary"])


def test_the_one_phrase_alert_with_its_own_place_is_authentic(hub: HubProcess,
                                                              alerts: dict[str, Any]) -> None:
    body = check(hub, "Повітряні сили: Повітряна тривога у місті Києві 🚨")
    assert body["verdict"] == "authentic", body
    assert body["alert"]["id"] == alerts["short"]["id"]


# -- added content -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "fact"), [
    (HUR_TEXT + " Укриття в метро сьогодні зачинені, залишайтеся вдома.", "instruction"),
    (HUR_TEXT + " https://gur-gov-ua.example/alert.apk", "link"),
    ("Терміново виїжджайте з Києва! " + HUR_TEXT, "instruction"),
    (HUR_TEXT + " Гаряча лінія ГУР: +380 44 123 45 67", "phone"),
    (HUR_TEXT + " Перешліть це всім знайомим!", "forward"),
    (HUR_TEXT + " Встановіть застосунок «Тривога» для сповіщень.", "app"),
])
def test_added_content_is_altered_and_named(hub: HubProcess, alerts: dict[str, Any], text: str,
                                            fact: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == "altered", body
    assert body["alert"]["id"] == alerts["hur"]["id"]
    assert fact in facts(body), body["differences"]


# -- attribution ---------------------------------------------------------------------

@pytest.mark.parametrize(("text", "key"), [
    ("Повітряні сили ЗСУ: " + HUR_TEXT, "hur"),
    ("КМВА повідомляє: " + HUR_TEXT, "hur"),
    ("Повітряні сили ЗСУ: " + KCMA_TEXT, "kcma"),
    ("Ukrainian Air Force: " + KCMA_TEXT, "kcma"),
])
def test_a_real_text_in_another_issuers_name_is_altered(hub: HubProcess, alerts: dict[str, Any],
                                                        text: str, key: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == "altered", body
    assert body["alert"]["id"] == alerts[key]["id"]
    assert "issuer" in facts(body)


def test_the_right_issuer_named_is_authentic(hub: HubProcess, alerts: dict[str, Any]) -> None:
    assert check(hub, "КМВА повідомляє: " + KCMA_TEXT)["verdict"] == "authentic"
    assert check(hub, HUR_TEXT + " (с) ГУР МО")["verdict"] == "authentic"


# -- pasted CAP ----------------------------------------------------------------------

@pytest.mark.parametrize(("edit", "field"), [
    (lambda c: c.replace(KYIV, "UA46000000000026241"), "geocode"),
    (lambda c: re.sub(r"<expires>(\d{4})-(\d\d)-(\d\d)", lambda m: f"<expires>{m.group(1)}-"
                      f"{m.group(2)}-{int(m.group(3)) % 20 + 7:02d}", c), "expires"),
    (lambda c: c.replace("<severity>Severe</severity>", "<severity>Minor</severity>"),
     "severity"),
    (lambda c: c.replace("<status>Actual</status>", "<status>Exercise</status>"), "status"),
])
def test_a_cap_changed_after_signing_is_altered_with_the_field(
        hub: HubProcess, alerts: dict[str, Any], edit: Any, field: str) -> None:
    cap = alerts["hur"]["cap"].decode()
    changed = edit(cap)
    assert changed != cap
    body = check(hub, changed)
    assert body["verdict"] == "altered", body
    assert body["input"] == "cap"
    assert body["alert"]["id"] == alerts["hur"]["id"]
    assert any(d["fact"] == "cap" and field in d["message"] for d in body["differences"]), \
        body["differences"]


def test_the_exact_cap_bytes_are_authentic(hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = check(hub, alerts["hur"]["cap"].decode())
    assert body["verdict"] == "authentic"
    assert body["input"] == "cap"


# -- real but over ---------------------------------------------------------------------

def test_an_alert_ended_by_the_all_clear_is_outdated_with_when(hub: HubProcess,
                                                               alerts: dict[str, Any]) -> None:
    body = check(hub, KHARKIV_TEXT)
    assert body["verdict"] == "outdated", body
    assert body["alert"]["id"] == alerts["kharkiv"]["id"]
    assert body["over"]["how"] == "all-clear"
    assert body["over"]["by"] == alerts["kharkiv-clear"]["id"]
    assert body["over"]["at_kyiv"] in body["summary"]["uk"]
    assert "завершене відбоєм" in body["summary"]["uk"]
    assert "ended by the all-clear" in body["summary"]["en"]


def test_expired_and_cancelled_alerts_are_outdated(hub: HubProcess,
                                                   alerts: dict[str, Any]) -> None:
    body = check(hub, "Загроза ударних БпЛА на Сумщині. Група безпілотників рухається курсом "
                      "на Суми. Залишайтеся в укриттях до відбою тривоги.")
    assert body["verdict"] == "outdated", body
    assert body["over"]["how"] == "expired"
    body = check(hub, "Ракетна небезпека на Херсонщині. Зафіксовано пуски керованих ракет у "
                      "напрямку Херсона. Негайно займіть найближче укриття.")
    assert body["verdict"] == "outdated", body
    assert body["over"]["how"] == "cancelled"
    assert body["over"]["by"] == alerts["cancel"]["id"]


def test_a_link_to_an_ended_alert_is_outdated(hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = check(hub, f"{hub.url}/alerts/{alerts['kharkiv']['id']}")
    assert body["verdict"] == "outdated", body


# -- excerpts --------------------------------------------------------------------------

def test_an_honest_excerpt_with_marked_omissions_is_authentic(hub: HubProcess,
                                                              alerts: dict[str, Any]) -> None:
    body = check(hub, "…has received specific information of a potential significant air "
                      "attack… Out of an abundance of caution, the embassy will be closed…")
    assert body["verdict"] == "authentic", body
    assert body["alert"]["id"] == alerts["embassy"]["id"]
    assert any("November 20" in part for part in body["omitted"]), body["omitted"]


@pytest.mark.parametrize("text", [
    "…has received specific information of a […] significant air attack… Out of an abundance "
    "of caution, the embassy will be closed…",
    "Повітряна тривога в Харківській області… залишайтеся на відкритій місцевості, прямуйте "
    "до укриття.",
])
def test_an_excerpt_that_cuts_a_negation_or_qualifier_is_altered(
        hub: HubProcess, alerts: dict[str, Any], text: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == "altered", body
    assert "cut" in facts(body)


# -- links -----------------------------------------------------------------------------

def test_the_hubs_own_alert_page_and_api_links_are_recognised(hub: HubProcess,
                                                              alerts: dict[str, Any]) -> None:
    alert_id = alerts["hur"]["id"]
    for link in (f"{hub.url}/alerts/{alert_id}", f"{hub.url}/api/v1/alerts/{alert_id}"):
        body = check(hub, link)
        assert body["verdict"] == "authentic", body
        assert body["input"] == "link"
    body = check(hub, f"Деталі: {hub.url}/alerts/{alert_id}")
    assert body["verdict"] == "authentic", body


def test_a_link_on_another_host_naming_a_real_id_is_not_authentic(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    alert_id = alerts["hur"]["id"]
    body = check(hub, f"https://tocsin-alerts.example/alerts/{alert_id}")
    assert body["verdict"] == "altered", body
    assert any("not this hub" in n for n in body["notes"])
    body = check(hub, f"{HUR_TEXT} https://tocsin-alerts.example/alerts/{alert_id}")
    assert body["verdict"] == "altered", body
    assert "link" in facts(body)
    assert any("not this hub" in n for n in body["notes"])


# -- framing ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "Переслано від Повітряні сили ЗСУ\n" + KHARKIV_TEXT.replace("Харківській", "Харківській"),
    "Stay safe! " + HUR_TEXT,
    "🚨🚨 " + HUR_TEXT + " 🙏❤️",
    "Переслано від ГУР МО\n\n" + HUR_TEXT + "\n\nБережіть себе!",
    "Внимание! " + HUR_TEXT + " Берегите себя.",
])
def test_framing_around_an_exact_copy_is_allowed(hub: HubProcess, alerts: dict[str, Any],
                                                 text: str) -> None:
    body = check(hub, text)
    if "Харків" in text:
        assert body["verdict"] == "outdated", body  # that alert was ended; framing is fine
    else:
        assert body["verdict"] == "authentic", body


@pytest.mark.parametrize("text", [
    "Переслано від ГУР МО\n" + HUR_TEXT + "\nМетро зачинене.",
    "Увага, терміново! " + HUR_TEXT,
    "Переслано від ГУР МО о 03:00\n" + HUR_TEXT,
    "Stay home! " + HUR_TEXT,
])
def test_framing_is_narrow_anything_imperative_timed_or_placed_is_a_claim(
        hub: HubProcess, alerts: dict[str, Any], text: str) -> None:
    assert check(hub, text)["verdict"] == "altered"


# -- homoglyphs and invisible characters -----------------------------------------------

def test_invisible_characters_neither_hide_a_place_nor_break_a_real_copy(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = check(hub, "Повітряні сили ЗСУ: Повітряна тривога у Льв\u200bові. Укриття "
                      "зач\u200bинені.")
    assert body["verdict"] == "not-issued", body
    body = check(hub, HUR_TEXT.replace("ГУР МО", "ГУР\u200b МО").replace("енергетиці",
                                                                          "енер\u00adгетиці"))
    assert body["verdict"] == "authentic", body


def test_a_homoglyph_issuer_swap_is_altered(hub: HubProcess, alerts: dict[str, Any]) -> None:
    body = check(hub, "Пoвiтрянi сили ЗСУ: " + HUR_TEXT)
    assert body["verdict"] == "altered", body
    assert "issuer" in facts(body)


# -- denials keep working --------------------------------------------------------------

def test_denials_still_match_copies_and_rewordings(hub: HubProcess) -> None:
    fake = "ГУР МО: сьогодні вночі по Львову буде завдано удару, терміново виїжджайте з міста!"
    hub.issue(compose_denial(issuer_id="demo-defence-intelligence", denied_text=fake,
                             areas=(KYIV,)), "demo-defence-intelligence")
    assert check(hub, fake)["verdict"] == "denied"
    assert check(hub, "Переслано: " + fake.upper() + " 😱")["verdict"] == "denied"
    assert check(hub, fake.replace("Львову", "Льв\u200bову"))["verdict"] == "denied"


# -- the Ukrainian needs no agreement with an issuer's name -----------------------------

def test_ukrainian_summaries_name_issuers_only_after_a_fixed_noun(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    texts = ["Повітряні сили ЗСУ: Повітряна тривога у Львові. Укриття не працюють.",  # not-issued
             "ГУР МО: завтра в Одесі висадка десанту, тікайте",  # not-issued (singular name)
             HUR_TEXT,  # authentic
             KHARKIV_TEXT,  # outdated
             "КМВА повідомляє: " + HUR_TEXT,  # altered
             "Повітряна тривога"]  # unverifiable
    verdicts = set()
    for text in texts:
        body = check(hub, text)
        verdicts.add(body["verdict"])
        uk = body["summary"]["uk"]
        if body["verdict"] == "not-issued":
            names = {i["name_uk"] for i in body["claims"]["issuers"]}
        else:
            names = {body["alert"]["issuer"]["name_uk"]} if body["alert"] else set()
        for name in names:
            assert f"«{name}»" in uk, uk
            for m in re.finditer(re.escape(f"«{name}»"), uk):
                before = uk[:m.start()].rstrip()
                assert before.endswith(("джерело", "джерела", "Джерело:", "(джерело:")), uk
        assert not re.search(r"»\s+(не\s+)?(публікувал|спростувал|оголосил)", uk), uk
    assert verdicts == {"not-issued", "authentic", "outdated", "altered", "unverifiable"}


def test_check_texts_over_the_limit_are_refused_not_truncated(hub: HubProcess) -> None:
    response = httpx.post(hub.url + "/api/v1/check", json={"text": "а " * 10_001}, timeout=10)
    assert response.status_code == 413


@pytest.mark.parametrize(("text", "verdict"), [
    ("Балістика! " + HUR_TEXT, "altered"),  # a kind the alert does not state
    ("Відбій! " + HUR_TEXT, "altered"),  # an all-clear word on a warning
    ("Фейк! " + HUR_TEXT, "altered"),  # calling the real alert fake is a claim too
    ("Тривога! " + KHARKIV_TEXT, "outdated"),  # the alert's own kind: allowed (and over)
    # one alert word made an order: the alert says plan ahead, not "everyone to shelter!"
    ("Всі в укриття! " + HUR_TEXT, "altered"),
    ("Удар по енергетиці! " + HUR_TEXT, "authentic"),  # the alert's own words, in order
    (HUR_TEXT + " Удар по Львову!", "altered"),  # ...but not moved to another place
])
def test_commentary_kind_words_and_repeats_follow_the_alert(
        hub: HubProcess, alerts: dict[str, Any], text: str, verdict: str) -> None:
    assert check(hub, text)["verdict"] == verdict


def test_an_alert_all_cleared_for_the_place_named_is_outdated_there_only(
        hub: HubProcess) -> None:
    chernihiv, zhytomyr = "UA74000000000025378", "UA18000000000041385"
    text = "Загроза ударних БпЛА. Група безпілотників рухається з півночі. Прямуйте в укриття."
    hub.issue(make_alert(kind="drone", areas=(chernihiv, zhytomyr),
                         headline=text.split(". ")[0], description=text.split(". ")[1] + ".",
                         instruction=text.split(". ")[2]), "demo-air-force")
    hub.issue(make_alert(kind="all-clear", areas=(chernihiv,),
                         headline="Відбій тривоги на Чернігівщині"), "demo-air-force")
    body = check(hub, "Чернігівщина! " + text)
    assert body["verdict"] == "outdated", body
    assert body["over"]["how"] == "ended-there"
    assert check(hub, "Житомирщина! " + text)["verdict"] == "authentic"


def test_a_pasted_statement_is_authentic_only_as_the_logged_bytes(
        hub: HubProcess, alerts: dict[str, Any]) -> None:
    alert_id = alerts["hur"]["id"]
    statement = httpx.get(f"{hub.url}/api/v1/alerts/{alert_id}/statement", timeout=10).text
    body = check(hub, statement)
    assert body["verdict"] == "authentic", body
    assert body["input"] == "statement"
    changed = statement.replace("sent ", "sent 1", 1)
    body = check(hub, changed)
    assert body["verdict"] == "altered", body
    assert any(d["fact"] == "statement" and d["message"].startswith("sent 1")
               for d in body["differences"])


@pytest.mark.parametrize(("text", "verdict"), [
    # a unit word alone is a place claim ("and the oblast"), not framing
    (KCMA_TEXT.replace("у Києві.", "у Києві та області."), "altered"),
    # a whole sentence left out, unmarked: allowed, listed
    (KCMA_TEXT.split(". ")[0] + ". " + KCMA_TEXT.split(". ")[2], "authentic"),
    # a place cut out of a kept sentence, unmarked: a change
    (KCMA_TEXT.replace(" в Дарницькому районі", ""), "altered"),
])
def test_unit_words_and_unmarked_omissions(hub: HubProcess, alerts: dict[str, Any], text: str,
                                           verdict: str) -> None:
    body = check(hub, text)
    assert body["verdict"] == verdict, body
    if verdict == "authentic":
        assert body["omitted"]
