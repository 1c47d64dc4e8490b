"""``POST /api/v1/check`` on a real hub process: every verdict, its evidence, bad input."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from tests.check.conftest import KYIV, LVIV_OBLAST, HubProcess, make_alert

from tocsin.cap import to_xml
from tocsin.check.denial import compose_denial
from tocsin.check.normalise import normal_sha256

HEADLINE = "Повітряна тривога у місті Києві"
DESCRIPTION = ("Загроза застосування крилатих ракет. Зафіксовано пуски з бортів стратегічної "
               "авіації. Тривога триватиме щонайменше до 22:00.")
INSTRUCTION = "Негайно прямуйте до найближчого укриття та залишайтеся там до відбою."
EN_HEADLINE = "Air raid alert in the city of Kyiv"
EN_INSTRUCTION = "Go to the nearest shelter immediately and stay there until the all-clear."
FULL = f"{HEADLINE}. {DESCRIPTION} {INSTRUCTION}"
FORGED = ("Military intelligence warns of a massive strike tonight. HUR urges everyone to "
          "leave Kyiv before 22:00 and not to use shelters in the metro.")


@pytest.fixture(scope="module")
def real(hub: HubProcess) -> dict[str, Any]:
    alert = make_alert(kind="missile", headline=HEADLINE, description=DESCRIPTION,
                       instruction=INSTRUCTION,
                       extra_info=(("en-US", "Missile threat", EN_HEADLINE, EN_INSTRUCTION),))
    issued = hub.issue(alert, "demo-air-force")
    issued["cap_bytes"] = to_xml(alert)
    return issued


def _assert_authentic(body: dict[str, Any], alert_id: str) -> None:
    assert body["verdict"] == "authentic", body
    alert = body["alert"]
    assert alert["id"] == alert_id
    assert alert["signature"]["status"] == "authentic"
    assert alert["log"]["included"] is True
    assert alert["log"]["index"] < alert["log"]["checkpoint_size"]
    assert alert["links"]["proof"] == f"/api/v1/alerts/{alert_id}/proof"
    assert alert["issuer"]["id"] == "demo-air-force"


@pytest.mark.parametrize("text", [
    FULL,
    f"‼️ {HEADLINE.upper()} ‼️\n\n{DESCRIPTION}🚀🚀\n\n👉 {INSTRUCTION}",
    f"Друзі, пересилаю від Повітряних сил: «{FULL}» Бережіть себе і рідних!",
    f"{HEADLINE}. {DESCRIPTION}",  # truncated
    f"{EN_HEADLINE}. {EN_INSTRUCTION}",  # the issuer's own English info
])
def test_real_alert_text_is_authentic_with_its_proof(hub: HubProcess, real: dict[str, Any],
                                                     text: str) -> None:
    _assert_authentic(hub.check(text), real["id"])


def test_alert_id_link_cap_and_proof_bundle_are_authentic(hub: HubProcess,
                                                          real: dict[str, Any]) -> None:
    for text, kind in [(real["id"], "alert-id"),
                       (f"{hub.url}/api/v1/alerts/{real['id']}", "link"),
                       (real["cap_bytes"].decode(), "cap")]:
        body = hub.check(text)
        _assert_authentic(body, real["id"])
        assert body["input"] == kind
    proof = httpx.get(f"{hub.url}/api/v1/alerts/{real['id']}/proof", timeout=10)
    if proof.status_code == 200:
        body = hub.check(proof.text)
        _assert_authentic(body, real["id"])
        assert body["input"] == "proof-bundle"


@pytest.mark.parametrize(("text", "fact"), [
    (FULL.replace("Києві", "Львові"), "region"),
    (FULL.replace("крилатих", "балістичних"), "kind"),
    (FULL.replace("22:00", "23:30"), "time"),
    (FULL.replace("Негайно прямуйте до найближчого укриття",
                  "Не йдіть до укриття, залишайтеся вдома"), "instruction"),
])
def test_a_changed_fact_is_altered_and_the_difference_shown(hub: HubProcess, real: dict[str, Any],
                                                           text: str, fact: str) -> None:
    body = hub.check(text)
    assert body["verdict"] == "altered", body
    assert body["alert"]["id"] == real["id"]
    assert fact in {d["fact"] for d in body["differences"]}


def test_forged_intelligence_warning_is_not_issued_then_denied(hub: HubProcess) -> None:
    body = hub.check(FORGED)
    assert body["verdict"] == "not-issued", body
    assert [i["id"] for i in body["claims"]["issuers"]] == ["demo-defence-intelligence"]
    assert "did not publish" in body["summary"]["en"]

    denial = compose_denial(issuer_id="demo-defence-intelligence", denied_text=FORGED,
                            areas=(KYIV,))
    hub.issue(denial, "demo-defence-intelligence")
    body = hub.check(FORGED)
    assert body["verdict"] == "denied", body
    assert body["denial"]["issuer"]["id"] == "demo-defence-intelligence"
    assert body["denial"]["signature"]["status"] == "authentic"
    assert body["normal_sha256"] == normal_sha256(FORGED)
    # A repost with other capitals, emoji and a look-alike letter is the same message.
    repost = "🔥🔥 " + FORGED.upper().replace("A", "А") + " 🔥 Поширте!"
    assert hub.check(repost)["verdict"] == "denied"


def test_chatter_is_unverifiable_and_shows_the_regions_alerts(hub: HubProcess,
                                                             real: dict[str, Any]) -> None:
    body = hub.check("Кажуть, у Києві сьогодні буде неспокійно, хтось щось чув?")
    assert body["verdict"] == "unverifiable", body
    assert KYIV in [r["code"] for r in body["claims"]["regions"]]
    assert real["id"] in [a["id"] for a in body["current_alerts"]]


def test_an_unknown_issuer_claim_in_lviv_is_unverifiable(hub: HubProcess) -> None:
    body = hub.check("Терміново! Завтра у Львівській області відключать зв'язок, передайте всім")
    assert body["verdict"] == "unverifiable"
    assert LVIV_OBLAST in [r["code"] for r in body["claims"]["regions"]]


def test_real_words_put_in_another_issuers_mouth_are_altered(hub: HubProcess,
                                                             real: dict[str, Any]) -> None:
    body = hub.check(f"ГУР МО: {FULL}")
    assert body["verdict"] == "altered", body
    assert "issuer" in {d["fact"] for d in body["differences"]}


def test_an_unknown_alert_id_is_unverifiable(hub: HubProcess) -> None:
    body = hub.check("0" * 32)
    assert body["verdict"] == "unverifiable"
    assert body["alert"] is None


@pytest.mark.parametrize(("kwargs", "status", "code"), [
    ({"json": {"text": ""}}, 400, "bad_request"),
    ({"json": {"text": "   \n\t "}}, 400, "bad_request"),
    ({"json": {"text": "a\x00b"}}, 400, "bad_request"),
    ({"json": {"text": 5}}, 400, "bad_request"),
    ({"json": ["text"]}, 400, "bad_request"),
    ({"json": {"text": "x" * 20_001}}, 413, "body_too_large"),
    ({"content": b"\xff" * 300_000, "headers": {"content-type": "text/plain"}}, 413,
     "body_too_large"),
    ({"content": b"\xff\xfe\x00", "headers": {"content-type": "text/plain"}}, 400, "bad_request"),
    ({"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "bad_request"),
    ({"content": b"text", "headers": {"content-type": "image/png"}}, 415,
     "unsupported_media_type"),
])
def test_bad_input_gets_a_catalogued_error(hub: HubProcess, kwargs: dict[str, Any], status: int,
                                           code: str) -> None:
    response = httpx.post(hub.url + "/api/v1/check", timeout=10, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_script_laden_text_is_a_safe_verdict_echoed_only_as_data(hub: HubProcess) -> None:
    text = '<script>alert(1)</script><img src=x onerror="alert(2)"> ГУР попереджає'
    body = hub.check(text)
    assert body["verdict"] == "not-issued"
    response = httpx.post(hub.url + "/api/v1/check", json={"text": text}, timeout=10)
    assert response.headers["content-type"] == "application/json"


def test_plain_text_body_is_accepted(hub: HubProcess, real: dict[str, Any]) -> None:
    response = httpx.post(hub.url + "/api/v1/check", content=FULL.encode(),
                          headers={"content-type": "text/plain; charset=utf-8"}, timeout=10)
    assert response.json()["verdict"] == "authentic"


def test_page_is_served_with_a_strict_policy_and_no_html_injection(hub: HubProcess) -> None:
    page = httpx.get(hub.url + "/check", timeout=10)
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script src=\"/check/check.js\"" in page.text
    script = httpx.get(hub.url + "/check/check.js", timeout=10)
    assert script.status_code == 200
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script.text
    assert httpx.get(hub.url + "/check/..%2Fapp.py", timeout=10).status_code == 404


def test_denial_is_signed_logged_and_carries_the_hash(hub: HubProcess) -> None:
    text = "Фейк для перевірки: ГУР радить усім виїхати з Одеси до ранку"
    denial = compose_denial(issuer_id="demo-defence-intelligence", denied_text=text,
                            areas=(KYIV,))
    params = [(p.value_name, p.value) for i in denial.info for p in i.parameter]
    assert ("TOCSIN-DENIES-SHA256", normal_sha256(text)) in params
    issued = hub.issue(denial, "demo-defence-intelligence")
    assert issued["kinds"] == ["denial"]
    cap = base64.b64encode(to_xml(denial)).decode()
    assert cap  # the denial is ordinary CAP
    assert hub.check(text)["verdict"] == "denied"


def test_a_cap_changed_after_signing_is_checked_by_its_words(hub: HubProcess,
                                                             real: dict[str, Any]) -> None:
    cap = real["cap_bytes"].decode()
    forged = cap.replace("крилатих", "балістичних")
    assert forged != cap
    body = hub.check(forged)
    assert body["input"] == "cap"
    assert body["verdict"] == "altered", body
    assert body["alert"]["id"] == real["id"]
    assert any("different bytes" in n for n in body["notes"])


def test_a_proof_bundle_for_an_index_this_log_lacks_is_unverifiable(hub: HubProcess) -> None:
    bundle = ("c2sp.org/tlog-proof@v1\nindex 999999\n\n"
              "example.org/log\n1000000\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
              "— example.org/log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\n")
    body = hub.check(bundle)
    assert body["verdict"] == "unverifiable"
    assert body["input"] == "proof-bundle"
    assert body["alert"] is None and body["notes"]


def test_a_long_real_alert_wins_over_short_templated_ones_it_contains(hub: HubProcess) -> None:
    # Regression: ranking candidates by the share of each alert's words the message
    # carries let 16+ later short templates crowd out the long alert actually quoted.
    long = make_alert(kind="drone", areas=("UA32000000000030281",), language="en-US",
                      headline="Attack drone threat in Kyiv Oblast",
                      instruction="Go to a shelter and do not film air defence at work.")
    issued = hub.issue(long, "demo-air-force")
    for _ in range(20):
        hub.issue(make_alert(kind="drone", areas=("UA32000000000030281",),
                             headline="Drone threat: Kyiv Oblast", instruction="Go to a shelter.",
                             language="en-US"), "demo-air-force")
    body = hub.check("Attack drone threat in Kyiv Oblast! Go to a shelter and do not film air "
                     "defence at work.")
    assert body["verdict"] == "authentic", body
    assert body["alert"]["id"] == issued["id"]
