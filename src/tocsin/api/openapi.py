"""The OpenAPI 3.1 document of the hub's HTTP API, kept beside the route table.

Written out rather than generated from docstrings: it is a public contract,
and a test (``tests/hub/test_openapi_routes.py``) builds the app exactly as ``tocsin serve``
does and checks that every machine-readable route it mounts appears here and every path
here is routed. The log's paths assume the default origin (``tocsin.localhost/log``).
"""

from __future__ import annotations

from typing import Any

from tocsin import __version__
from tocsin.api.errors import CATALOGUE


def _error_ref() -> dict[str, Any]:
    return {"description": "A catalogued error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _get(summary: str, params: list[dict[str, Any]] | None = None,
         content: str = "application/json", extra: dict[str, Any] | None = None,
         schema: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": params or [],
        "responses": {"200": {"description": "OK",
                              "content": {content: {"schema": schema} if schema else {}}},
                      "4XX": _error_ref()},
    }
    if extra:
        op.update(extra)
    return {"get": op}


def _q(name: str, description: str, schema: dict[str, Any] | None = None,
       required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def _p(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


ALERT_ID = _p("alert_id", "The alert's id (hex SHA-256 prefix of its exact CAP bytes)")
REGION = _p("code", "A region code: KATOTTG, ISO 3166-2 or an alias")
PLACE = [
    _q("regions", "Comma-separated region codes"),
    _q("lat", "Latitude of a point (WGS84)", {"type": "number"}),
    _q("lon", "Longitude of a point (WGS84)", {"type": "number"}),
]
DENIALS = _q("denials", "1: also deliver denials (event: denial); alone, denials only; with "
             "regions=* every region's alerts too. Without it no denial is ever delivered",
             {"type": "string", "enum": ["0", "1", "true", "false"]})
CLASSES = ["threat", "notice", "all-clear", "denial"]
CLASS = _q("class", "Only alerts of this class", {"type": "string", "enum": CLASSES})


def _alert_list() -> dict[str, Any]:
    return {"type": "object", "properties": {"alerts": {"type": "array", "items": _ref("Alert")}}}


def _schemas() -> dict[str, Any]:
    """The alert view (tocsin.api.views) and the answers built from it."""
    text = {"type": "string"}
    number = {"type": "number"}
    nullable_number = {"type": ["number", "null"]}
    nullable_text = {"type": ["string", "null"]}
    with_coverage = {"allOf": [_ref("Alert"), {"type": "object", "properties": {
        "coverage": {"type": "string", "enum": ["full", "partial"]}, "url": text}}]}
    return {
        "Area": {"type": "object", "required": ["code", "name_uk", "name_en"], "properties": {
            "code": text, "name_uk": text, "name_en": text}},
        "Over": {
            "type": "object", "required": ["reason", "at", "at_iso", "by", "by_issuer"],
            "description": "Why and when an alert stopped being in force",
            "properties": {
                "reason": {"type": "string", "enum": ["ended", "cancelled", "updated", "expired"]},
                "at": number, "at_iso": {"type": "string", "format": "date-time",
                                         "description": "ISO 8601, Europe/Kyiv, with offset"},
                "by": nullable_text, "by_issuer": nullable_text}},
        "Alert": {
            "type": "object",
            "description": "One alert view, the same in every answer and stream payload",
            "required": ["id", "issuer", "class", "kinds", "active", "over", "areas"],
            "properties": {
                "id": text, "issuer": text,
                "issuer_name": {"type": ["object", "null"], "properties": {"uk": text, "en": text}},
                "key_id": text, "sender": text, "identifier": text, "sent": text,
                "sent_ts": number, "received": number, "expires": nullable_number,
                "expires_iso": nullable_text, "msgType": text, "status": text,
                "kinds": {"type": "array", "items": text},
                "class": {"type": "string", "enum": CLASSES},
                "event": text,
                "headline": nullable_text,
                "areas": {"type": "array", "items": _ref("Area")},
                "area_desc": {"type": "array", "items": text},
                "active": {"type": "boolean"},
                "over": {"oneOf": [{"type": "null"}, _ref("Over")]},
                "ended": nullable_number, "ended_by": nullable_text,
                "targets": {"type": "object", "additionalProperties": {
                    "type": "string", "enum": ["full", "partial"]}},
                "references": {"type": "array", "items": text},
                "event_id": {"type": "integer"},
                "log": {"type": "object", "properties": {
                    "index": {"type": ["integer", "null"]},
                    "status": {"type": "string", "enum": ["proven", "pending"]}}},
                "links": {"type": "object", "additionalProperties": text},
            },
        },
        "AlertList": _alert_list(),
        "RegionStatus": {"type": "object", "properties": {
            "region": {"type": "object"},
            "coverage": {"type": "string", "enum": ["full", "partial", "none"],
                         "description": "Threats only: notices and denials never count"},
            "alerts": {"type": "array", "items": with_coverage,
                       "description": "Active threats touching the region"},
            "notices": {"type": "array", "items": with_coverage,
                        "description": "Active notices touching the region (never 'under alert')"},
        }},
        "HubInfo": {"type": "object", "properties": {
            "name": text, "version": text, "demo": {"type": "boolean"},
            "time_zone": text, "log_origin": text, "now": number}},
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Tocsin hub API",
            "version": __version__,
            "description": "Issue signed CAP 1.2 alerts, read them, and follow them live by region.",
        },
        "paths": {
            "/healthz": _get("Liveness and the last event id; the process's role, whether it is "
                             "caught up with the store, and the bus (docs/deploy.md)"),
            "/readyz": _get("200 once this process is caught up with the store, else 503 (a "
                            "standby writer: always 503, its /healthz says standby; also when "
                            "the background scan found the store damaged)"),
            "/metrics": _get("Prometheus metrics", content="text/plain"),
            "/api/v1/openapi.json": _get("This document"),
            "/api/v1/alerts": {
                "post": {
                    "summary": "Issue a signed alert",
                    "description": (
                        "Body: JSON {cap: base64 of the exact CAP bytes, statement: the signed "
                        "statement text}, or the CAP bytes as application/cap+xml with the "
                        "statement base64-encoded in the Tocsin-Statement header. The hub verifies, "
                        "authorises and stores durably before answering 201; a retry of the same "
                        "bytes answers the same (with Tocsin-Replay: true)."
                    ),
                    "requestBody": {"required": True, "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/IssueRequest"}},
                        "application/cap+xml": {"schema": {"type": "string"}},
                    }},
                    "responses": {"201": {"description": "Stored durably"},
                                  "4XX": _error_ref()},
                },
                **_get("List alerts, newest first", [
                    CLASS,
                    _q("region", "Only alerts concerning this region"),
                    _q("lat", "Only alerts concerning the region at this point", {"type": "number"}),
                    _q("lon", "Longitude for lat", {"type": "number"}),
                    _q("active", "true: only active alerts", {"type": "boolean"}),
                    _q("since", "POSIX seconds or CAP time: only alerts sent since"),
                    _q("limit", "At most this many (1-1000)", {"type": "integer"}),
                ], schema=_ref("AlertList")),
            },
            "/api/v1/denials": _get(
                "Signed denials of fake messages, newest first (the same as /api/v1/alerts?class=denial)",
                [_q("active", "true: only denials still in force", {"type": "boolean"}),
                 _q("limit", "At most this many (1-1000)", {"type": "integer"})],
                schema=_ref("AlertList")),
            "/api/v1/hub": _get("This hub: demo mode, version, time zone pages show times in",
                                schema=_ref("HubInfo")),
            "/docs/errors": _get("The error catalogue as HTML, one anchor per code (#code)",
                                 content="text/html"),
            "/docs/errors.md": _get("The error catalogue as Markdown", content="text/markdown"),
            "/api/v1/alerts/{alert_id}": _get(
                "An alert: JSON, or with Accept: application/cap+xml the exact signed CAP", [ALERT_ID],
                schema=_ref("Alert")),
            "/api/v1/alerts/{alert_id}/cap": _get("The exact signed CAP bytes", [ALERT_ID],
                                                  "application/cap+xml"),
            "/api/v1/alerts/{alert_id}/statement": _get("The issuer's signed statement",
                                                        [ALERT_ID], "text/plain"),
            "/api/v1/alerts/{alert_id}/proof": _get(
                "C2SP tlog-proof bundle: inclusion of the alert's leaf in the signed checkpoint",
                [ALERT_ID], "text/plain"),
            "/api/v1/regions/locate": _get("The regions at a point, hromada first", [
                _q("lat", "Latitude", {"type": "number"}, True),
                _q("lon", "Longitude", {"type": "number"}, True)]),
            "/api/v1/regions/{code}": _get("A region and its children", [REGION]),
            "/api/v1/regions/{code}/status": _get(
                "Active threats for a region and whether all or part of it is under alert "
                "(threats only); active notices listed apart", [REGION], schema=_ref("RegionStatus")),
            "/api/v1/registry": {
                **_get("The signed issuer registry"),
                "post": {
                    "summary": "Adopt a newer registry version (signed by the pinned root); logged",
                    "requestBody": {"required": True, "content": {"application/json": {}}},
                    "responses": {"201": {"description": "Adopted and logged"},
                                  "4XX": _error_ref()},
                },
            },
            "/api/v1/stream": _get(
                "Live alerts as Server-Sent Events (event: alert, data: an Alert); resume with "
                "Last-Event-ID or since. Denials (event: denial) only with denials=1",
                [*PLACE, DENIALS, _q("since", "Resume after this event id", {"type": "integer"})],
                "text/event-stream"),
            "/api/v1/stream/ws": _get(
                "Live alerts over a WebSocket (one JSON message per event: type alert or denial)",
                [*PLACE, DENIALS, _q("since", "Resume after this event id", {"type": "integer"})]),
            "/api/v1/check": {"post": {
                "summary": "Is this circulating message real? A verdict about its claims "
                           "(authentic, outdated, altered, not-issued, denied, unverifiable); "
                           "docs/check.md",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "required": ["text"],
                                                    "properties": {"text": {"type": "string"}}}},
                    "text/plain": {"schema": {"type": "string"}}}},
                "responses": {"200": {"description": "The verdict, the matched alert and the "
                                                     "differences",
                                      "content": {"application/json": {}}},
                              "4XX": _error_ref()}}},
            "/api/v1/places": _get("Find places by name (Ukrainian in any case form, or Latin)",
                                   [_q("q", "A place name (1-100 characters)", required=True)]),
            "/api/v1/map/layers/{name}.json": _get(
                "Map layer boundaries as GeoJSON (oblast, raion, hromada)",
                [_p("name", "oblast, raion or hromada")], "application/geo+json"),
            "/api/v1/map/state": _get("Threat state per region, notices and denials, for the map"),
            "/api/v1/regions/{code}/history": _get(
                "A region's timeline of threats and its baseline",
                [REGION, _q("days", "Days back, 1-90 (default 30)", {"type": "integer"})]),
            "/api/v1/log/key": _get("The log's public key (C2SP vkey)", content="text/plain"),
            "/api/v1/kinds": _get("The kinds of warning, their names and classes"),
            "/checkpoint": _get("The newest signed checkpoint (C2SP tlog-checkpoint)",
                                content="text/plain"),
            "/log/checkpoint": _get("The same checkpoint, under the path of the log's origin "
                                    "(docs/tlog.md)", content="text/plain"),
            "/log/tile/{path}": _get("The same tiles, under the path of the log's origin",
                                     [_p("path", "e.g. 0/x001/234 or entries/000.p/17")],
                                     "application/octet-stream"),
            "/tile/{path}": _get("A hash tile or entry bundle (C2SP tlog-tiles)",
                                 [_p("path", "e.g. 0/x001/234 or entries/000.p/17")],
                                 "application/octet-stream"),
            "/feeds/alerts.atom": _get("CAP Atom feed of all alerts", content="application/atom+xml"),
            "/feeds/regions/{code}": _get("CAP Atom feed for one region (code.atom)", [REGION],
                                          "application/atom+xml"),
            **alerts_in_ua_paths(),
            **push_paths(),
            **follow_paths(),
            **callback_paths(),
            **_org_paths(),
            **email_paths(),
        },
        "components": {"schemas": {
            **_schemas(),
            **PUSH_SCHEMAS,
            **CALLBACK_SCHEMAS,
            **EMAIL_SCHEMAS,
            "IssueRequest": {"type": "object", "required": ["cap", "statement"], "properties": {
                "cap": {"type": "string", "contentEncoding": "base64"},
                "statement": {"type": "string"}}},
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string", "enum": sorted(CATALOGUE)},
                "message": {"type": "string"}, "detail": {"type": "string"},
                "docs": {"type": "string"}}}}},
        }},
    }


# -- Followed feeds (docs/federation.md): routes from tocsin.follow.routes --


def follow_paths() -> dict[str, Any]:
    """Relayed alerts (never this hub's own) and the followers' status."""
    relayed_id = _p("alert_id", "A relayed alert's id (32 hex digits of SHA-256 of its CAP bytes)")
    return {
        "/api/v1/relayed": _get("Alerts relayed from followed feeds, newest first; each says its "
                                "trust (verified / xml-signature / unverified) in words",
                                [_p("feed", "Only this followed feed"), _p("limit", "1..500")]),
        "/api/v1/relayed/{alert_id}": _get("One relayed alert: where it came from, how far it is "
                                           "proven (verified only if from a followed Tocsin hub)",
                                           [relayed_id]),
        "/api/v1/relayed/{alert_id}/cap": _get("The relayed CAP bytes exactly as fetched", [relayed_id],
                                               "application/cap+xml"),
        "/api/v1/relayed/{alert_id}/statement": _get("A followed hub's issuer statement, as fetched",
                                                     [relayed_id], "text/plain"),
        "/api/v1/relayed/{alert_id}/proof": _get("A followed hub's tlog-proof bundle, as fetched",
                                                 [relayed_id], "text/plain"),
        "/api/v1/follows": _get("Each followed feed: its trust, last poll, last error, refusals"),
    }


def _org_paths() -> dict[str, Any]:
    from tocsin.api.org_openapi import org_paths  # organisations (docs/organisations.md)

    return org_paths()


# -- Web Push (docs/push.md): routes from tocsin.api.push_routes, mounted by tocsin.assemble --


def push_paths() -> dict[str, Any]:
    """The Web Push API and the installable app's root files."""
    sub_id = _p("sub_id", "The subscription's id (from its creation)")
    created = {"description": "Stored durably: {id, secret} (keep the secret to delete it)",
               "content": {"application/json": {"schema": _ref("PushCreated")}}}
    return {
        "/api/v1/push/key": _get("The hub's VAPID application server key (RFC 8292), base64url",
                                 schema={"type": "object", "required": ["publicKey"],
                                         "properties": {"publicKey": {"type": "string"}}}),
        "/api/v1/push/subscriptions": {"post": {
            "summary": "Subscribe a browser's push subscription to places (re-posting the same "
                       "endpoint with Authorization: Bearer <its secret> updates it: 200 with a "
                       "new secret; without it: 401)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("PushSubscriptionRequest")}}},
            "responses": {"201": created, "200": {**created, "description": (
                "An endpoint already subscribed, re-posted with its secret: updated durably; the "
                "same id and a new secret (the old one stops working)")},
                "4XX": _error_ref(), "503": _error_ref()},
        }},
        "/api/v1/push/subscriptions/{sub_id}": {"delete": {
            "summary": "Delete a push subscription (Authorization: Bearer <secret>); nothing is kept",
            "parameters": [sub_id],
            "responses": {"204": {"description": "Deleted"}, "4XX": _error_ref()},
        }},
        "/sw.js": _get("The service worker (scope: the whole site)", content="text/javascript"),
        "/manifest.webmanifest": _get("The web app manifest", content="application/manifest+json"),
    }


PUSH_SCHEMAS: dict[str, Any] = {
    "PushSubscriptionRequest": {"type": "object", "required": ["subscription"], "properties": {
        "subscription": {"type": "object", "required": ["endpoint", "keys"], "properties": {
            "endpoint": {"type": "string", "format": "uri",
                         "description": "A public https URL (or a host in push_allowed_hosts)"},
            "keys": {"type": "object", "required": ["p256dh", "auth"], "properties": {
                "p256dh": {"type": "string"}, "auth": {"type": "string"}}}}},
        "regions": {"type": "array", "items": {"type": "string"}},
        "points": {"type": "array", "maxItems": 10, "items": {
            "type": "object", "required": ["lat", "lon"],
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}}},
        "language": {"type": "string", "enum": ["uk", "en"], "default": "uk"}}},
    "PushCreated": {"type": "object", "required": ["id", "secret"], "properties": {
        "id": {"type": "string"}, "secret": {"type": "string"}}},
}


# -- webhooks and WebSub (docs/webhooks.md): tocsin.api.webhook_routes, websub_routes ---------


def callback_paths() -> dict[str, Any]:
    """The webhook API and the WebSub hub endpoint."""
    wid = _p("webhook_id", "The endpoint's id (from its creation)")
    owner = "Authorization: Bearer <the owner's secret>"

    def owned(summary: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"summary": f"{summary} ({owner})", "parameters": [wid],
                "responses": {"200": {"description": "OK", "content": {"application/json": {
                    "schema": schema or {"type": "object"}}}}, "4XX": _error_ref()}}

    return {
        "/api/v1/webhooks": {"post": {
            "summary": "Register a webhook endpoint (Standard Webhooks) for regions and kinds; the "
                       "hub first sends it a verification message it must answer with the "
                       "challenge",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("WebhookRequest")}}},
            "responses": {"201": {"description": "Verified and stored durably",
                                  "content": {"application/json": {
                                      "schema": _ref("WebhookCreated")}}},
                          "4XX": _error_ref(), "503": _error_ref()},
        }},
        "/api/v1/webhooks/{webhook_id}": {
            "get": owned("The endpoint, its cursor (last event id done) and its dead-letter count"),
            "delete": {"summary": f"Delete the endpoint and its dead letters ({owner})",
                       "parameters": [wid],
                       "responses": {"204": {"description": "Deleted"}, "4XX": _error_ref()}},
        },
        "/api/v1/webhooks/{webhook_id}/dead-letters": {"get": owned(
            "Events the endpoint did not take within the retry window (oldest first)",
            {"type": "object", "properties": {"dead_letters": {"type": "array", "items": {
                "type": "object", "properties": {
                    "event_id": {"type": "integer"}, "webhook_id": {"type": "string"},
                    "reason": {"type": "string"}, "attempts": {"type": "integer"},
                    "dead_at": {"type": "number"}}}}}})},
        "/api/v1/webhooks/{webhook_id}/dead-letters/replay": {"post": {
            "summary": f"Send the dead letters again, same webhook-id ({owner})",
            "parameters": [wid],
            "responses": {"202": {"description": "Replaying", "content": {"application/json": {
                "schema": {"type": "object", "properties": {"replaying": {"type": "integer"}}}}}},
                "4XX": _error_ref()},
        }},
        "/websub": {"post": {
            "summary": "W3C WebSub hub for the Atom feeds: subscribe or unsubscribe (intent "
                       "verified by a GET to hub.callback echoing hub.challenge)",
            "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": _ref("WebSubRequest")}}},
            "responses": {"202": {"description": "Accepted; the intent is verified next"},
                          "4XX": _error_ref(), "503": _error_ref()},
        }},
    }


CALLBACK_SCHEMAS: dict[str, Any] = {
    "WebhookRequest": {"type": "object", "required": ["url", "regions"], "properties": {
        "url": {"type": "string", "format": "uri",
                "description": "A public https URL (or a host in callback_allowed_hosts)"},
        "regions": {"type": "array", "items": {"type": "string"}},
        "kinds": {"type": "array", "items": {"type": "string"},
                  "description": "Kind ids (GET /api/v1/kinds); empty: every kind"},
        "signing_secret": {"type": "string", "description": "whsec_<base64>; default: made up"}}},
    "WebhookCreated": {"type": "object", "required": ["id", "secret", "signing_secret"],
                       "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "regions": {"type": "array", "items": {"type": "string"}},
        "kinds": {"type": "array", "items": {"type": "string"}},
        "secret": {"type": "string", "description": "The owner's secret"},
        "signing_secret": {"type": "string", "description": "Verifies webhook-signature"}}},
    "WebSubRequest": {"type": "object", "required": ["hub.mode", "hub.topic", "hub.callback"],
                      "properties": {
        "hub.mode": {"type": "string", "enum": ["subscribe", "unsubscribe"]},
        "hub.topic": {"type": "string", "description": "One of this hub's Atom feed URLs"},
        "hub.callback": {"type": "string", "format": "uri"},
        "hub.lease_seconds": {"type": "integer", "minimum": 1},
        "hub.secret": {"type": "string", "maxLength": 199}}},
}


# -- Email alerts (docs/email.md): routes from tocsin.api.email_routes, mounted by tocsin.assemble --


def email_paths() -> dict[str, Any]:
    """Subscribe (double opt-in), confirm, and RFC 8058 one-click unsubscribe."""
    link = [_q("id", "The subscription id from the emailed link", required=True),
            _q("token", "The secret token from the emailed link", required=True)]
    page = {"description": "A page with one button that POSTs to the same URL (nothing changes "
                           "on GET: mail scanners fetch links)",
            "content": {"text/html": {}}}
    done = {"description": "Done (JSON, or an HTML page when Accept asks for text/html)",
            "content": {"application/json": {}, "text/html": {}}}
    return {
        "/api/v1/email/subscriptions": {"post": {
            "summary": "Ask for alert emails for places; a confirmation email is sent and nothing "
                       "else until the link in it is followed (one per address per hour)",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("EmailSubscriptionRequest")}}},
            "responses": {"202": {"description": "The confirmation email was handed to the relay",
                                  "content": {"application/json": {"schema": _ref("EmailRequested")}}},
                          "4XX": _error_ref(), "503": _error_ref()},
        }},
        "/api/v1/email/confirm": {
            "get": {"summary": "The confirmation page", "parameters": link,
                    "responses": {"200": page, "4XX": _error_ref(), "503": _error_ref()}},
            "post": {"summary": "Confirm the subscription (the token works once, for 24 hours)",
                     "parameters": link,
                     "responses": {"200": done, "4XX": _error_ref(), "503": _error_ref()}},
        },
        "/api/v1/email/unsubscribe": {
            "get": {"summary": "The unsubscribe page", "parameters": link,
                    "responses": {"200": page, "4XX": _error_ref(), "503": _error_ref()}},
            "post": {"summary": "Unsubscribe and delete everything held about the address "
                                "(RFC 8058 one-click: body List-Unsubscribe=One-Click)",
                     "parameters": link,
                     "requestBody": {"required": False, "content": {
                         "application/x-www-form-urlencoded": {"schema": {"type": "object",
                             "properties": {"List-Unsubscribe": {"type": "string",
                                                                 "enum": ["One-Click"]}}}}}},
                     "responses": {"200": done, "4XX": _error_ref(), "503": _error_ref()}},
        },
    }


EMAIL_SCHEMAS: dict[str, Any] = {
    "EmailSubscriptionRequest": {"type": "object", "required": ["address", "regions"], "properties": {
        "address": {"type": "string", "format": "email", "maxLength": 254,
                    "description": "ASCII local part; no line breaks or control characters"},
        "name": {"type": "string", "maxLength": 100, "description": "Optional display name"},
        "regions": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "language": {"type": "string", "enum": ["uk", "en"], "default": "uk"}}},
    "EmailRequested": {"type": "object", "required": ["status", "expires_in"], "properties": {
        "status": {"type": "string", "enum": ["confirmation_sent"]},
        "expires_in": {"type": "integer", "description": "Seconds the confirmation link works"}}},
}


# -- the alerts.in.ua-compatible read API (docs/compat.md) --------------------------------
# A block of its own: these routes come from tocsin.compat.alerts_in_ua_routes, added with
# tocsin.assemble; on ``compat_port`` the same paths are served without the prefix.


def alerts_in_ua_paths() -> dict[str, Any]:
    """The compat routes, as the official alerts.in.ua client requests them (under PREFIX)."""
    from tocsin.compat.alerts_in_ua_routes import IOT_VERSIONS, PREFIX

    token = [_q("token", "API token (or Authorization: Bearer); required only when the hub "
                         "sets compat_token")]
    uid = _p("uid", "alerts.in.ua location uid (the 27 oblast-level units)")
    ims = {"description": "If-Modified-Since matched Last-Modified: the client's copy is current"}

    def op(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
        path = _get(summary + " (alerts.in.ua-compatible; threats only)", [*params, *token])
        path["get"]["responses"]["304"] = ims
        return path

    paths = {
        f"{PREFIX}/v1/alerts/active.json": op("Active air-raid alerts, one per location", []),
        f"{PREFIX}/v1/regions/{{uid}}/alerts/{{period}}.json": op(
            "Air-raid alerts of an oblast since a week or a month ago",
            [uid, _p("period", "week_ago or month_ago")]),
    }
    for v in IOT_VERSIONS:
        levels = "A/P/N" if v == 1 else "R/P/N (every Tocsin threat is red)"
        paths[f"{PREFIX}/v{v}/iot/active_air_raid_alerts_by_oblast.json"] = op(
            f"27 status characters ({levels}) in the client's oblast order", [])
        paths[f"{PREFIX}/v{v}/iot/active_air_raid_alerts.json"] = op(
            f"One status character ({levels}) per uid; a space where no location has it", [])
        paths[f"{PREFIX}/v{v}/iot/active_air_raid_alerts/{{uid}}.json"] = op(
            f"One location's status character ({levels})", [uid])
    return paths
