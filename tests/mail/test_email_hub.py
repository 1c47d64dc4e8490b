"""Email alerts end to end: a real hub, a real SMTP server (aiosmtpd) on 127.0.0.1 as its relay.

Done when (issue 16): an SMTP server on 127.0.0.1 receives a verified alert, in the person's
language, with both parts, the alert page link and RFC 8058 unsubscribe headers; nothing
reaches an address that never confirmed; a relay that was down gets the mail later.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tocsin.client import ServerEvent, follow

from .conftest import (
    KYIV,
    LVIV,
    LVIV_OBLAST,
    Relay,
    confirm,
    hub_with,
    issue,
    link_in,
    metric,
    query,
    self_signed,
    subscribe,
    text_of,
    until,
)

pytestmark = pytest.mark.timeout(120)

OLENA = "olena@example.org"
STRANGER = "never-confirms@example.org"
JOHN = "john@example.com"


def test_subscribe_confirm_alert_all_clear_and_one_click_unsubscribe(relay: Relay, tmp_path: Path) -> None:
    with hub_with(relay, tmp_path / "data") as hub:
        # Header injection through the address or the name is refused; nothing is sent.
        for bad in ({"address": "x@example.org\r\nBcc: victim@example.org"},
                    {"address": "x@example.org", "name": "X\r\nBcc: victim@example.org"},
                    {"address": "x@example.org", "name": "X\nSubject: free money"}):
            answer = httpx.post(f"{hub.url}/api/v1/email/subscriptions",
                                json={"regions": [KYIV], **bad})
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["code"] == "email_address_refused"
            assert "line break" in answer.json()["error"]["detail"]

        made = subscribe(hub, OLENA, [LVIV, KYIV], "uk", name="Олена Петренко")
        assert made.status_code == 202, made.text
        assert subscribe(hub, STRANGER, [LVIV], "en").status_code == 202
        again = subscribe(hub, STRANGER, [LVIV], "en")  # one pending confirmation per address
        assert again.status_code == 429
        assert again.json()["error"]["code"] == "email_confirmation_pending"
        assert 3500 <= int(again.headers["retry-after"]) <= 3600

        [asked] = relay.inbox.wait_for(OLENA, 1)
        assert asked["Subject"] == "[ДЕМО] Підтвердьте підписку на сповіщення Tocsin"
        assert "Львівська територіальна громада" in text_of(asked, "plain")
        assert asked["To"].addresses[0].display_name == "Олена Петренко"
        url = link_in(asked, "/api/v1/email/confirm")
        page = httpx.get(url, headers={"Accept": "text/html"})  # a scanner's GET changes nothing
        assert page.status_code == 200 and '<form method="post">' in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert metric(hub, "tocsin_email_subscriptions") == 0
        assert httpx.post(url).json() == {"confirmed": True, "regions": [LVIV, KYIV], "language": "uk"}
        used = httpx.post(url)  # one time only
        assert used.status_code == 404 and used.json()["error"]["code"] == "email_link_invalid"
        forged = httpx.post(url.replace(query(url)["token"], "A" * 43))
        assert forged.status_code == 404
        assert metric(hub, "tocsin_email_subscriptions") == 1

        # A notice and a denial are never mailed; the threat after them is.
        issue(hub, "demo-embassy", (KYIV,), kind="facility-closed")
        issue(hub, "demo-defence-intelligence", (), kind="denial")
        alert = issue(hub, "demo-air-force", (LVIV_OBLAST,),
                      instruction='<b>Негайно</b> прямуйте до укриття & "чекайте"')
        [_, mail] = relay.inbox.wait_for(OLENA, 2)
        assert mail.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
        assert mail["Subject"] == "[ДЕМО] Повітряна тривога — Львівська територіальна громада"
        page_link = f"{hub.url}/alerts/{alert['id']}"
        plain, markup = text_of(mail, "plain"), text_of(mail, "html")
        assert page_link in plain and f'href="{page_link}"' in markup
        assert '<b>Негайно</b> прямуйте до укриття & "чекайте"' in plain
        assert "&lt;b&gt;Негайно&lt;/b&gt; прямуйте до укриття &amp; &quot;чекайте&quot;" in markup
        assert "<b>" not in markup
        assert "Перевірити це сповіщення" in plain and "будь-хто може написати" in plain
        unsubscribe = str(mail["List-Unsubscribe"]).strip()  # (folded after the colon)
        assert unsubscribe.startswith(f"<{hub.url}/api/v1/email/unsubscribe?") and unsubscribe.endswith(">")
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert unsubscribe[1:-1].replace("&", "&amp;") in markup

        clear = issue(hub, "demo-air-force", (LVIV_OBLAST,), kind="all-clear")
        [*_, cleared] = relay.inbox.wait_for(OLENA, 3)
        assert cleared["Subject"] == "[ДЕМО] Відбій тривоги — Львівська територіальна громада"
        assert f"{hub.url}/alerts/{clear['id']}" in text_of(cleared, "plain")

        # RFC 8058 one-click: a POST with the fixed body; everything about Olena is deleted.
        wrong = httpx.post(unsubscribe[1:-1].replace(query(unsubscribe[1:-1])["token"], "x" * 43),
                           content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert wrong.status_code == 404
        done = httpx.post(unsubscribe[1:-1], content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200 and done.json() == {"unsubscribed": True}
        assert metric(hub, "tocsin_email_subscriptions") == 0
        stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("email.sqlite3*"))
        assert OLENA.encode() not in stored and "Олена".encode() not in stored

        # John confirms in English; the next Lviv alert reaches him and nobody else.
        assert subscribe(hub, JOHN, [LVIV_OBLAST], "en").status_code == 202
        confirm(hub, relay, JOHN)
        issue(hub, "demo-air-force", (LVIV_OBLAST,), kind="missile")
        [_, johns] = relay.inbox.wait_for(JOHN, 2)
        assert johns["Subject"] == "[DEMO] Missile threat — Lviv Oblast"
        assert "Verify this alert" in text_of(johns, "plain")
        assert len(relay.inbox.to(OLENA)) == 3
        assert len(relay.inbox.to(STRANGER)) == 1  # its confirmation only: never confirmed


async def test_relay_down_then_up_mail_arrives_later_and_live_streams_never_wait(
        relay: Relay, tmp_path: Path) -> None:
    with hub_with(relay, tmp_path / "data") as hub:
        assert subscribe(hub, OLENA, [LVIV], "en").status_code == 202
        await asyncio.to_thread(confirm, hub, relay, OLENA)
        relay.stop()

        # A confirmation that cannot be handed over is not kept: asking again is not refused.
        down = subscribe(hub, JOHN, [KYIV])
        assert down.status_code == 503 and down.json()["error"]["code"] == "email_relay_unavailable"

        got: list[ServerEvent] = []

        async def listen() -> None:
            async for event in follow(hub.url, regions=[LVIV]):
                if event.event == "alert":
                    got.append(event)
                    return

        listener = asyncio.create_task(listen())
        async with httpx.AsyncClient() as http:  # until the hub counts the stream (its own count)
            for _ in range(400):
                if (await http.get(f"{hub.url}/healthz")).json()["subscribers"] >= 1:
                    break
                await asyncio.sleep(0.01)
        alert = await asyncio.to_thread(issue, hub, "demo-air-force", (LVIV_OBLAST,))
        await asyncio.wait_for(listener, 5)  # the live stream did not wait for the relay
        assert json.loads(got[0].data)["id"] == alert["id"]
        await asyncio.to_thread(until, lambda: metric(hub, "tocsin_email_retried_total") >= 1,
                                "the sender tried the relay and backed off")
        assert len(relay.inbox.to(OLENA)) == 1  # the confirmation only, so far

        relay.start()
        [_, late] = await asyncio.to_thread(relay.inbox.wait_for, OLENA, 2)
        assert late["Subject"] == "[DEMO] Air raid alert — Lvivska Hromada"
        assert f"{hub.url}/alerts/{alert['id']}" in text_of(late, "plain")
        assert subscribe(hub, JOHN, [KYIV]).status_code == 202  # the refused request held nothing

        # A 4xx reply to a message is retried; a 5xx drops that message only.
        relay.inbox.refusals[:] = ["451 4.3.0 Try again later"]
        drone = await asyncio.to_thread(issue, hub, "demo-air-force", (LVIV_OBLAST,), kind="drone")
        [*_, retried] = await asyncio.to_thread(relay.inbox.wait_for, OLENA, 3)
        assert f"/alerts/{drone['id']}" in text_of(retried, "plain")
        relay.inbox.refusals[:] = ["550 5.1.1 No such user"]
        await asyncio.to_thread(issue, hub, "demo-air-force", (LVIV_OBLAST,), kind="missile")
        clear = await asyncio.to_thread(issue, hub, "demo-air-force", (LVIV_OBLAST,), kind="all-clear")
        [*_, last] = await asyncio.to_thread(relay.inbox.wait_for, OLENA, 4)
        assert f"/alerts/{clear['id']}" in text_of(last, "plain")
        assert relay.inbox.refused == ["[DEMO] Drone threat — Lvivska Hromada",
                                       "[DEMO] Missile threat — Lvivska Hromada"]
        assert metric(hub, 'tocsin_email_failed_total{reason="smtp_550"}') == 1


def test_starttls_and_credentials_the_password_never_logged_and_mail_resumes_after_restart(
        tmp_path: Path) -> None:
    import ssl

    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    password = "pw-Zq8xv1-never-logged"

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      data: object) -> AuthResult:
        ok = isinstance(data, LoginPassword) and data.login == b"hub" and data.password == password.encode()
        return AuthResult(success=ok, handled=False)  # (handled=False: aiosmtpd answers 535)

    relay = Relay(tls_context=context, require_starttls=True, auth_required=True,
                  authenticator=authenticator, auth_exclude_mechanism=["LOGIN"])
    relay.start()
    data = tmp_path / "data"
    tls = {"TOCSIN_EMAIL_SMTP_SECURITY": "starttls", "TOCSIN_EMAIL_SMTP_CA_FILE": str(cert),
           "TOCSIN_EMAIL_SMTP_USERNAME": "hub"}
    try:
        with hub_with(relay, data, **tls, TOCSIN_EMAIL_SMTP_PASSWORD=password) as hub:
            assert subscribe(hub, OLENA, [LVIV], "en").status_code == 202
            confirm(hub, relay, OLENA)

        wrong = "wrong-Pq3-also-never-logged"
        with hub_with(relay, data, **tls, TOCSIN_EMAIL_SMTP_PASSWORD=wrong) as hub:
            alert = issue(hub, "demo-air-force", (LVIV_OBLAST,))
            until(lambda: metric(hub, "tocsin_email_retried_total") >= 1, "the relay refused the login")
        assert hub.proc is not None and hub.proc.stdout is not None
        output = hub.proc.stdout.read().decode()
        assert "refused our credentials: 535" in output  # the failure is logged ...
        assert wrong not in output and password not in output  # ... the password never
        assert len(relay.inbox.to(OLENA)) == 1

        with hub_with(relay, data, **tls, TOCSIN_EMAIL_SMTP_PASSWORD=password) as hub:
            [_, late] = relay.inbox.wait_for(OLENA, 2)  # resumed from the saved position
            assert f"{hub.url}/alerts/{alert['id']}" in text_of(late, "plain")
    finally:
        relay.stop()
