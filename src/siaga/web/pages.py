"""The dashboard's pages (Jinja2 + htmx): overview, room map, sensors, alerts, incidents, services,
backups, configuration, accounts. Fragments under ``/fragments`` are re-fetched on live events.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from siaga.backup.status import OffsiteCopy, verified_offsite_copy
from siaga.i18n.messages import Message, render
from siaga.kinds import SENSOR_KINDS
from siaga.web import actions, overview, queries
from siaga.web.auth import accounts
from siaga.web.auth.passwords import new_secret, off_loop, same
from siaga.web.auth.roles import Role, Scope, UnknownScope, parse_scopes
from siaga.web.auth.throttle import account_key, address_key
from siaga.web.dashboard import Dashboard
from siaga.web.errors import ApiError, worded
from siaga.web.live import sse_message
from siaga.web.params import RowId
from siaga.web.security import PRELOGIN_COOKIE, SESSION_COOKIE, Principal, client_address, is_https
from siaga.web.views import configview, roommap

HX = {"HX-Request"}
_THROTTLE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="siaga-login-throttle")  # one attempt at a time


def _safe_next(target: str | None) -> str:
    """Only paths of this site (no open redirect)."""
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def router(dash: Dashboard) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    viewer = Depends(dash.need(Scope.read))
    operator = Depends(dash.need(Scope.ack))
    admin = Depends(dash.need(Scope.admin))

    # --- logging in ----------------------------------------------------------------------------------

    @r.get("/login", response_class=HTMLResponse)
    async def login_form(request: Request, next: str = "/") -> Response:
        token = request.cookies.get(PRELOGIN_COOKIE) or new_secret(24)
        nobody = await asyncio.to_thread(_in_tx, dash, accounts.count_users) == 0
        resp = dash.render(request, "login.html", None, next=_safe_next(next), login_csrf=token, error=None,
                           nobody=nobody)
        _set_prelogin(dash, request, resp, token)
        return resp

    @r.post("/login", response_class=HTMLResponse)
    async def login(request: Request, username: str = Form(""), password: str = Form(""),
                    csrf_token: str = Form(""), next: str = Form("/")) -> Response:
        cookie = request.cookies.get(PRELOGIN_COOKIE)
        if not same(cookie, csrf_token):
            raise worded(403, "csrf_failed", Message("web.csrf.login"))
        now = dash.now()
        address = client_address(request)
        keys = [account_key(username), address_key(address)]
        # Counted before the check, so a parallel burst cannot all pass; in the store, so every siaga process on
        # it counts the same attempts; on a thread of its own, so a burst queues there, not before /healthz.
        loop = asyncio.get_running_loop()
        wait = await loop.run_in_executor(_THROTTLE, dash.throttle.begin, keys, now)
        if wait > 0:
            seconds = int(wait + 0.999)
            resp = dash.render(request, "login.html", None, status=429, headers={"Retry-After": str(seconds)},
                               next=_safe_next(next), login_csrf=cookie,
                               error=("too_many", seconds))
            return resp
        user = await off_loop(_authenticate, dash, username, password)
        if user is None:
            return dash.render(request, "login.html", None, status=401, next=_safe_next(next), login_csrf=cookie,
                               error=("wrong", 0))
        await loop.run_in_executor(_THROTTLE, dash.throttle.succeeded, keys, account_key(username))
        sid = await asyncio.to_thread(_open_session, dash, user, address)
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="lax",
                        secure=is_https(request, dash.secure_cookies),
                        max_age=int(accounts.SESSION_LIFETIME.total_seconds()), path="/")
        resp.delete_cookie(PRELOGIN_COOKIE, path="/")
        return resp

    @r.post("/logout")
    async def logout(request: Request, me: Principal = viewer) -> Response:
        sid = request.cookies.get(SESSION_COOKIE)
        await asyncio.to_thread(_close_session, dash, sid)
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/")
        return resp

    @r.post("/account/language")
    async def set_language(request: Request, language: str = Form(...), me: Principal = viewer) -> Response:
        if language not in ("id", "en"):
            raise worded(422, "validation_failed", Message("web.language"))
        if me.user is not None:
            user_id = me.user.id
            await asyncio.to_thread(_in_tx, dash, lambda conn: accounts.set_language(conn, user_id, language))
        back = _safe_next(request.headers.get("referer") and urlparse(request.headers["referer"]).path)
        return RedirectResponse(back, status_code=303)

    # --- overview and room --------------------------------------------------------------------------

    @r.get("/", response_class=HTMLResponse)
    def home(request: Request, me: Principal = viewer) -> Response:
        data = overview.build(dash, dash.language(me, request))
        return dash.render(request, "overview.html", me, o=data)

    @r.get("/fragments/overview", response_class=HTMLResponse)
    def overview_fragment(request: Request, me: Principal = viewer) -> Response:
        return dash.render(request, "_overview.html", me, o=overview.build(dash, dash.language(me, request)))

    @r.get("/room", response_class=HTMLResponse)
    def room_default(request: Request, me: Principal = viewer) -> Response:
        if not dash.cfg.rooms:
            return dash.render(request, "empty.html", me, title="Room map", message="No room in the configuration.")
        return room_page(request, dash.cfg.rooms[0].id, me)

    @r.get("/room/{room_id}", response_class=HTMLResponse)
    def room_page(request: Request, room_id: str, me: Principal = viewer) -> Response:
        m = _room_map(dash, room_id)
        return dash.render(request, "room.html", me, m=m, rooms=dash.cfg.rooms,
                           **_alerts_context(dash, dash.language(me, request), "active", ""))

    @r.get("/fragments/room/{room_id}", response_class=HTMLResponse)
    def room_fragment(request: Request, room_id: str, me: Principal = viewer) -> Response:
        return dash.render(request, "_roommap.html", me, m=_room_map(dash, room_id))

    @r.get("/fragments/rack/{rack_id}", response_class=HTMLResponse)
    def rack_fragment(request: Request, rack_id: str, me: Principal = viewer) -> Response:
        return dash.render(request, "_rack.html", me, rack=overview.rack_detail(dash, rack_id))

    # --- sensors --------------------------------------------------------------------------------------

    @r.get("/sensors", response_class=HTMLResponse)
    def sensors_page(request: Request, me: Principal = viewer) -> Response:
        with dash.engine.connect() as conn:
            unmapped = queries.unmapped_topics(conn) or []
        return dash.render(request, "sensors.html", me, sensors=overview.sensor_rows(dash), unmapped=unmapped)

    @r.get("/sensors/{sensor_id}", response_class=HTMLResponse)
    def sensor_page(request: Request, sensor_id: str, me: Principal = viewer) -> Response:
        sensor = next((s for s in dash.cfg.sensors if s.id == sensor_id), None)
        if sensor is None:
            raise worded(404, "not_found", Message("web.no_sensor", {"sensor": sensor_id}))
        kind = SENSOR_KINDS[sensor.kind]
        return dash.render(request, "sensor.html", me, sensor=sensor, unit=kind.unit,
                           row=next((x for x in overview.sensor_rows(dash) if x["id"] == sensor_id), None))

    # --- alerts and incidents ------------------------------------------------------------------------

    @r.get("/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, state: str = "active", severity: str = "", me: Principal = viewer) -> Response:
        return dash.render(request, "alerts.html", me,
                           **_alerts_context(dash, dash.language(me, request), state, severity))

    @r.get("/fragments/alerts", response_class=HTMLResponse)
    def alerts_fragment(request: Request, state: str = "active", severity: str = "",
                        me: Principal = viewer) -> Response:
        return dash.render(request, "_alerts.html", me,
                           **_alerts_context(dash, dash.language(me, request), state, severity))

    @r.get("/alerts/{alert_id}", response_class=HTMLResponse)
    def alert_page(request: Request, alert_id: RowId, me: Principal = viewer) -> Response:
        return dash.render(request, "alert.html", me, **_alert_context(dash, dash.language(me, request), alert_id))

    @r.get("/fragments/alert/{alert_id}", response_class=HTMLResponse)
    def alert_fragment(request: Request, alert_id: RowId, me: Principal = viewer) -> Response:
        return dash.render(request, "_alert.html", me, **_alert_context(dash, dash.language(me, request), alert_id))

    async def _act(request: Request, action: str, alert_id: int, me: Principal, note: str | None,
                   answer: str = "") -> Response:
        note = (note or "").strip()[:2000] or None
        if action == "note" and not note:
            raise worded(422, "validation_failed", Message("web.note_empty"))
        await actions.act(dash.services, dash.engine, action, alert_id, by=me.name, via="web", note=note,
                          now=dash.now())
        dash.broker.publish("alerts", {"id": alert_id})
        if request.headers.get("HX-Request") and answer == "list":
            return dash.render(request, "_alerts.html", me,
                               **_alerts_context(dash, dash.language(me, request), "active", ""))
        if request.headers.get("HX-Request"):
            return dash.render(request, "_alert.html", me, **_alert_context(dash, dash.language(me, request), alert_id))
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    @r.post("/alerts/{alert_id}/ack", response_class=HTMLResponse)
    async def ack(request: Request, alert_id: RowId, note: str = Form(""), answer: str = Form(""),
                  me: Principal = operator) -> Response:
        return await _act(request, "ack", alert_id, me, note, answer)

    @r.post("/alerts/{alert_id}/resolve", response_class=HTMLResponse)
    async def resolve(request: Request, alert_id: RowId, note: str = Form(""), me: Principal = operator) -> Response:
        return await _act(request, "resolve", alert_id, me, note)

    @r.post("/alerts/{alert_id}/notes", response_class=HTMLResponse)
    async def add_note(request: Request, alert_id: RowId, note: str = Form(""), me: Principal = operator) -> Response:
        return await _act(request, "note", alert_id, me, note)

    @r.get("/incidents", response_class=HTMLResponse)
    def incidents_page(request: Request, me: Principal = viewer) -> Response:
        with dash.engine.connect() as conn:
            found = queries.list_incidents(conn, lang=dash.language(me, request), zone=dash.zone, limit=100)
        return dash.render(request, "incidents.html", me, incidents=found)

    @r.get("/incidents/{incident_id}", response_class=HTMLResponse)
    def incident_page(request: Request, incident_id: RowId, me: Principal = viewer) -> Response:
        with dash.engine.connect() as conn:
            lang = dash.language(me, request)
            inc = queries.get_incident(conn, incident_id, lang=lang, zone=dash.zone)
            if inc is None:
                raise ApiError(404, "not_found", f"incident {incident_id} not found",
                               why=Message("alert.no_such_incident", {"incident": incident_id}))
            members = queries.list_alerts(conn, lang=lang, zone=dash.zone, incident=incident_id, limit=500) or []
            events = sorted(({**e, "alert": a} for a in members
                             for e in queries.timeline(conn, a["id"], lang=lang, zone=dash.zone)),
                            key=lambda e: e["at"])
        return dash.render(request, "incident.html", me, inc=inc, alerts=members, timeline=events)

    # --- services, backups, configuration ------------------------------------------------------------

    @r.get("/services", response_class=HTMLResponse)
    def services_page(request: Request, me: Principal = viewer) -> Response:
        services = overview.service_rows(dash, dash.language(me, request))
        return dash.render(request, "services.html", me, services=services,
                           incidents=overview.service_incidents(dash))

    @r.get("/fragments/services", response_class=HTMLResponse)
    def services_fragment(request: Request, me: Principal = viewer) -> Response:
        services = overview.service_rows(dash, dash.language(me, request)) or []
        return dash.render(request, "_services.html", me, services=services)

    @r.get("/backups", response_class=HTMLResponse)
    def backups_page(request: Request, me: Principal = viewer) -> Response:
        return dash.render(request, "backups.html", me, backups=overview.backup_rows(dash, dash.language(me, request)),
                           runs=overview.backup_runs(dash))

    @r.get("/runbooks", response_class=HTMLResponse)
    def runbooks_page(request: Request, me: Principal = viewer) -> Response:
        books, runs = overview.runbook_rows(dash, dash.language(me, request))
        return dash.render(request, "runbooks.html", me, books=books, runs=runs)

    @r.get("/config", response_class=HTMLResponse)
    def config_page(request: Request, me: Principal = viewer) -> Response:
        return dash.render(request, "config.html", me, text=configview.config_as_yaml(dash.cfg),
                           path=str(dash.loaded.path))

    # --- accounts (admins) ----------------------------------------------------------------------------

    @r.get("/admin/users", response_class=HTMLResponse)
    def users_page(request: Request, me: Principal = admin) -> Response:
        return dash.render(request, "users.html", me, **_users_context(dash))

    @r.post("/admin/users", response_class=HTMLResponse)
    async def users_add(request: Request, name: str = Form(...), password: str = Form(...),
                        role: str = Form("viewer"), display_name: str = Form(""),
                        me: Principal = admin) -> Response:
        def do(conn: Any) -> None:
            accounts.add_user(conn, name, password, role, dash.now(), display_name=display_name or None,
                              actor=me.name)
        return await _admin_change(dash, request, me, do,
                                   Message("web.done.user_added", {"name": name.strip().lower()}))

    @r.post("/admin/users/{name}/role", response_class=HTMLResponse)
    async def users_role(request: Request, name: str, role: str = Form(...), me: Principal = admin) -> Response:
        try:
            new_role = Role(role)
        except ValueError:
            raise worded(422, "validation_failed", Message("web.role")) from None
        return await _admin_change(dash, request, me, lambda conn: accounts.set_role(
            conn, name, new_role, dash.now(), actor=me.name), Message("web.done.role", {"name": name,
                                                                          "role": new_role.value}))

    @r.post("/admin/users/{name}/disable", response_class=HTMLResponse)
    async def users_disable(request: Request, name: str, disabled: str = Form("1"),
                            me: Principal = admin) -> Response:
        off = disabled == "1"
        return await _admin_change(dash, request, me, lambda conn: accounts.set_disabled(
            conn, name, off, dash.now(), actor=me.name),
            Message("web.done.disabled", {"name": name}) if off else Message("web.done.enabled", {"name": name}))

    @r.post("/admin/tokens", response_class=HTMLResponse)
    async def tokens_add(request: Request, name: str = Form(...), me: Principal = admin) -> Response:
        form = await request.form()
        try:
            scopes = parse_scopes([str(v) for v in form.getlist("scopes")])
        except UnknownScope as exc:
            raise ApiError(422, "validation_failed", str(exc), why=Message("web.scope", {
                "scope": exc.name, "scopes": ", ".join(s.value for s in Scope)})) from None
        shown: dict[str, str] = {}

        def do(conn: Any) -> None:
            secret, _token = accounts.create_token(conn, name, scopes, dash.now(), actor=me.name)
            shown["secret"] = secret
        return await _admin_change(dash, request, me, do, Message("web.done.token_created"), shown)

    @r.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
    async def tokens_revoke(request: Request, token_id: RowId, me: Principal = admin) -> Response:
        return await _admin_change(dash, request, me, lambda conn: accounts.revoke_token(
            conn, token_id, dash.now(), actor=me.name), Message("web.done.token_revoked", {"token": token_id}))

    @r.get("/admin/audit", response_class=HTMLResponse)
    def audit_page(request: Request, me: Principal = admin) -> Response:
        with dash.engine.connect() as conn:
            rows = queries.audit_events(conn, limit=200)
        return dash.render(request, "audit.html", me, rows=rows)

    # --- live updates ---------------------------------------------------------------------------------

    @r.get("/events")
    async def events(request: Request, me: Principal = viewer) -> StreamingResponse:
        async def stream() -> Any:
            async with dash.broker.subscribe() as queue:
                dash.start_poller()
                yield "retry: 3000\n\n"
                while True:
                    try:
                        topic, data = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        if await request.is_disconnected():
                            return
                        yield ": keep-alive\n\n"
                        continue
                    yield sse_message(topic, data)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return r


# --- helpers ------------------------------------------------------------------------------------------


def _set_prelogin(dash: Dashboard, request: Request, resp: Response, token: str) -> None:
    resp.set_cookie(PRELOGIN_COOKIE, token, httponly=True, samesite="strict",
                    secure=is_https(request, dash.secure_cookies), max_age=3600, path="/")


def _authenticate(dash: Dashboard, username: str, password: str) -> accounts.User | None:
    with dash.engine.begin() as conn:
        return accounts.authenticate(conn, username, password)


def _open_session(dash: Dashboard, user: accounts.User, address: str) -> str:
    with dash.engine.begin() as conn:
        return accounts.open_session(conn, user, dash.now(), address=address)


def _close_session(dash: Dashboard, sid: str | None) -> None:
    with dash.engine.begin() as conn:
        accounts.close_session(conn, sid, dash.now())


def _in_tx(dash: Dashboard, fn: Any) -> Any:
    with dash.engine.begin() as conn:
        return fn(conn)


def _room_map(dash: Dashboard, room_id: str) -> roommap.RoomMap:
    if not any(r.id == room_id for r in dash.cfg.rooms):
        raise worded(404, "not_found", Message("web.no_room", {"room": room_id}))
    with dash.engine.connect() as conn:
        latest = queries.latest_readings(conn)
        active = queries.active_alerts(conn, lang=dash.cfg.site.language.value, zone=dash.zone)
    alarm = frozenset(a["subject"] for a in active if a["severity"] == "critical" and a["subject_kind"] == "sensor")
    return roommap.build_room_map(dash.cfg, room_id, latest, dash.now(), alarm)


def _alerts_context(dash: Dashboard, lang: str, state: str, severity: str) -> dict[str, Any]:
    states = list(queries.ACTIVE_STATES) if state == "active" else ([state] if state and state != "all" else None)
    with dash.engine.connect() as conn:
        found = queries.list_alerts(conn, lang=lang, zone=dash.zone, states=states, severity=severity or None,
                                    limit=200)
    if found is not None and state == "active":
        rank = queries.SEVERITY_RANK
        found.sort(key=lambda a: (-rank.get(a["severity"], 0), -a["id"]))
    return {"alerts": found, "state": state, "severity": severity}


def _alert_context(dash: Dashboard, lang: str, alert_id: int) -> dict[str, Any]:
    with dash.engine.connect() as conn:
        alert = queries.get_alert(conn, alert_id, lang=lang, zone=dash.zone)
        if alert is None:
            raise ApiError(404, "not_found", f"alert {alert_id} not found",
                           why=Message("alert.no_such", {"alert": alert_id}))
        events = queries.timeline(conn, alert_id, lang=lang, zone=dash.zone)
    return {"a": alert, "timeline": events, "manager": actions.find_manager(dash.services) is not None,
            "copies": _offsite_copies(dash, alert)}


def _offsite_copies(dash: Dashboard, alert: dict[str, Any]) -> list[tuple[str, OffsiteCopy | None]]:
    """Once backups exist: each service the alert puts at stake, with its last verified off-site copy."""
    services = (alert.get("impact") or {}).get("services") or []
    if not dash.cfg.backups:
        return []
    return [(sid, verified_offsite_copy(sid, config=dash.cfg, engine=dash.engine)) for sid in services]


def _users_context(dash: Dashboard) -> dict[str, Any]:
    with dash.engine.connect() as conn:
        return {"users": accounts.list_users(conn), "tokens": accounts.list_tokens(conn), "roles": list(Role),
                "scopes": list(Scope)}


async def _admin_change(dash: Dashboard, request: Request, me: Principal, fn: Any, done: Message,
                        shown: dict[str, str] | None = None) -> Response:
    """Do ``fn`` in one transaction and show the accounts page saying what was done (``done``) or why it was not,
    both worded for the admin reading it (the flash lives in this answer only, never in the session)."""
    lang = dash.language(me, request)
    error = None
    try:
        await asyncio.to_thread(_in_tx, dash, fn)
    except accounts.AccountError as exc:
        error = render(exc.why, lang, dash.zone)
    status = 422 if error else 200
    return dash.render(request, "users.html", me, status=status, flash=None if error else render(done, lang, dash.zone),
                       error=error, secret=(shown or {}).get("secret"), **_users_context(dash))


