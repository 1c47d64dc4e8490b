"""The one catalogue of errors a client of the HTTP API can see.

Every error has a stable ``code`` (clients and docs key on it), an HTTP
status and a message template. Handlers raise :class:`ApiError` with a code
from :data:`CATALOGUE` and a precise detail; the app renders it as
``{"error": {"code", "message", "detail", "docs"}}``. Nothing else reaches a
client: unexpected exceptions become ``internal`` with no traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.responses import Response

DOCS_URL = "/docs/errors#"


@dataclass(frozen=True, slots=True)
class ErrorKind:
    code: str
    status: int
    message: str


_KINDS = (
    # input
    ErrorKind("body_too_large", 413, "The request body is larger than the hub accepts."),
    ErrorKind("bad_request", 400, "The request is malformed."),
    ErrorKind("headers_too_large", 431,
              "The request line and headers are larger than the hub accepts; the connection is closed."),
    ErrorKind("request_timeout", 408, "The request body did not arrive in time; the connection is closed."),
    ErrorKind("rate_limited", 429,
              "This client sent too many checks or refused writes; retry after Retry-After seconds."),
    ErrorKind("unsupported_media_type", 415, "The request body has a media type the endpoint does not take."),
    ErrorKind("alert_too_large", 413, "The CAP document or its statement is larger than an alert may be."),
    ErrorKind("alert_too_complex", 422, "The alert's areas exceed the hub's cost budget."),
    ErrorKind("invalid_cap", 422, "The CAP document is not valid CAP 1.2 for issuing."),
    ErrorKind("bad_statement", 400, "The signed statement is missing or cannot be read."),
    ErrorKind("bad_parameter", 400, "A query parameter is invalid."),
    ErrorKind("bad_last_event_id", 400, "Last-Event-ID (or since) must be a non-negative event id."),
    ErrorKind("unknown_region", 404, "No region has this code."),
    ErrorKind("not_found", 404, "Nothing exists at this address."),
    ErrorKind("alert_not_found", 404, "No alert has this id."),
    ErrorKind("method_not_allowed", 405, "The endpoint does not take this method."),
    ErrorKind("not_acceptable", 406, "The endpoint cannot produce the requested media type."),
    # trust
    ErrorKind("bad_token", 401, "The API token is missing or not the one this hub requires."),
    ErrorKind("forged", 401, "The statement's signature does not verify with any key in the registry."),
    ErrorKind("altered", 422, "The CAP bytes do not match the signed statement."),
    ErrorKind("unauthorised", 403, "The issuer may not issue this alert."),
    ErrorKind("bad_registry", 422, "The registry is not a newer version signed by the pinned root."),
    ErrorKind("stale_alert", 422, "The alert's sent time is too far from the hub's clock."),
    # state
    ErrorKind("conflict", 409, "Another alert with the same sender and identifier exists."),
    ErrorKind("unknown_reference", 422, "The alert references an alert this hub never accepted."),
    ErrorKind("foreign_reference", 403, "The alert updates or cancels another issuer's alert."),
    ErrorKind("sender_not_allowed", 403, "The registry does not let this issuer use this CAP sender."),
    ErrorKind("status_mismatch", 422, "An Update or Cancel must have the status of the alert it ends."),
    ErrorKind("too_many_subscriptions", 429, "This client holds too many live subscriptions."),
    ErrorKind("too_many_regions", 400, "A subscription names too many regions."),
    ErrorKind("bad_push_subscription", 400, "The push subscription request is malformed."),
    ErrorKind("push_endpoint_refused", 422,
              "The push endpoint is not a public HTTPS URL this hub may send to."),
    ErrorKind("push_subscription_not_found", 404, "No push subscription has this id."),
    ErrorKind("bad_push_secret", 401, "The push subscription's secret is missing or wrong."),
    ErrorKind("too_many_push_subscriptions", 503, "The hub holds as many push subscriptions as it may."),
    ErrorKind("bad_webhook", 400, "The webhook registration request is malformed."),
    ErrorKind("webhook_url_refused", 422,
              "The webhook URL is not a public HTTPS URL this hub may send to."),
    ErrorKind("webhook_not_verified", 422,
              "The webhook endpoint did not answer the hub's verification request with its challenge."),
    ErrorKind("webhook_not_found", 404, "No webhook endpoint has this id."),
    ErrorKind("bad_webhook_secret", 401, "The webhook owner's secret is missing or wrong."),
    ErrorKind("too_many_callbacks", 503,
              "The hub holds as many webhook endpoints and WebSub subscriptions as it may."),
    ErrorKind("bad_websub_request", 400, "The WebSub subscription request is malformed."),
    ErrorKind("unknown_topic", 404, "The WebSub topic is not one of this hub's Atom feeds."),
    ErrorKind("websub_callback_refused", 422,
              "The WebSub callback is not a public HTTPS URL this hub may send to."),
    ErrorKind("bad_email_subscription", 400,
              "The email subscription request is malformed."),
    ErrorKind("email_address_refused", 400,
              "The email address or name cannot be used: malformed, or holding a line break or "
              "control character."),
    ErrorKind("email_confirmation_pending", 429,
              "A confirmation email was sent to this address recently; retry after Retry-After "
              "seconds."),
    ErrorKind("too_many_email_requests", 429,
              "This client asked for too many email subscriptions; retry after Retry-After seconds."),
    ErrorKind("email_link_invalid", 404,
              "The email link is unknown, already used or expired."),
    ErrorKind("email_unavailable", 503,
              "This hub sends no email (no SMTP relay is configured)."),
    ErrorKind("email_relay_unavailable", 503,
              "The confirmation email could not be handed to the SMTP relay; nothing was kept."),
    ErrorKind("too_many_email_subscriptions", 503,
              "The hub holds as many email subscriptions as it may."),
    ErrorKind("proof_pending", 503, "The alert is logged; the checkpoint covering it is not signed yet."),
    # followed feeds (docs/federation.md): refusals shown in /api/v1/follows and logged
    ErrorKind("relayed_alert_not_found", 404, "No alert relayed from a followed feed has this id."),
    ErrorKind("not_logged", 422,
              "The followed hub's proof does not show the alert in its log under the configured log key."),
    ErrorKind("bad_xml_signature", 422,
              "The CAP document's XML signature does not verify with a certificate configured for the feed."),
    ErrorKind("feed_too_large", 502,
              "A followed feed, or a document it links to, is larger than the follower reads."),
    ErrorKind("feed_malformed", 502,
              "A followed feed is not a readable Atom feed (malformed, a DOCTYPE or entities, no CAP link)."),
    ErrorKind("feed_redirect_loop", 502, "A followed feed redirects in a loop or too many times."),
    ErrorKind("feed_address_refused", 502,
              "A followed feed's URL is not a public HTTPS address (or a follow_allowed_hosts host)."),
    ErrorKind("feed_unreachable", 502, "A followed feed did not answer, or answered with an HTTP error."),
    # organisations (docs/organisations.md)
    ErrorKind("org_login_required", 401, "Sign in as an admin of this organisation (no valid session)."),
    ErrorKind("org_forbidden", 403, "This admin may not do this here (another organisation, or the role "
              "does not allow it); nothing was changed."),
    ErrorKind("csrf_failed", 403, "The request did not come from the hub's own pages (Origin or "
              "X-CSRF-Token missing or wrong); nothing was changed."),
    ErrorKind("bad_org_request", 400, "The organisation request is malformed."),
    ErrorKind("bad_people_csv", 400, "The people CSV cannot be used at all (no header, no name column, "
              "too many rows); nothing was imported."),
    ErrorKind("bad_org_message", 400, "The message text is empty, too long or holds control characters."),
    ErrorKind("empty_audience", 422, "Nobody in the organisation matches this audience; nothing was sent."),
    ErrorKind("org_message_not_found", 404, "No message of this organisation has this id."),
    ErrorKind("person_not_found", 404, "No person of this organisation has this id."),
    ErrorKind("admin_exists", 409, "This email is already an admin of the organisation."),
    ErrorKind("admin_not_found", 404, "No admin of this organisation has this id."),
    ErrorKind("last_owner", 409, "This is the organisation's last owner; invite another owner first."),
    ErrorKind("checkin_token_invalid", 404, "This check-in link is not valid (unknown, or for another "
              "request); nothing was recorded."),
    ErrorKind("checkin_answered", 409, "This check-in was already answered; the first answer stands."),
    ErrorKind("checkin_closed", 409, "This check-in is closed; nothing was recorded."),
    ErrorKind("bad_checkin_answer", 400, "The answer must be safe, need_help or away, with a short note."),
    ErrorKind("enrolment_invalid", 404, "This enrolment link is spent, expired or wrong."),
    ErrorKind("passkey_failed", 401, "The passkey did not verify, or the sign-in expired; start again."),
    ErrorKind("recovery_failed", 401, "This email and recovery code do not match an unused code."),
    # server
    ErrorKind("unavailable", 503, "The hub is shutting down or not ready."),
    ErrorKind("storage_full", 507,
              "The hub's disk is full; nothing was stored. Retry after Retry-After seconds."),
    ErrorKind("storage_unavailable", 503,
              "The hub's storage failed; nothing was stored. Retry after Retry-After seconds."),
    ErrorKind("store_damaged", 503,
              "The hub found its store damaged and accepts no writes until it is restored; "
              "nothing was stored."),
    ErrorKind("writer_unavailable", 503,
              "This edge could not hand the write to the writer; retry after Retry-After seconds."),
    ErrorKind("standby", 503,
              "This writer is a standby: another writer leads and takes writes (edges hand them "
              "there). Retry after Retry-After seconds."),
    ErrorKind("internal", 500, "The hub failed unexpectedly; nothing was changed."),
)

CATALOGUE: dict[str, ErrorKind] = {kind.code: kind for kind in _KINDS}


class ApiError(Exception):
    """A catalogued error with a precise detail for this occurrence."""

    def __init__(self, code: str, detail: str | None = None, **extra: Any) -> None:
        if code not in CATALOGUE:
            raise KeyError(f"uncatalogued API error code {code!r}")
        self.kind = CATALOGUE[code]
        self.detail = detail
        self.extra = extra
        super().__init__(f"{code}: {detail or self.kind.message}")

    def response(self) -> Response:
        body: dict[str, Any] = {
            "code": self.kind.code,
            "message": self.kind.message,
            "docs": DOCS_URL + self.kind.code,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        headers = {}
        if "retry_after" in self.extra:
            headers["Retry-After"] = str(self.extra["retry_after"])
        if self.kind.status == 408:  # the rest of the request never came: end the connection
            headers["Connection"] = "close"
        return Response(
            msgspec.json.encode({"error": body}),
            status_code=self.kind.status,
            media_type="application/json",
            headers=headers,
        )
