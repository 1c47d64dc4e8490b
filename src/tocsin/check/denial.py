"""Signed denials: an issuer's logged statement that a circulating message is fake.

A denial is an ordinary alert of kind ``denial``, so it takes the same
sign -> verify -> authorise -> log path as any warning, and only an issuer
the registry allows the kind may publish one. It carries the denied
message's normal-form SHA-256 (:func:`tocsin.check.normalise.normal_sha256`)
in a CAP ``parameter`` named ``TOCSIN-DENIES-SHA256`` and the message's text
in ``description``, so a checker matches the exact message by hash and close
reposts of it by text.

A denial is about a message, not a place: by default it names no area, so it
targets no region and colours nothing (issue 12). ``areas`` may still scope it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import msgspec

from tocsin.cap.model import Alert, ValuePair
from tocsin.check.index import DENIES_VALUE_NAME
from tocsin.check.normalise import normal_sha256
from tocsin.compose import AlertFacts, ComposeError, compose_alert

DENIAL_EXPIRES = timedelta(days=7)  # shown as current for a week; matched for ever
MAX_DENIED_CHARS = 5000


def compose_denial(*, issuer_id: str, denied_text: str, areas: Sequence[str] = (),
                   sender_name: str | None = None, note_uk: str | None = None,
                   note_en: str | None = None) -> Alert:
    """The denial alert for ``denied_text`` (Ukrainian info, English second info)."""
    text = denied_text.strip()
    if not text:
        raise ComposeError("the denied message is empty")
    if len(text) > MAX_DENIED_CHARS:
        raise ComposeError(f"the denied message is longer than {MAX_DENIED_CHARS} characters")
    facts = AlertFacts(
        issuer_id=issuer_id,
        kind="denial",
        areas=areas,
        event="Спростування фейку",
        headline=note_uk or "Це повідомлення — фейк. Ми його не публікували.",
        description=text,
        sender_name=sender_name,
        expires_in=DENIAL_EXPIRES,
        extra_info=(("en-US", "Denial of a false message",
                     note_en or "This message is fake. We did not publish it.", None),),
    )
    alert = compose_alert(facts)
    digest = ValuePair(value_name=DENIES_VALUE_NAME, value=normal_sha256(text))
    infos = tuple(msgspec.structs.replace(info, parameter=(*info.parameter, digest))
                  for info in alert.info)
    return msgspec.structs.replace(alert, info=infos)
