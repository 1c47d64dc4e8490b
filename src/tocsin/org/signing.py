"""The organisation's key: every org message is a C2SP signed note by it.

Recipients check a message came from their organisation with the organisation's public
key (``GET /api/v1/orgs/{org}/key``) and :func:`check_message` — the same note format and
the one Ed25519 stack (:mod:`tocsin.trust.note`, :mod:`tocsin.trust.ed25519`) the public
alerts use. The note names the organisation and the message, so a signed message of one
organisation can never pass as another's, nor be replayed as another message.

An org message is *not* a public alert: it is never logged, streamed or checkable at
``/api/v1/check``; the signature only says "your organisation said this".
"""

from __future__ import annotations

import re

from tocsin.trust.note import NoteError, Signer, Verifier, Verifiers, open_note, sign_note

HEADER = "tocsin org message v1"
MAX_TEXT_CHARS = 2000
_BAD = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class MessageTextError(ValueError):
    """The message text cannot be signed (empty, too long, control characters)."""


def new_signer(org_id: str) -> Signer:
    return Signer.generate(f"tocsin-org-{org_id}")


def clean_text(text: str) -> str:
    """The text as signed: newlines normalised, tabs as spaces, no blank lines, no controls."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if _BAD.search(text):
        raise MessageTextError("the message holds control characters")
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(line for line in lines if line.strip())
    if not text:
        raise MessageTextError("the message is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise MessageTextError(f"the message is longer than {MAX_TEXT_CHARS} characters")
    return text


def note_text(*, org_id: str, org_name: str, message_id: str, sent: str, text: str) -> str:
    """The signed text: a header naming organisation, message and time, then the message."""
    name = " ".join(org_name.split())
    return f"{HEADER}\norg {org_id} {name}\nmessage {message_id}\nsent {sent}\n{clean_text(text)}\n"


def sign_message(signer: Signer, **fields: str) -> bytes:
    return sign_note(note_text(**fields), [signer])


def check_message(note: bytes, vkey: str) -> str:
    """The message text if ``note`` is signed by the organisation key ``vkey``; else NoteError."""
    opened = open_note(note, Verifiers([Verifier.from_vkey(vkey)]))
    if not opened.text.startswith(HEADER + "\n"):
        raise NoteError("not an organisation message")
    return opened.text
