"""What an email says: which events are mailed, and the text and HTML of each message.

Which events are mailed is decided by the push rule, once (:func:`tocsin.push.messages.loudness`,
over the classes of :mod:`tocsin.kinds`): **threats** (``Alert``, ``Update``), **all-clears**, and
an **Update or Cancel of a threat**; only ``Actual`` messages; **notices are never mailed** (so
never shown as a threat) and **denials never** (they are about a message, not a place, and
never reach region subscribers).

Every message is ``multipart/alternative``: plain text, then HTML, both in the person's
language (``uk`` or ``en``), naming the person's own matched places. Everything that comes
from the CAP document (headline, instruction, description, event) or the registry is escaped
with :func:`html.escape` in the HTML part and cut to a bounded length; the subject is built
from the hub's own kind and place names (a CAP text only when the alert names no known kind)
with control characters removed.

An email is not proof of anything: anyone can write one. So each message says so, and links
the alert page (``/alerts/{id}``), where the browser verifies the issuer's signature and the
transparency log's proof — the message's "verify" link is the only place it is verified.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from tocsin.cap.model import Alert, Info
from tocsin.kinds import KINDS
from tocsin.push.messages import ALL_CLEAR, THREAT, loudness

LANGUAGES = ("uk", "en")
MAX_TEXT_CHARS = 2000
MAX_PLACES_NAMED = 12

#: What kind of message an event makes for email (None: not mailed).
THREAT_MAIL, ALL_CLEAR_MAIL, UPDATE_MAIL, CANCEL_MAIL = "threat", "all-clear", "update", "cancel"

_TEXT: dict[str, dict[str, str]] = {
    "uk": {
        "cancelled": "Скасовано", "updated": "Оновлено", "demo": "ДЕМО", "more": "ще {n}",
        "places": "Ваші місця", "issuer": "Видав", "sent": "Надіслано",
        "verify": "Перевірити це сповіщення",
        "verify_note": "Лист сам нічого не доводить: будь-хто може написати такий лист. Сторінка "
                       "сповіщення перевіряє у вашому браузері підпис того, хто його видав, і його "
                       "запис у прозорому журналі. Довіряйте лише тому, що вона підтверджує.",
        "cap": "Документ CAP", "unsubscribe": "Відписатися від цих листів",
        "why": "Ви отримали цей лист, бо підписалися на сповіщення для цих місць.",
        "confirm_subject": "Підтвердьте підписку на сповіщення Tocsin",
        "confirm_intro": "Хтось (сподіваємося, ви) попросив надсилати на цю адресу сповіщення про "
                         "загрози для таких місць:",
        "confirm_action": "Підтвердити підписку",
        "confirm_expires": "Посилання діє до {when} (UTC) і лише один раз.",
        "confirm_ignore": "Якщо ви цього не просили, просто не зважайте на цей лист: без "
                          "підтвердження ми нічого не надсилатимемо, а запит буде видалено.",
    },
    "en": {
        "cancelled": "Cancelled", "updated": "Updated", "demo": "DEMO", "more": "{n} more",
        "places": "Your places", "issuer": "Issued by", "sent": "Sent",
        "verify": "Verify this alert",
        "verify_note": "This email proves nothing by itself: anyone can write an email like it. The "
                       "alert page checks, in your browser, the issuer's signature and the alert's "
                       "entry in the transparency log. Trust only what it confirms.",
        "cap": "CAP document", "unsubscribe": "Unsubscribe from these emails",
        "why": "You get this email because you subscribed to alerts for these places.",
        "confirm_subject": "Confirm your Tocsin alert subscription",
        "confirm_intro": "Someone (we hope you) asked for alerts for these places to be sent to "
                         "this address:",
        "confirm_action": "Confirm the subscription",
        "confirm_expires": "The link works once, until {when} (UTC).",
        "confirm_ignore": "If you did not ask for this, ignore this email: nothing is sent without "
                          "confirmation, and the request is deleted.",
    },
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message's subject, plain text and HTML (before addresses and headers are added)."""

    subject: str
    text: str
    html: str


def mail_kind(view: dict[str, Any], references_threat: bool) -> str | None:
    """What message an event whose alert view is ``view`` makes (None: not mailed)."""
    how = loudness(view, references_threat)
    if how is None:
        return None
    if how is ALL_CLEAR:
        return ALL_CLEAR_MAIL
    msg_type = view.get("msgType")
    if msg_type == "Cancel":
        return CANCEL_MAIL
    if msg_type == "Update":
        return UPDATE_MAIL
    return THREAT_MAIL if how is THREAT else None


def _one_line(text: str, limit: int = 200) -> str:
    """Text for a header: every control or line-break character becomes a space."""
    cleaned = "".join(" " if not ch.isprintable() else ch for ch in text)
    return " ".join(cleaned.split())[:limit]


def _cut(text: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _info_for(alert: Alert, language: str) -> Info | None:
    for info in alert.info:
        if info.language.lower().startswith(language):
            return info
    return alert.info[0] if alert.info else None


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _paragraphs(text: str) -> str:
    """Escaped text as HTML paragraphs, line breaks kept."""
    return "".join(f"<p>{_e(part).replace(chr(10), '<br>')}</p>" for part in text.split("\n\n") if part)


def _page(language: str, title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width"><title>{_e(title)}</title></head>'
            f'<body style="font-family:sans-serif;line-height:1.4;max-width:40em">{body}</body></html>')


def alert_mail(*, view: dict[str, Any], alert: Alert, kind: str, language: str,
               place_names: list[str], base_url: str, unsubscribe_url: str, demo: bool) -> Rendered:
    """The message for one event and one person's matched places."""
    text = _TEXT.get(language, _TEXT["en"])
    info = _info_for(alert, language)
    kinds = [KINDS[k] for k in view.get("kinds") or [] if k in KINDS]
    if kinds:
        what = kinds[0].name_uk if language == "uk" else kinds[0].name_en
    else:
        what = (info.event if info is not None else "") or str(view.get("event") or "")
    if kind == CANCEL_MAIL:
        what = f"{text['cancelled']}: {what}"
    elif kind == UPDATE_MAIL:
        what = f"{text['updated']}: {what}"
    shown = place_names[:MAX_PLACES_NAMED]
    where = ", ".join(shown)
    if len(place_names) > len(shown):
        where += ", " + text["more"].format(n=len(place_names) - len(shown))
    subject = f"{what} — {where}" if where else what
    if demo:
        subject = f"[{text['demo']}] {subject}"
    subject = _one_line(subject)
    headline = _cut(info.headline if info is not None else None, 300)
    instruction = _cut(info.instruction if info is not None else None)
    description = _cut(info.description if info is not None else None)
    names = view.get("issuer_name") or {}
    issuer = str(names.get(language) or names.get("en") or view.get("issuer") or "")
    sent = str(view.get("sent") or "")
    alert_id = str(view["id"])
    page = f"{base_url}/alerts/{alert_id}"
    cap = f"{base_url}/api/v1/alerts/{alert_id}/cap"
    facts = [(text["places"], ", ".join(place_names)), (text["issuer"], issuer), (text["sent"], sent)]

    plain = [subject, ""]
    plain += [part for part in (headline, instruction, description) if part]
    plain += [""] + [f"{label}: {value}" for label, value in facts]
    plain += ["", f"{text['verify']}: {page}", text["verify_note"], f"{text['cap']}: {cap}",
              "", "-- ", text["why"], f"{text['unsubscribe']}: {unsubscribe_url}", ""]

    body = [f"<h1 style=\"font-size:1.3em\">{_e(subject)}</h1>"]
    if headline:
        body.append(f"<p><strong>{_e(headline)}</strong></p>")
    body += [_paragraphs(part) for part in (instruction, description) if part]
    body.append("<table>" + "".join(f"<tr><th style=\"text-align:left;padding-right:1em\">{_e(label)}"
                                     f"</th><td>{_e(value)}</td></tr>" for label, value in facts)
                + "</table>")
    body.append(f'<p><a href="{_e(page)}"><strong>{_e(text["verify"])}</strong></a></p>'
                f"<p>{_e(text['verify_note'])}</p>"
                f'<p><a href="{_e(cap)}">{_e(text["cap"])}</a></p>'
                f'<hr><p style="font-size:.9em">{_e(text["why"])} '
                f'<a href="{_e(unsubscribe_url)}">{_e(text["unsubscribe"])}</a></p>')
    return Rendered(subject, "\n".join(plain), _page(language, subject, "".join(body)))


def confirmation_mail(*, language: str, place_names: list[str], confirm_url: str,
                      expires_utc: str, demo: bool) -> Rendered:
    """The one message sent before confirmation: what was asked, the link, how to ignore it."""
    text = _TEXT.get(language, _TEXT["en"])
    subject = text["confirm_subject"]
    if demo:
        subject = f"[{text['demo']}] {subject}"
    expires = text["confirm_expires"].format(when=expires_utc)
    plain = [text["confirm_intro"], "", *(f"  • {name}" for name in place_names), "",
             f"{text['confirm_action']}: {confirm_url}", expires, "", text["confirm_ignore"], ""]
    body = (f"<p>{_e(text['confirm_intro'])}</p><ul>"
            + "".join(f"<li>{_e(name)}</li>" for name in place_names)
            + f'</ul><p><a href="{_e(confirm_url)}"><strong>{_e(text["confirm_action"])}</strong></a></p>'
            f"<p>{_e(expires)}</p><p>{_e(text['confirm_ignore'])}</p>")
    return Rendered(subject, "\n".join(plain), _page(language, subject, body))
