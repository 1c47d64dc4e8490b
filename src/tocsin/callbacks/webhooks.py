"""Standard Webhooks messages: what a webhook endpoint receives, and how it is signed.

Every request carries the three headers of the Standard Webhooks specification, made with
the ``standardwebhooks`` library (``Webhook.sign``):

* ``webhook-id`` — ``msg_<endpoint id>_<event id>``: the idempotency key. It is the same
  on every retry and on a replay from the dead letters, so a receiver that stores the ids
  it has handled never acts twice on one event;
* ``webhook-timestamp`` — seconds since the epoch *of this attempt* (receivers refuse
  stale timestamps, so a retry is signed afresh);
* ``webhook-signature`` — ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the
  endpoint's ``whsec_`` signing secret.

The body is JSON ``{"type", "timestamp", "data"}``: ``type`` is ``alert`` (a new alert,
update, cancel or all-clear) or ``denial``; ``timestamp`` is when the hub received the
alert (RFC 3339), the same on every retry; ``data`` is the alert view the live streams
send (:mod:`tocsin.api.views`) with its ``event_id`` and absolute ``links``. A receiver
must not take a webhook as proof by itself: the links lead to the signed CAP, the
issuer's statement and the log proof, which ``tocsin verify`` checks offline.

Before an endpoint is stored, the hub sends it a signed ``webhook.verification`` message
with a random ``challenge``; the endpoint must answer 2xx with the challenge in its body
(plain, or JSON ``{"challenge": …}``). Nothing is ever sent to an endpoint that did not.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import msgspec
from standardwebhooks import Webhook

from tocsin.store.base import StreamEvent

VERIFICATION = "webhook.verification"
MAX_ANSWER_BYTES = 4096


def message_id(target_id: str, event_id: int) -> str:
    """The idempotency key of one event for one endpoint (stable across retries)."""
    return f"msg_{target_id}_{event_id}"


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def event_body(event: StreamEvent, view: dict[str, Any], base_url: str) -> bytes:
    """The JSON body of an event (the same bytes on every attempt)."""
    data = dict(view)
    data["event_id"] = event.id
    data["links"] = {k: base_url + str(v) for k, v in (view.get("links") or {}).items()}
    if "url" in data:
        data["url"] = base_url + str(data["url"])
    received = view.get("received")
    when = _rfc3339(float(received)) if isinstance(received, int | float) else None
    return msgspec.json.encode({"type": event.kind, "timestamp": when, "data": data})


def signed_headers(signing_secret: str, msg_id: str, body: bytes, now: float) -> dict[str, str]:
    """The Standard Webhooks headers for one attempt to send ``body``."""
    stamp = datetime.fromtimestamp(int(now), UTC)
    signature = Webhook(signing_secret).sign(msg_id, stamp, body.decode("utf-8"))
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(now)),
            "webhook-signature": signature, "content-type": "application/json"}


def verification_message(now: float) -> tuple[str, str, bytes]:
    """``(webhook-id, challenge, body)`` of an endpoint check."""
    challenge = secrets.token_urlsafe(24)
    body = msgspec.json.encode({"type": VERIFICATION, "timestamp": _rfc3339(now),
                                "data": {"challenge": challenge}})
    return "msg_verify_" + secrets.token_urlsafe(12), challenge, body


def answered_challenge(answer: bytes, challenge: str) -> bool:
    """Whether an endpoint's answer carries the challenge (plain text or JSON)."""
    text = answer[:MAX_ANSWER_BYTES].strip()
    if secrets.compare_digest(text, challenge.encode()):
        return True
    try:
        data = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return False
    got = data.get("challenge") if isinstance(data, dict) else None
    return isinstance(got, str) and secrets.compare_digest(got.encode(), challenge.encode())
