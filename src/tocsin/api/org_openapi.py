"""The organisation API in the OpenAPI document (routes: :mod:`tocsin.api.org_routes`)."""

from __future__ import annotations

from typing import Any


def _op(summary: str, params: list[dict[str, Any]], *, ok: str = "200", body: str | None = None,
        content: str = "application/json") -> dict[str, Any]:
    from tocsin.api.openapi import _error_ref

    op: dict[str, Any] = {"summary": summary, "parameters": params,
                          "responses": {ok: {"description": "OK", "content": {content: {}}},
                                        "4XX": _error_ref()}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {body: {"schema": {"type": "object"}
                                                                   if body == "application/json" else {}}}}
    return op


def org_paths() -> dict[str, Any]:
    """Admin API (session cookie + X-CSRF-Token on changes), sign-in, and people's check-ins."""
    from tocsin.api.openapi import _p

    org, message, token = _p("org", "The organisation's id"), _p("message", "A message id"), \
        _p("token", "The personal token of a check-in link")
    person = _p("person", "A person's id")
    js = "application/json"
    base = "/api/v1/orgs/{org}"
    return {
        "/api/v1/org/enrol/options": {"post": _op("Start registering a passkey with an enrolment token",
                                                  [], body=js)},
        "/api/v1/org/enrol/finish": {"post": _op("Finish enrolment: session cookie, recovery codes (once)",
                                                 [], body=js)},
        "/api/v1/org/login/options": {"post": _op("Start a passkey sign-in", [])},
        "/api/v1/org/login/finish": {"post": _op("Finish a passkey sign-in: session cookie", [], body=js)},
        "/api/v1/org/recover": {"post": _op("Sign in with email and a one-time recovery code", [], body=js)},
        "/api/v1/org/session": {"get": _op("The signed-in admin, organisation and CSRF token", [])},
        "/api/v1/org/logout": {"post": _op("End the session", [])},
        "/api/v1/org/passkeys/options": {"post": _op("Start adding a passkey (signed in)", [])},
        "/api/v1/org/passkeys/finish": {"post": _op("Finish adding a passkey", [], body=js)},
        "/api/v1/org/checkin/{message}/{token}": {"post": _op(
            "Answer a check-in once: {answer: safe|need_help|away, note}", [message, token], body=js)},
        "/api/v1/org/c/{message}/{token}/note": {"get": _op(
            "The message as a signed note (check it with the organisation's key)", [message, token],
            content="text/plain")},
        base + "/key": {"get": _op("The organisation's public key (C2SP vkey)", [org])},
        base + "/people": {"get": _op("The organisation's people (viewer)", [org])},
        base + "/people.csv": {
            "get": _op("Export people as CSV, formulas neutralised (admin)", [org], content="text/csv"),
            "post": _op("Import people from CSV: a report of every rejected row (admin)", [org],
                        body="text/csv")},
        base + "/people/{person}": {"delete": _op("Delete a person and all their data (admin)", [org, person],
                                                  ok="204")},
        base + "/messages": {
            "get": _op("The organisation's messages (viewer)", [org]),
            "post": _op("Send a signed message, optionally a check-in (admin)", [org], ok="201", body=js)},
        base + "/messages/{message}": {"get": _op("The dashboard: counts, answers, deliveries, places",
                                                  [org, message])},
        base + "/messages/{message}/live": {"get": _op("The dashboard live (SSE: snapshot, update)",
                                                       [org, message], content="text/event-stream")},
        base + "/messages/{message}/close": {"post": _op("Close a check-in (admin)", [org, message])},
        base + "/audit": {"get": _op("The audit log and recent refusals (owner)", [org])},
        base + "/audit.csv": {"get": _op("Export the audit log (owner)", [org], content="text/csv")},
        base + "/admins": {"post": _op("Invite an admin: a one-time enrolment link (owner)", [org], ok="201",
                                       body=js)},
        base + "/settings": {"put": _op("Retention and the public-alert rule (owner)", [org], body=js)},
    }
