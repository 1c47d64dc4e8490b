"""The alert page's trust panel: the browser verifies for itself, and says so loudly when it can't.

Tampering is done the way an attacker between hub and reader would: by
rewriting responses in flight (Playwright's ``page.route``), never with a
test-only route in the product.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from web.conftest import KYIV, LVIV_OBLAST, HubProcess, PageProblems, screenshot

VERIFY_TIMEOUT_MS = 15000


def open_alert(page: Any, hub: HubProcess, alert_id: str, verdict: str) -> None:
    page.goto(f"{hub.url}/alerts/{alert_id}")
    page.wait_for_selector(f"body[data-verdict={verdict}]", timeout=VERIFY_TIMEOUT_MS)


def tamper(page: Any, pattern: str, change: Any) -> None:
    """Serve ``pattern``'s real response with its body passed through ``change``."""

    def handler(route: Any) -> None:
        response = route.fetch()
        route.fulfill(response=response, body=change(response.body()))

    page.route(pattern, handler)


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


def check_result(page: Any, key: str) -> str | None:
    result: str | None = page.locator(f'#checks li[data-check="{key}"]').get_attribute("data-result")
    return result


@pytest.fixture
def issued(hub: HubProcess) -> dict[str, Any]:
    hub.issue((KYIV,), instruction="Негайно прямуйте до укриття")  # so the proof has siblings
    hub.issue((LVIV_OBLAST,), kind="missile")
    answer = hub.issue((LVIV_OBLAST, KYIV), instruction="Негайно прямуйте до укриття",
                       headline="Повітряна тривога у Львові та Києві")
    record = httpx.get(f"{hub.url}/api/v1/alerts/{answer['id']}").json()
    assert record["log"]["index"] is not None
    return dict(record)


def test_an_honest_alert_is_verified_in_the_browser(page: Any, hub: HubProcess,
                                                     issued: dict[str, Any]) -> None:
    open_alert(page, hub, issued["id"], "verified")
    verdict = page.locator("#verdict").inner_text()
    assert verdict == (f"Перевірено. Джерело: Повітряні сили (ДЕМО); запис № {issued['log']['index']} "
                       "у журналі.")
    for key in ("registry", "signature", "hash", "fields", "key_valid", "checkpoint", "inclusion"):
        assert check_result(page, key) == "ok", key
    assert page.locator("#summary").get_attribute("data-untrusted") is None
    fields = page.locator("#fields").inner_text()
    for text in (issued["identifier"], issued["sender"], issued["sent"], "Повітряна тривога у Львові",
                 "Негайно прямуйте до укриття", "KATOTTG", LVIV_OBLAST):
        assert text in fields
    assert "Львівська" in page.locator("#where").inner_text()
    assert page.locator("#link-cap").get_attribute("href") == f"/api/v1/alerts/{issued['id']}/cap"
    assert page.locator("#link-proof").get_attribute("href") == f"/api/v1/alerts/{issued['id']}/proof"
    screenshot(page, "10-alert-verified")
    page.click("#lang-switch")
    assert page.locator("#verdict").inner_text().startswith("Verified: issued by Air Force")


def test_a_flipped_byte_in_the_cap_raises_the_loud_warning(page: Any, hub: HubProcess,
                                                           issued: dict[str, Any]) -> None:
    tamper(page, "**/api/v1/alerts/*/cap", lambda body: flip(body, len(body) // 2))
    open_alert(page, hub, issued["id"], "failed")
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("role") == "alert"
    assert verdict.inner_text() == "УВАГА: перевірка не пройшла. Не довіряйте цьому повідомленню."
    assert check_result(page, "hash") == "fail"
    assert check_result(page, "signature") == "ok"  # the statement itself is genuine
    assert page.locator("#trust").get_attribute("data-verdict") == "failed"
    assert page.locator("#summary").get_attribute("data-untrusted") == "true"
    assert page.locator("#key-facts").get_attribute("data-untrusted") == "true"
    assert page.locator("#alarm").is_visible()  # said at the top, above Where and What to do
    assert page.locator("#fields").inner_text() == "Поля не показано: байти CAP не ті, що підписані."
    screenshot(page, "11-alert-tampered-cap")


def test_a_forged_statement_signature_is_refused(page: Any, hub: HubProcess,
                                                 issued: dict[str, Any]) -> None:
    def forge(body: bytes) -> bytes:
        text, _, sig_line = body.decode().rstrip("\n").rpartition("\n")
        prefix, _, b64 = sig_line.rpartition(" ")
        raw = bytearray(base64.b64decode(b64))
        raw[10] ^= 0x80  # inside the Ed25519 signature, after the 4-byte key id
        return f"{text}\n{prefix} {base64.b64encode(bytes(raw)).decode()}\n".encode()

    tamper(page, "**/api/v1/alerts/*/statement", forge)
    open_alert(page, hub, issued["id"], "failed")
    assert check_result(page, "signature") == "fail"
    assert "does not verify" in page.locator('#checks li[data-check="signature"]').inner_text()
    screenshot(page, "12-alert-forged-signature")


def test_a_wrong_inclusion_proof_is_refused(page: Any, hub: HubProcess,
                                            issued: dict[str, Any]) -> None:
    def corrupt(body: bytes) -> bytes:
        lines = body.decode().split("\n")
        first_hash = next(i for i, line in enumerate(lines) if line.startswith("index ")) + 1
        raw = bytearray(base64.b64decode(lines[first_hash]))
        raw[0] ^= 0x01
        lines[first_hash] = base64.b64encode(bytes(raw)).decode()
        return "\n".join(lines).encode()

    tamper(page, "**/api/v1/alerts/*/proof", corrupt)
    open_alert(page, hub, issued["id"], "failed")
    assert check_result(page, "checkpoint") == "ok"
    assert check_result(page, "inclusion") == "fail"


def test_a_swapped_log_key_fails_the_checkpoint(page: Any, hub: HubProcess,
                                                issued: dict[str, Any]) -> None:
    other = "tocsin.localhost/log+00000000+" + base64.b64encode(bytes([1]) + bytes(32)).decode()
    page.route("**/api/v1/log/key", lambda route: route.fulfill(
        json={"origin": "tocsin.localhost/log", "vkey": other}))
    open_alert(page, hub, issued["id"], "failed")
    assert check_result(page, "checkpoint") == "fail"


def test_an_unknown_alert_is_not_shown_as_verified(page: Any, hub: HubProcess,
                                                   problems: PageProblems) -> None:
    # Issue 12: an id that does not exist is "not found" (HTTP 404), never "verification failed".
    problems.allowed.append("404")
    response = page.goto(f"{hub.url}/alerts/{'0' * 32}")
    assert response.status == 404
    text = page.locator("main").inner_text()
    assert "Не знайдено" in text and "перевірка не пройшла" not in text.lower()
    assert page.locator("body[data-verdict=verified]").count() == 0


def test_a_proof_not_yet_signed_is_pending_not_failed(page: Any, hub: HubProcess,
                                                      issued: dict[str, Any],
                                                      problems: PageProblems) -> None:
    problems.allowed.append("503")
    body = b'{"error":{"code":"proof_pending","message":"The checkpoint is not signed yet."}}'
    page.route("**/api/v1/alerts/*/proof", lambda route: route.fulfill(
        status=503, body=body, content_type="application/json"))
    open_alert(page, hub, issued["id"], "verified-pending")
    assert page.locator("#verdict").inner_text().startswith("Підпис перевірено. Джерело: Повітряні сили")
    assert check_result(page, "signature") == "ok"
    assert check_result(page, "inclusion") == "pending"
    screenshot(page, "13-alert-proof-pending")


def test_a_browser_without_webcrypto_is_told_it_cannot_check(page: Any, hub: HubProcess,
                                                             issued: dict[str, Any]) -> None:
    page.add_init_script("Object.defineProperty(window.crypto, 'subtle', {value: undefined})")
    open_alert(page, hub, issued["id"], "unsupported")
    verdict = page.locator("#verdict")
    assert verdict.get_attribute("role") == "alert"
    assert "не може перевірити" in verdict.inner_text()
    assert page.locator("#trust").get_attribute("data-verdict") == "unsupported"
