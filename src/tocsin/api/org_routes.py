"""Organisation endpoints and pages (issue 17), mounted by ``tocsin.assemble.build_app``.

Admin API (session cookie; every state change also needs ``X-CSRF-Token`` and, when the
browser sends one, the hub's own ``Origin``), all under ``/api/v1/orgs/{org}/`` and refused
for an admin of another organisation (``org_forbidden``) or a role below the one needed:

* ``GET people`` (viewer), ``POST people.csv`` (admin; CSV body -> import report),
  ``GET people.csv`` (admin; export, formulas neutralised), ``DELETE people/{id}`` (admin)
* ``POST messages`` (admin): ``{"template"|"texts", "audience": {"everyone"|"groups"|"regions"},
  "checkin": bool}``; ``GET messages`` (viewer); ``GET messages/{id}`` (viewer: the dashboard
  JSON); ``GET messages/{id}/live`` (viewer: SSE ``snapshot`` then ``update`` events);
  ``POST messages/{id}/close`` (admin)
* ``GET audit`` / ``GET audit.csv`` (owner), ``POST admins`` (owner: invite, returns the
  enrolment link once), ``GET admins`` and ``DELETE admins/{id}`` (owner: list; remove, with
  their sessions, passkeys and codes, never the last owner), ``PUT settings`` (owner:
  retention, the public-alert rule)

Sign-in: ``POST /api/v1/org/enrol/options|finish``, ``POST /api/v1/org/login/options|finish``,
``POST /api/v1/org/recover``, ``POST /api/v1/org/passkeys/options|finish`` (signed in),
``GET /api/v1/org/session``, ``POST /api/v1/org/logout``.

People (no login; the link's token is the key): ``GET /org/c/{message}/{token}`` shows the
signed message and, for a check-in, three buttons; ``POST`` to the same address (form) or
to ``/api/v1/org/checkin/{message}/{token}`` (JSON) records the answer once.
``GET /api/v1/org/c/{message}/{token}/note`` is the signed note, ``GET /api/v1/orgs/{org}/key``
the organisation's public key to check it with.

Every refusal of a signed-in or anonymous request naming an organisation is logged
(``tocsin.org.security``) and kept in the organisation's bounded refusal list.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import logging
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from tocsin.api import places
from tocsin.api.body import decode_json, read_body
from tocsin.api.errors import ApiError
from tocsin.api.ratelimit import LIMITED
from tocsin.org.auth import COOKIE, AuthRefused
from tocsin.org.csvio import CsvRefused, read_people, write_people
from tocsin.org.csvio import neutralise as csv_cell
from tocsin.org.model import Admin, Role
from tocsin.org.service import TEMPLATES, Audience, OrgRefused, texts_of
from tocsin.org.store import StoreConflict
from tocsin.org.tokens import same

if TYPE_CHECKING:
    from tocsin.org.hub import Organisations
    from tocsin.runtime import Hub

security = logging.getLogger("tocsin.org.security")

STATIC = Path(__file__).resolve().parents[1] / "web" / "static" / "org"
MAX_CSV_BYTES = 64 * 1024 * 1024
MAX_JSON_BYTES = 64 * 1024
HEARTBEAT_SECS = 15.0
SAFE_METHODS = ("GET", "HEAD")
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
PAGE_HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-store"}
ANSWER_LABELS = {"safe": ("Я в безпеці", "I'm safe"), "need_help": ("Мені потрібна допомога", "I need help"),
                 "away": ("Я не на місці", "I'm away")}


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(msgspec.json.encode(data), status_code=status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


def _refused(exc: OrgRefused | AuthRefused) -> ApiError:
    return ApiError(exc.code, exc.detail)


def org_routes(hub: Hub) -> list[BaseRoute]:
    """The organisation API and pages for ``hub`` (module docstring)."""
    orgs: Organisations = hub.orgs
    store = orgs.store
    service = orgs.service
    passkeys = orgs.passkeys

    # -- guards ----------------------------------------------------------------

    def refuse(org_id: str, actor: str, reason: str, request: Request) -> None:
        security.warning("org %s: refused %s %s for %s: %s", org_id[:40], request.method,
                         request.url.path[:200], actor, reason)
        if store.org(org_id) is not None:
            store.refuse(org_id, actor, f"{request.method} {request.url.path[:120]}: {reason}")

    def same_origin(request: Request) -> bool:
        origin = request.headers.get("origin")
        return origin is None or origin == passkeys.origin

    def checkin_from_this_site(request: Request) -> bool:
        """Whether a check-in answer may come from the page that posted it. The link's token is
        the key, so this only keeps another site's page from answering for a person whose link
        it knows; it must never refuse the person's own page. That page sends no referrer, so
        browsers send ``Origin: null`` with its form: ``Sec-Fetch-Site`` decides when sent,
        else an ``Origin`` naming another host than the hub's public one or the request's."""
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none")
        origin = request.headers.get("origin")
        if origin is None or origin == "null" or origin == passkeys.origin:
            return True
        return urlsplit(origin).netloc == request.headers.get("host", "")

    def session_of(request: Request) -> tuple[Admin, str] | None:
        token = request.cookies.get(COOKIE)
        return store.session(token) if token else None

    async def guard(request: Request, role: Role) -> Admin:
        """The signed-in admin of the path's organisation with at least ``role``; else refused."""
        org_id = request.path_params["org"]
        found = await asyncio.to_thread(session_of, request)
        wait = request.scope.get(LIMITED)
        if wait and (found is None or found[0].org_id != org_id):
            seconds = max(1, math.ceil(wait))  # past its refusals: refused, not logged again
            raise ApiError("rate_limited", f"too many refused requests from this client; retry in "
                           f"{seconds} s", retry_after=seconds)
        if found is None:
            await asyncio.to_thread(refuse, org_id, "anonymous", "no session", request)
            raise ApiError("org_login_required", "no valid session cookie")
        admin, csrf = found
        actor = f"admin {admin.id} of {admin.org_id}"
        if admin.org_id != org_id:
            await asyncio.to_thread(refuse, org_id, actor, "another organisation's admin", request)
            raise ApiError("org_forbidden", "this is another organisation")
        if request.method not in SAFE_METHODS:
            given = request.headers.get("x-csrf-token", "")
            if not same_origin(request) or not given or not same(given, csrf):
                await asyncio.to_thread(refuse, org_id, actor, "CSRF check failed", request)
                raise ApiError("csrf_failed", "send X-CSRF-Token from /api/v1/org/session, from this site")
        if not admin.role.at_least(role):
            await asyncio.to_thread(refuse, org_id, actor, f"role {admin.role} below {role}", request)
            raise ApiError("org_forbidden", f"this needs the {role.value} role")
        return admin

    async def json_body(request: Request) -> dict[str, Any]:
        try:
            data = decode_json(await read_body(request, MAX_JSON_BYTES))
        except ApiError as exc:
            if exc.kind.code in ("bad_request",):
                raise ApiError("bad_org_request", exc.detail) from None
            raise
        if not isinstance(data, dict):
            raise ApiError("bad_org_request", "the body must be a JSON object")
        return data

    def public_post(request: Request) -> None:
        if not same_origin(request):
            security.warning("refused cross-site %s %s", request.method, request.url.path[:200])
            raise ApiError("csrf_failed", "this request came from another site")

    # -- sign-in ---------------------------------------------------------------

    async def enrol_options(request: Request) -> Response:
        public_post(request)
        data = await json_body(request)
        try:
            ceremony, options = await asyncio.to_thread(passkeys.enrol_options, str(data.get("token", "")))
        except AuthRefused as exc:
            raise _refused(exc) from None
        return _json({"ceremony": ceremony, "options": json.loads(options)})

    async def enrol_finish(request: Request) -> Response:
        public_post(request)
        data = await json_body(request)
        try:
            admin, codes = await asyncio.to_thread(passkeys.finish_enrol, str(data.get("ceremony", "")),
                                                   data.get("credential"))
        except AuthRefused as exc:
            raise _refused(exc) from None
        cookie, _ = await asyncio.to_thread(passkeys.start_session, admin)
        return _json({"org": admin.org_id, "recovery_codes": codes}, headers={"Set-Cookie": cookie})

    async def login_options(request: Request) -> Response:
        public_post(request)
        try:
            ceremony, options = passkeys.login_options()
        except AuthRefused as exc:
            raise _refused(exc) from None
        return _json({"ceremony": ceremony, "options": json.loads(options)})

    async def login_finish(request: Request) -> Response:
        public_post(request)
        data = await json_body(request)
        try:
            admin = await asyncio.to_thread(passkeys.finish_login, str(data.get("ceremony", "")),
                                            data.get("credential"))
        except AuthRefused as exc:
            security.warning("passkey sign-in refused: %s", exc.detail)
            raise _refused(exc) from None
        cookie, _ = await asyncio.to_thread(passkeys.start_session, admin)
        return _json({"org": admin.org_id}, headers={"Set-Cookie": cookie})

    async def recover(request: Request) -> Response:
        public_post(request)
        data = await json_body(request)
        org_id, email, code = (str(data.get(k, ""))[:300] for k in ("org", "email", "code"))
        try:
            admin = await asyncio.to_thread(passkeys.recover, org_id, email, code)
        except AuthRefused as exc:
            await asyncio.to_thread(refuse, org_id, "anonymous", "recovery code refused", request)
            raise _refused(exc) from None
        cookie, _ = await asyncio.to_thread(passkeys.start_session, admin)
        return _json({"org": admin.org_id}, headers={"Set-Cookie": cookie})

    async def signed_in(request: Request) -> tuple[Admin, str]:
        found = await asyncio.to_thread(session_of, request)
        if found is None:
            raise ApiError("org_login_required", "no valid session cookie")
        return found

    async def session(request: Request) -> Response:
        admin, csrf = await signed_in(request)
        org = await asyncio.to_thread(store.org, admin.org_id)
        assert org is not None
        return _json({"admin": {"id": admin.id, "email": admin.email, "role": admin.role.value},
                      "org": {"id": org.id, "name": org.name, "key": org.public_vkey,
                              "retention_days": org.retention_days, "rule_enabled": org.rule_enabled,
                              "rule_text": org.rule_text, "reminder_minutes": org.reminder_minutes,
                              "escalate_minutes": org.escalate_minutes},
                      "csrf": csrf, "templates": {k: {"uk": v[0], "en": v[1]} for k, v in TEMPLATES.items()}})

    async def passkey_options(request: Request) -> Response:
        admin, csrf = await signed_in(request)
        if not same_origin(request) or not same(request.headers.get("x-csrf-token", "") or "-", csrf):
            raise ApiError("csrf_failed", "send X-CSRF-Token from this site")
        ceremony, options = await asyncio.to_thread(passkeys.registration_options, admin, "add", admin.id)
        return _json({"ceremony": ceremony, "options": json.loads(options)})

    async def passkey_finish(request: Request) -> Response:
        admin, csrf = await signed_in(request)
        if not same_origin(request) or not same(request.headers.get("x-csrf-token", "") or "-", csrf):
            raise ApiError("csrf_failed", "send X-CSRF-Token from this site")
        data = await json_body(request)
        try:
            await asyncio.to_thread(passkeys.finish_add, str(data.get("ceremony", "")), admin,
                                    data.get("credential"))
        except AuthRefused as exc:
            raise _refused(exc) from None
        return _json({"added": True})

    async def logout(request: Request) -> Response:
        token = request.cookies.get(COOKIE)
        if token:
            await asyncio.to_thread(store.end_session, token)
        return _json({"signed_out": True}, headers={"Set-Cookie": passkeys.cookie_header("", 0)})

    # -- people ------------------------------------------------------------------

    async def list_people(request: Request) -> Response:
        admin = await guard(request, Role.VIEWER)
        people = await asyncio.to_thread(store.people, admin.org_id)
        return _json({"people": [{"id": p.id, "ref": p.ref, "name": p.name, "language": p.language,
                                  "groups": list(p.groups), "channels": sorted(p.channels),
                                  "places": [{"label": pl.label, "place": pl.text} for pl in p.places]}
                                 for p in people]})

    async def import_people(request: Request) -> Response:
        admin = await guard(request, Role.ADMIN)
        body = await read_body(request, MAX_CSV_BYTES)
        known = await asyncio.to_thread(store.person_keys, admin.org_id)
        try:
            report = await asyncio.to_thread(read_people, body, hub.regions, known_keys=known,
                                             allow_push_hosts=hub.push.allowed_hosts)
        except CsvRefused as exc:
            raise ApiError("bad_people_csv", str(exc)) from None
        if report.people:
            await asyncio.to_thread(store.save_people, admin.org_id, report.people, admin.id)
        return _json(report.json())

    async def export_people(request: Request) -> Response:
        admin = await guard(request, Role.ADMIN)
        people = await asyncio.to_thread(store.people, admin.org_id)
        await asyncio.to_thread(store.audit, admin.org_id, admin.id, "people.export", {"people": len(people)})
        return Response(write_people(people), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="people.csv"',
                                 "Cache-Control": "no-store"})

    async def delete_person(request: Request) -> Response:
        admin = await guard(request, Role.ADMIN)
        if not await asyncio.to_thread(store.delete_person, admin.org_id, request.path_params["person"],
                                       admin.id):
            raise ApiError("person_not_found", "no such person in this organisation")
        return Response(status_code=204)

    # -- messages ----------------------------------------------------------------

    def audience_of(data: Any) -> Audience:
        if not isinstance(data, dict):
            raise ApiError("bad_org_request", "audience must be {everyone|groups|regions}")
        groups, regions = data.get("groups") or [], data.get("regions") or []
        if not isinstance(groups, list) or not isinstance(regions, list) \
                or not all(isinstance(x, str) for x in (*groups, *regions)):
            raise ApiError("bad_org_request", "groups and regions are lists of names and codes")
        codes = tuple(places.require_region(hub, r) for r in regions[:200])
        audience = Audience(everyone=data.get("everyone") is True, groups=tuple(groups[:200]), regions=codes)
        if not (audience.everyone or audience.groups or audience.regions):
            raise ApiError("bad_org_request", "name an audience: everyone, groups or regions")
        return audience

    async def send_message(request: Request) -> Response:
        admin = await guard(request, Role.ADMIN)
        data = await json_body(request)
        template = data.get("template")
        if template is not None:
            if not isinstance(template, str) or template not in TEMPLATES:
                raise ApiError("bad_org_request", f"template must be one of {', '.join(TEMPLATES)}")
            texts = {"uk": TEMPLATES[template][0], "en": TEMPLATES[template][1]}
        else:
            raw = data.get("texts")
            if not isinstance(raw, dict) or not raw or not all(
                    k in ("uk", "en") and isinstance(v, str) for k, v in raw.items()):
                raise ApiError("bad_org_request", 'give "template" or "texts": {"uk": ..., "en": ...}')
            texts = dict(raw)
        audience = audience_of(data.get("audience"))
        org = await asyncio.to_thread(store.org, admin.org_id)
        assert org is not None
        try:
            message = await service.send(org, admin.id, texts=texts, audience=audience,
                                         checkin=data.get("checkin") is True)
        except OrgRefused as exc:
            raise _refused(exc) from None
        return _json({"id": message.id, "recipients": message.recipients}, 201)

    async def list_messages(request: Request) -> Response:
        admin = await guard(request, Role.VIEWER)
        messages = await asyncio.to_thread(store.messages, admin.org_id)
        return _json({"messages": [{"id": m.id, "created": m.created, "texts": texts_of(m),
                                    "checkin": m.checkin, "closed": m.closed, "alert": m.alert_id,
                                    "recipients": m.recipients} for m in messages]})

    async def dashboard(request: Request) -> Response:
        admin = await guard(request, Role.VIEWER)
        try:
            board = await asyncio.to_thread(service.dashboard, admin.org_id, request.path_params["message"])
        except OrgRefused as exc:
            raise _refused(exc) from None
        return _json(board)

    async def live(request: Request) -> Response:
        admin = await guard(request, Role.VIEWER)
        message_id = request.path_params["message"]
        try:
            first = await asyncio.to_thread(service.dashboard, admin.org_id, message_id)
        except OrgRefused as exc:
            raise _refused(exc) from None
        listener = service.listen(admin.org_id, message_id)

        def still_signed_in() -> bool:
            """The session is re-read before every update: a signed-out or removed admin's
            stream ends at the next change or heartbeat instead of showing it."""
            found = session_of(request)
            return found is not None and found[0].id == admin.id and found[0].role.at_least(Role.VIEWER)

        async def events() -> AsyncIterator[bytes]:
            try:
                yield b"event: snapshot\ndata: " + msgspec.json.encode(first) + b"\n\n"
                while True:
                    try:
                        await asyncio.wait_for(listener.wake.wait(), HEARTBEAT_SECS)
                    except TimeoutError:
                        if not await asyncio.to_thread(still_signed_in):
                            return
                        yield b": heartbeat\n\n"
                        continue
                    if not await asyncio.to_thread(still_signed_in):
                        return
                    listener.wake.clear()
                    changed, listener.changed = listener.changed, set()
                    board = await asyncio.to_thread(service.dashboard, admin.org_id, message_id, changed)
                    yield b"event: update\ndata: " + msgspec.json.encode(board) + b"\n\n"
                    await asyncio.sleep(0.25)  # at most four updates a second, however many answers
            finally:
                service.unlisten(listener)

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    async def close_message(request: Request) -> Response:
        admin = await guard(request, Role.ADMIN)
        message_id = request.path_params["message"]
        if await asyncio.to_thread(store.message, admin.org_id, message_id) is None:
            raise ApiError("org_message_not_found", "no such message in this organisation")
        await asyncio.to_thread(store.close_message, admin.org_id, message_id, admin.id, "closed by an admin")
        return _json({"closed": True})

    # -- owner -------------------------------------------------------------------

    async def audit(request: Request) -> Response:
        admin = await guard(request, Role.OWNER)
        entries = await asyncio.to_thread(store.audit_entries, admin.org_id)
        intact = await asyncio.to_thread(store.audit_intact, admin.org_id)
        refusals = await asyncio.to_thread(store.refusals, admin.org_id)
        return _json({"intact": intact,
                      "entries": [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action,
                                   "detail": json.loads(e.detail), "chain": e.chain} for e in entries],
                      "refusals": [{"at": at, "actor": actor, "reason": reason}
                                   for at, actor, reason in refusals[-500:]]})

    async def audit_csv(request: Request) -> Response:
        admin = await guard(request, Role.OWNER)
        await asyncio.to_thread(store.audit, admin.org_id, admin.id, "audit.export", {})
        entries = await asyncio.to_thread(store.audit_entries, admin.org_id)
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(("seq", "at", "actor", "action", "detail", "chain"))
        for e in entries:
            at = datetime.fromtimestamp(e.at, UTC).isoformat(timespec="milliseconds")
            writer.writerow([csv_cell(str(v)) for v in (e.seq, at, e.actor, e.action, e.detail, e.chain)])
        return Response(("\ufeff" + out.getvalue()).encode(), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                                 "Cache-Control": "no-store"})

    async def invite(request: Request) -> Response:
        admin = await guard(request, Role.OWNER)
        data = await json_body(request)
        raw_email, role = data.get("email", ""), data.get("role", "admin")
        email = raw_email.strip() if isinstance(raw_email, str) else ""
        if "@" not in email or len(email) > 254 or role not in {r.value for r in Role}:
            raise ApiError("bad_org_request", "give an email and a role (owner, admin, viewer)")
        try:
            new, token = await asyncio.to_thread(store.add_admin, admin.org_id, email, Role(role), admin.id)
        except StoreConflict as exc:
            raise ApiError("admin_exists", str(exc)) from None
        return _json({"admin": new.id, "link": f"{hub.settings.base_url}/org/enrol/{token}"}, 201)

    async def list_admins(request: Request) -> Response:
        admin = await guard(request, Role.OWNER)
        found = await asyncio.to_thread(store.admins, admin.org_id)
        return _json({"admins": [{"id": a.id, "email": a.email, "role": a.role.value, "enrolled": a.enrolled}
                                 for a in found]})

    async def remove_admin(request: Request) -> Response:
        admin = await guard(request, Role.OWNER)
        try:
            removed = await asyncio.to_thread(store.remove_admin, admin.org_id,
                                              request.path_params["admin"], admin.id)
        except StoreConflict as exc:
            raise ApiError("last_owner", str(exc)) from None
        if not removed:
            raise ApiError("admin_not_found", "no such admin in this organisation")
        return Response(status_code=204)

    async def settings(request: Request) -> Response:
        """Change the settings sent; a field left out keeps its value (``null`` clears one)."""
        admin = await guard(request, Role.OWNER)
        data = await json_body(request)
        current = await asyncio.to_thread(store.org, admin.org_id)
        assert current is not None
        days = data.get("retention_days", current.retention_days)
        if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                                 or not 1 <= days <= 3650):
            raise ApiError("bad_org_request", "retention_days is a number of days (1..3650) or null")
        text = data.get("rule_text", current.rule_text)
        if not isinstance(text, str) or len(text) > 500:
            raise ApiError("bad_org_request", "rule_text is a text of at most 500 characters")
        enabled = data.get("rule_enabled", current.rule_enabled)
        if not isinstance(enabled, bool):
            raise ApiError("bad_org_request", "rule_enabled is true or false")
        minutes: dict[str, int | None] = {}
        for name in ("reminder_minutes", "escalate_minutes"):
            value = data.get(name, getattr(current, name))
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 1 <= value <= 1440):
                raise ApiError("bad_org_request", f"{name} is a number of minutes (1..1440) or null")
            minutes[name] = value
        await asyncio.to_thread(store.set_settings, admin.org_id, admin.id, retention_days=days,
                                rule_enabled=enabled, rule_text=text, **minutes)
        return _json({"saved": True})

    async def org_key(request: Request) -> Response:
        org = await asyncio.to_thread(store.org, request.path_params["org"])
        if org is None:
            raise ApiError("not_found", "no such organisation")
        return _json({"org": org.id, "name": org.name, "key": org.public_vkey})

    # -- check-ins (people, no login) ------------------------------------------------

    async def answer_json(request: Request) -> Response:
        if not checkin_from_this_site(request):
            security.warning("refused cross-site check-in answer for message %s",
                             request.path_params["message"][:40])
            raise ApiError("csrf_failed", "this answer came from another site")
        data = await json_body(request)
        answer, note_text = data.get("answer", ""), data.get("note", "")
        if not isinstance(answer, str) or not isinstance(note_text, str):
            raise ApiError("bad_checkin_answer", "answer and note are texts")
        try:
            await service.answer(request.path_params["message"], request.path_params["token"],
                                 answer, note_text)
        except OrgRefused as exc:
            raise _refused(exc) from None
        return _json({"recorded": True})

    async def note(request: Request) -> Response:
        try:
            target = await asyncio.to_thread(service.target, request.path_params["message"],
                                             request.path_params["token"])
        except OrgRefused as exc:
            raise _refused(exc) from None
        message = await asyncio.to_thread(store.message, target.org_id, target.message_id)
        assert message is not None
        return Response(message.note, media_type="text/plain; charset=utf-8",
                        headers={"Cache-Control": "no-store"})

    def checkin_html(title: str, body: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(
            '<!doctype html><html lang="uk"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="referrer" content="no-referrer"><title>{html.escape(title)}</title>'
            '<link rel="stylesheet" href="/static/org/org.css"></head>'
            f'<body class="checkin"><main>{body}</main></body></html>', status_code=status,
            headers=PAGE_HEADERS)

    async def checkin_page(request: Request) -> Response:
        message_id, token = request.path_params["message"], request.path_params["token"]
        if request.method == "POST":
            if not checkin_from_this_site(request):
                security.warning("refused cross-site check-in post for message %s", message_id[:40])
                return checkin_html("Tocsin", '<p class="error" id="error">This answer came from another '
                                    "site and was not recorded; open your link again.</p>", 403)
            form = parse_qs((await read_body(request, MAX_JSON_BYTES)).decode("utf-8", "replace"))
            try:
                await service.answer(message_id, token, form.get("answer", [""])[0],
                                     form.get("note", [""])[0])
            except OrgRefused as exc:
                if exc.code != "checkin_answered":
                    status = ApiError(exc.code).kind.status
                    error = f'<p class="error" id="error">{html.escape(exc.detail)}</p>'
                    return checkin_html("Tocsin", error, status)
        try:
            target = await asyncio.to_thread(service.target, message_id, token)
        except OrgRefused as exc:
            return checkin_html("Tocsin", f'<p class="error" id="error">{html.escape(exc.detail)}</p>', 404)
        org = await asyncio.to_thread(store.org, target.org_id)
        message = await asyncio.to_thread(store.message, target.org_id, message_id)
        person = await asyncio.to_thread(store.person, target.org_id, target.person_id)
        assert org is not None and message is not None
        lang = person.language if person else "uk"
        texts = texts_of(message)
        text = texts.get(lang) or next(iter(texts.values()))
        given = (await asyncio.to_thread(store.answers, target.org_id, message_id)).get(target.person_id)
        idx = 0 if lang == "uk" else 1
        parts = [f'<h1 id="org">{html.escape(org.name)}</h1>',
                 f'<p id="text" class="text">{html.escape(text)}</p>',
                 '<p class="signed">' + ("Підписано ключем організації" if idx == 0 else
                                        "Signed with the organisation's key")
                 + f' · <a href="/api/v1/org/c/{html.escape(message_id)}/{html.escape(token)}/note">note</a>'
                 + f' · <a href="/api/v1/orgs/{html.escape(org.id)}/key">key</a></p>']
        if message.checkin:
            if given is not None:
                label = ANSWER_LABELS[given[0].value][idx]
                parts.append(f'<p id="answered" class="answered answer-{given[0].value}">'
                             + ("Вашу відповідь записано: " if idx == 0 else "Your answer is recorded: ")
                             + f"{html.escape(label)}</p>")
            elif message.closed is not None:
                closed = "Запит закрито." if idx == 0 else "This check-in is closed."
                parts.append(f'<p id="closed">{closed}</p>')
            else:
                buttons = "".join(f'<button type="submit" name="answer" value="{k}" class="answer-{k}">'
                                  f"{html.escape(v[idx])}</button>" for k, v in ANSWER_LABELS.items())
                note_label = "Примітка (необов'язково)" if idx == 0 else "Note (optional)"
                parts.append(f'<form method="post" id="answer"><label>{note_label}'
                             f'<input name="note" maxlength="500"></label>{buttons}</form>')
        return checkin_html(org.name, "".join(parts))

    # -- admin pages -------------------------------------------------------------------

    def page(name: str) -> Any:
        async def serve(request: Request) -> Response:
            return HTMLResponse((STATIC / f"{name}.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)
        return serve

    async def admin_home(request: Request) -> Response:
        if await asyncio.to_thread(session_of, request) is None:
            return RedirectResponse("/org/login", status_code=303)
        return HTMLResponse((STATIC / "dashboard.html").read_text(encoding="utf-8"), headers=PAGE_HEADERS)

    base = "/api/v1/orgs/{org}"
    return [
        Route("/api/v1/org/enrol/options", enrol_options, methods=["POST"]),
        Route("/api/v1/org/enrol/finish", enrol_finish, methods=["POST"]),
        Route("/api/v1/org/login/options", login_options, methods=["POST"]),
        Route("/api/v1/org/login/finish", login_finish, methods=["POST"]),
        Route("/api/v1/org/recover", recover, methods=["POST"]),
        Route("/api/v1/org/session", session, methods=["GET"]),
        Route("/api/v1/org/logout", logout, methods=["POST"]),
        Route("/api/v1/org/passkeys/options", passkey_options, methods=["POST"]),
        Route("/api/v1/org/passkeys/finish", passkey_finish, methods=["POST"]),
        Route("/api/v1/org/checkin/{message}/{token}", answer_json, methods=["POST"]),
        Route("/api/v1/org/c/{message}/{token}/note", note, methods=["GET"]),
        Route(base + "/key", org_key, methods=["GET"]),
        Route(base + "/people", list_people, methods=["GET"]),
        Route(base + "/people.csv", import_people, methods=["POST"]),
        Route(base + "/people.csv", export_people, methods=["GET"]),
        Route(base + "/people/{person}", delete_person, methods=["DELETE"]),
        Route(base + "/messages", send_message, methods=["POST"]),
        Route(base + "/messages", list_messages, methods=["GET"]),
        Route(base + "/messages/{message}", dashboard, methods=["GET"]),
        Route(base + "/messages/{message}/live", live, methods=["GET"]),
        Route(base + "/messages/{message}/close", close_message, methods=["POST"]),
        Route(base + "/audit", audit, methods=["GET"]),
        Route(base + "/audit.csv", audit_csv, methods=["GET"]),
        Route(base + "/admins", invite, methods=["POST"]),
        Route(base + "/admins", list_admins, methods=["GET"]),
        Route(base + "/admins/{admin}", remove_admin, methods=["DELETE"]),
        Route(base + "/settings", settings, methods=["PUT"]),
        Route("/org/c/{message}/{token}", checkin_page, methods=["GET", "POST"]),
        Route("/org/enrol/{token}", page("enrol"), methods=["GET"]),
        Route("/org/login", page("login"), methods=["GET"]),
        Route("/org", admin_home, methods=["GET"]),
    ]
