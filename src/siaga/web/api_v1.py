"""``/api/v1``: JSON for everything the dashboard shows and does.

Authentication: a bearer token (``Authorization: Bearer sga_...``, scopes read/ack/admin/ingest) or the
dashboard's session cookie (then unsafe requests need the ``X-CSRF-Token`` header). Every error has one
shape: ``{"error": {"code", "message", "details"}}``. Lists are paginated with ``limit`` and ``cursor``.
The OpenAPI document is at ``/api/v1/openapi.json``, browsable at ``/api/v1/docs``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import re
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from siaga import __version__
from siaga.alerts import store as alert_store
from siaga.web import actions, overview, queries
from siaga.web.auth import accounts
from siaga.web.auth.roles import Scope
from siaga.web.dashboard import Dashboard
from siaga.web.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from siaga.web.params import RowId
from siaga.web.security import Principal
from siaga.web.views import configview, roommap

PREFIX = "/api/v1"
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The alert is already acknowledged or resolved."}}
MAX_LIMIT = 500
CURSOR = r"^[0-9]{1,18}$"
SINCE = r"^[1-9][0-9]{0,3}[mhdwy]$"
MAX_SPAN = dt.timedelta(days=3660)


# --- response models ----------------------------------------------------------------------------------------


class SiteOut(BaseModel):
    name: str
    timezone: str
    language: str
    version: str


class MeOut(BaseModel):
    name: str
    role: str | None
    scopes: list[str]
    language: str | None
    via: str


class LatestOut(BaseModel):
    value: float | None = Field(description="Latest value in the kind's unit; null when never heard.")
    at: dt.datetime | None = Field(description="When it was measured (UTC).")
    state: str = Field(description="ok, alarm (wet, smoke), stale (silent 3 intervals) or unknown.")


class SensorOut(BaseModel):
    id: str
    name: str
    kind: str
    unit: str
    room: str | None
    rack: str | None
    zone: str | None
    latest: LatestOut


class SeriesOut(BaseModel):
    sensor: str
    resolution: Literal["raw", "1m", "1h"] = Field(description="raw readings, 1-minute or 1-hour rollups.")
    start: dt.datetime
    end: dt.datetime
    ts: list[int] = Field(description="Unix time in milliseconds of each point (bucket start for rollups).")
    avg: list[float | None]
    min: list[float | None]
    max: list[float | None]


class DeviceOut(BaseModel):
    id: str
    name: str
    kind: str
    u: int | None
    height_u: int
    value: int = Field(description="Purchase value in whole rupiah.")
    owner_office: str | None


class ServiceRef(BaseModel):
    id: str
    name: str
    criticality: str
    direct: bool = Field(description="Runs on a device of the rack (else hit through depends_on).")


class RackOut(BaseModel):
    id: str
    name: str
    room: str
    height_u: int
    value: int = Field(description="Total value of its devices in whole rupiah.")
    devices: list[DeviceOut]
    services: list[ServiceRef]
    sensors: list[SensorOut]


class RackTileOut(BaseModel):
    id: str
    name: str
    x: float
    y: float
    w: float
    h: float
    inlet: float | None = Field(description="Warmest inlet temperature, °C.")
    band: str = Field(description="unknown, cold, cool, ok, warm or hot.")
    alarm: bool
    devices: int
    value: int


class MarkerOut(BaseModel):
    sensor: str
    kind: str
    x: float
    y: float
    state: str
    label: str


class RoomMapOut(BaseModel):
    room: str
    name: str
    width: float
    height: float
    columns: int
    rows: int
    racks: list[RackTileOut]
    markers: list[MarkerOut]


class RoomOut(BaseModel):
    id: str
    name: str
    building: str | None
    racks: list[str]


class MessageOut(BaseModel):
    key: str = Field(description="A message key of siaga.i18n.messages (empty for alerts stored before keys).")
    params: dict[str, Any] = Field(default_factory=dict, description="What the message says, as values.")
    text: str | None = Field(default=None, description="The English sentence of an alert stored before keys.")


class AlertOut(BaseModel):
    id: int
    rule: str
    title: str = Field(description="What the rule is about, in the reader's language (\"Kebocoran air\").")
    subject: str
    subject_kind: str
    state: str
    severity: str
    summary: str = Field(description="What happened, in the reader's language (account, Accept-Language, "
                                     "else the site's), with local times.")
    message: MessageOut = Field(description="The key and parameters the summary is worded from.")
    started_at: dt.datetime
    fired_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None
    incident_id: int | None = None
    last_value: float | None = None
    impact: dict[str, Any] = Field(default_factory=dict, description="Room, rack, devices, services, value_at_risk.")


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class TimelineEntry(BaseModel):
    at: dt.datetime
    kind: str = Field(description="created, firing, acknowledged, noted, resolved, notification, ...")
    by: str | None = None
    via: str | None = None
    note: str | None = None
    state: str | None = None
    detail: str | None = None


class IncidentOut(BaseModel):
    id: int
    title: str = Field(description="In the reader's language, with local times.")
    title_message: MessageOut
    opened_at: dt.datetime
    closed_at: dt.datetime | None = None
    owner: str | None = None
    room: str | None = None
    rack: str | None = None


class IncidentPage(BaseModel):
    items: list[IncidentOut]
    next_cursor: str | None


class IncidentDetail(IncidentOut):
    alerts: list[AlertOut]


class OverviewOut(BaseModel):
    worst_alert: AlertOut | None
    active_alerts: int
    critical_alerts: int
    sensors: int
    sensors_offline: list[str]
    services_down: list[str] | None = Field(description="null when no service checks are configured.")
    backups: list[dict[str, Any]] | None = Field(description="null when no backups are configured.")
    value_total: int


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="Why, or what was done.")


class NoteRequired(BaseModel):
    note: str = Field(min_length=1, max_length=2000)


class ActionOut(BaseModel):
    alert: AlertOut | None
    done: str


class UserOut(BaseModel):
    name: str
    display_name: str | None
    role: str
    language: str | None
    disabled: bool
    created_at: dt.datetime


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by: str | None
    created_at: dt.datetime
    revoked: bool


class AuditOut(BaseModel):
    at: dt.datetime
    kind: str
    actor: str | None
    subject: str | None
    data: dict[str, Any] | None


# --- helpers -----------------------------------------------------------------------------------------------


def _cursor(value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise ApiError(422, "validation_failed", "cursor: not a cursor this API gave", {"cursor": value})
    return int(value)


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def _alert_out(a: dict[str, Any]) -> AlertOut:
    """``a``: an alert of siaga.alerts.serialise.alert_fields (the one shape of API, CLI and notify)."""
    return AlertOut.model_validate({k: a[k] for k in AlertOut.model_fields if k in a})


_SINCE = re.compile(r"^([0-9]{1,4})([mhdwy])$")
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "y": 365 * 86400}


def parse_since(text: str) -> dt.timedelta:
    m = _SINCE.match(text.strip())
    if not m:
        raise ApiError(422, "validation_failed", "since: use a number and m, h, d, w or y (1h, 7d, 1y)",
                       {"since": text})
    span = dt.timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    if span <= dt.timedelta(0):
        raise ApiError(422, "validation_failed", "since: at least 1 minute", {"since": text})
    return min(span, MAX_SPAN)


def sensor_out(row: dict[str, Any]) -> SensorOut:
    return SensorOut(id=row["id"], name=row["name"], kind=row["kind"], unit=row["unit"], room=row["room"],
                     rack=row["rack"], zone=row["zone"],
                     latest=LatestOut(value=row["value"], at=row["at"], state=row["state"]))


def router(dash: Dashboard) -> APIRouter:
    r = APIRouter(prefix=PREFIX, responses=ERROR_RESPONSES)
    read = Depends(dash.need(Scope.read))
    ack = Depends(dash.need(Scope.ack))
    admin = Depends(dash.need(Scope.admin))

    def reader_language(request: Request) -> str:
        """The reader's language: the account's, else Accept-Language, else the site's (after the scope check)."""
        return dash.language(getattr(request.state, "principal", None), request)

    speaks = Depends(reader_language)

    @r.get("/site", response_model=SiteOut, tags=["site"])
    def site(me: Principal = read) -> SiteOut:
        """The site: name, zone, language."""
        s = dash.cfg.site
        return SiteOut(name=s.name, timezone=s.timezone, language=s.language.value, version=__version__)

    @r.get("/me", response_model=MeOut, tags=["site"])
    def whoami(me: Principal = read) -> MeOut:
        """Who the request acts as, with which scopes."""
        return MeOut(name=me.name, role=me.role.value if me.role else None,
                     scopes=sorted(s.value for s in me.scopes), language=me.language, via=me.via)

    @r.get("/overview", response_model=OverviewOut, tags=["site"])
    def get_overview(me: Principal = read, lang: str = speaks) -> OverviewOut:
        """The overview at a glance: worst active alert, services down, backup freshness, sensors offline."""
        o = overview.build(dash, lang)
        return OverviewOut(
            worst_alert=_alert_out(o.worst) if o.worst else None, active_alerts=o.active,
            critical_alerts=o.critical, sensors=o.sensors_total, sensors_offline=[s["id"] for s in o.sensors_offline],
            services_down=None if o.services_down is None else [s["id"] for s in o.services_down],
            backups=[{k: v for k, v in b.items()} for b in o.backups] if o.backups is not None else None,
            value_total=o.value_total,
        )

    @r.get("/rooms", response_model=list[RoomOut], tags=["room"])
    def rooms(me: Principal = read) -> list[RoomOut]:
        """The rooms and their racks."""
        return [RoomOut(id=rm.id, name=rm.name, building=rm.building,
                        racks=[k.id for k in dash.cfg.racks if k.room == rm.id]) for rm in dash.cfg.rooms]

    @r.get("/rooms/{room_id}/map", response_model=RoomMapOut, tags=["room"])
    def room_map(room_id: str, me: Principal = read) -> RoomMapOut:
        """The room map: racks on their tiles with inlet temperature, leak and smoke markers."""
        if not any(rm.id == room_id for rm in dash.cfg.rooms):
            raise ApiError(404, "not_found", f"room {room_id} not found")
        with dash.engine.connect() as conn:
            latest = queries.latest_readings(conn)
            active = queries.active_alerts(conn, lang=dash.cfg.site.language.value, zone=dash.zone)
        alarm = frozenset(a["subject"] for a in active if a["severity"] == "critical")
        m = roommap.build_room_map(dash.cfg, room_id, latest, dash.now(), alarm)
        return RoomMapOut(room=m.room_id, name=m.name, width=m.width, height=m.height, columns=m.columns,
                          rows=m.rows, racks=[RackTileOut(**t.__dict__) for t in m.racks],
                          markers=[MarkerOut(**k.__dict__) for k in m.markers])

    @r.get("/racks/{rack_id}", response_model=RackOut, tags=["room"])
    def rack(rack_id: str, me: Principal = read) -> RackOut:
        """A rack: its devices, the services it carries (directly or through depends_on), sensors, value."""
        d = overview.rack_detail(dash, rack_id)
        return RackOut(
            id=d["id"], name=d["name"], room=d["room"], height_u=d["height_u"], value=d["value"],
            devices=[DeviceOut(id=x.id, name=x.name or x.id, kind=x.kind.value, u=x.u, height_u=x.height_u,
                               value=x.value, owner_office=x.owner_office) for x in d["devices"]],
            services=[ServiceRef(id=s.id, name=s.name, criticality=s.criticality.value, direct=s.id in d["direct"])
                      for s in d["services"]],
            sensors=[sensor_out(s) for s in d["sensors"]],
        )

    @r.get("/sensors", response_model=list[SensorOut], tags=["sensors"])
    def sensors(me: Principal = read) -> list[SensorOut]:
        """Every sensor with its latest reading and state."""
        return [sensor_out(s) for s in overview.sensor_rows(dash)]

    @r.get("/sensors/{sensor_id}", response_model=SensorOut, tags=["sensors"])
    def sensor(sensor_id: str, me: Principal = read) -> SensorOut:
        row = next((s for s in overview.sensor_rows(dash) if s["id"] == sensor_id), None)
        if row is None:
            raise ApiError(404, "not_found", f"sensor {sensor_id} not found")
        return sensor_out(row)

    @r.get("/sensors/{sensor_id}/readings", response_model=SeriesOut, tags=["sensors"])
    def readings(
        sensor_id: str,
        since: str = Query("1h", pattern=SINCE, description="How far back: 1h, 6h, 1d, 7d, 30d, 1y."),
        end: dt.datetime | None = Query(None, description="End of the window (default now), ISO 8601 with zone."),
        me: Principal = read,
    ) -> SeriesOut:
        """One sensor's readings over a window, at the resolution the span calls for (raw, 1m, 1h)."""
        if not any(s.id == sensor_id for s in dash.cfg.sensors):
            raise ApiError(404, "not_found", f"sensor {sensor_id} not found")
        if end is not None and (end.tzinfo is None or end.utcoffset() is None):
            raise ApiError(422, "validation_failed", "end: give a zone (2026-07-16T08:00:00+08:00)")
        stop = (end or dash.now()).astimezone(dt.UTC)
        try:
            start = stop - parse_since(since)
        except OverflowError:
            raise ApiError(422, "validation_failed", "end: out of range") from None
        with dash.engine.connect() as conn:
            s = queries.series(conn, sensor_id, start, stop + dt.timedelta(milliseconds=1))
        if s is None:
            raise ApiError(503, "unavailable", "readings are not stored by this siaga (no readings part)")
        return SeriesOut(sensor=sensor_id, resolution=s.resolution, start=start, end=stop, ts=s.ts,
                         avg=_finite(s.avg), min=_finite(s.min), max=_finite(s.max))

    @r.get("/alerts", response_model=AlertPage, tags=["alerts"])
    def alerts(
        state: Literal["active", "all", "pending", "firing", "acknowledged", "resolved"] = "active",
        severity: Literal["info", "warning", "critical"] | None = None,
        subject: str | None = Query(None, max_length=200),
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        cursor: str | None = Query(None, pattern=CURSOR, description="From the previous page's next_cursor."),
        me: Principal = read,
        lang: str = speaks,
    ) -> AlertPage:
        """Alerts, newest first."""
        states: list[str] | None = (
            list(queries.ACTIVE_STATES) if state == "active" else None if state == "all" else [str(state)])
        with dash.engine.connect() as conn:
            found = queries.list_alerts(conn, lang=lang, zone=dash.zone, states=states, severity=severity,
                                        subject=subject, limit=limit + 1, before_id=_cursor(cursor))
        items = found or []
        nxt = str(items[limit - 1]["id"]) if len(items) > limit else None
        return AlertPage(items=[_alert_out(a) for a in items[:limit]], next_cursor=nxt)

    @r.get("/alerts/{alert_id}", response_model=AlertOut, tags=["alerts"])
    def alert(alert_id: RowId, me: Principal = read, lang: str = speaks) -> AlertOut:
        with dash.engine.connect() as conn:
            a = queries.get_alert(conn, alert_id, lang=lang, zone=dash.zone)
        if a is None:
            raise ApiError(404, "not_found", f"alert {alert_id} not found")
        return _alert_out(a)

    @r.get("/alerts/{alert_id}/timeline", response_model=list[TimelineEntry], tags=["alerts"])
    def alert_timeline(alert_id: RowId, me: Principal = read, lang: str = speaks) -> list[TimelineEntry]:
        """Everything that happened to the alert, oldest first, with every notification attempt (siaga's own
        notes worded in the reader's language)."""
        with dash.engine.connect() as conn:
            if alert_store.get_alert(conn, alert_id) is None:
                raise ApiError(404, "not_found", f"alert {alert_id} not found")
            return [TimelineEntry(**e) for e in queries.timeline(conn, alert_id, lang=lang, zone=dash.zone)]

    async def _do(action: str, alert_id: int, me: Principal, note: str | None, lang: str) -> ActionOut:
        await actions.act(dash.services, dash.engine, action, alert_id, by=me.name, via="api", note=note,
                          now=dash.now())
        dash.broker.publish("alerts", {"id": alert_id})

        def load() -> dict[str, Any] | None:
            with dash.engine.connect() as conn:
                return queries.get_alert(conn, alert_id, lang=lang, zone=dash.zone)
        a = await asyncio.to_thread(load)
        return ActionOut(alert=_alert_out(a) if a else None, done=action)

    @r.post("/alerts/{alert_id}/ack", response_model=ActionOut, tags=["alerts"], responses=CONFLICT)
    async def acknowledge(alert_id: RowId, body: NoteIn | None = None, me: Principal = ack,
                  lang: str = speaks) -> ActionOut:
        """Acknowledge: someone takes responsibility (escalation stops). Needs the ack scope."""
        return await _do("ack", alert_id, me, body.note if body else None, lang)

    @r.post("/alerts/{alert_id}/resolve", response_model=ActionOut, tags=["alerts"], responses=CONFLICT)
    async def resolve(alert_id: RowId, body: NoteIn | None = None, me: Principal = ack,
                  lang: str = speaks) -> ActionOut:
        """Resolve by hand (the condition is over). Needs the ack scope."""
        return await _do("resolve", alert_id, me, body.note if body else None, lang)

    @r.post("/alerts/{alert_id}/notes", response_model=ActionOut, tags=["alerts"])
    async def note(alert_id: RowId, body: NoteRequired, me: Principal = ack, lang: str = speaks) -> ActionOut:
        """Add a note to the alert's timeline. Needs the ack scope."""
        return await _do("note", alert_id, me, body.note, lang)

    @r.get("/incidents", response_model=IncidentPage, tags=["alerts"])
    def incidents(
        open_only: bool = False,
        limit: int = Query(50, ge=1, le=MAX_LIMIT),
        cursor: str | None = Query(None, pattern=CURSOR, description="From the previous page's next_cursor."),
        me: Principal = read,
        lang: str = speaks,
    ) -> IncidentPage:
        """Incidents (alerts grouped by their real-world event), newest first."""
        with dash.engine.connect() as conn:
            found = queries.list_incidents(conn, lang=lang, zone=dash.zone, open_only=open_only, limit=limit + 1,
                                           before_id=_cursor(cursor)) or []
        nxt = str(found[limit - 1]["id"]) if len(found) > limit else None
        return IncidentPage(items=[IncidentOut(**i) for i in found[:limit]], next_cursor=nxt)

    @r.get("/incidents/{incident_id}", response_model=IncidentDetail, tags=["alerts"])
    def incident(incident_id: RowId, me: Principal = read, lang: str = speaks) -> IncidentDetail:
        with dash.engine.connect() as conn:
            inc = queries.get_incident(conn, incident_id, lang=lang, zone=dash.zone)
            if inc is None:
                raise ApiError(404, "not_found", f"incident {incident_id} not found")
            members = queries.list_alerts(conn, lang=lang, zone=dash.zone, incident=incident_id,
                                          limit=MAX_LIMIT) or []
        return IncidentDetail(**inc, alerts=[_alert_out(a) for a in members])

    @r.get("/config", tags=["site"])
    def config(me: Principal = read) -> dict[str, Any]:
        """The loaded configuration, secrets masked (``*_file`` paths and ``${ENV}`` references only)."""
        return configview.config_as_dict(dash.cfg)

    @r.get("/users", response_model=list[UserOut], tags=["accounts"])
    def users(me: Principal = admin) -> list[UserOut]:
        """People who can log in (admin scope)."""
        with dash.engine.connect() as conn:
            return [UserOut(name=u.name, display_name=u.display_name, role=u.role.value, language=u.language,
                            disabled=u.disabled, created_at=u.created_at) for u in accounts.list_users(conn)]

    @r.get("/tokens", response_model=list[TokenOut], tags=["accounts"])
    def tokens(me: Principal = admin) -> list[TokenOut]:
        """API tokens, never their secrets (admin scope)."""
        with dash.engine.connect() as conn:
            return [TokenOut(id=t.id, name=t.name, prefix=t.prefix, scopes=sorted(s.value for s in t.scopes),
                             created_by=t.created_by, created_at=t.created_at, revoked=t.revoked_at is not None)
                    for t in accounts.list_tokens(conn)]

    @r.get("/audit", response_model=list[AuditOut], tags=["accounts"])
    def audit(limit: int = Query(100, ge=1, le=MAX_LIMIT), me: Principal = admin) -> list[AuditOut]:
        """Who acknowledged, resolved or changed what, newest first (admin scope)."""
        with dash.engine.connect() as conn:
            rows = queries.audit_events(conn, limit=limit)
        return [AuditOut(at=x["at"], kind=x["kind"], actor=x["actor"], subject=x["subject"], data=x["data"])
                for x in rows]

    return r


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of every ``/api/v1`` route (ours and other parts', such as readings ingest)."""
    import copy

    full = copy.deepcopy(app.openapi())
    doc: dict[str, Any] = {
        "openapi": full.get("openapi", "3.1.0"),
        "info": {
            "title": "siaga API",
            "version": f"v1 ({__version__})",
            "description": (
                "JSON for everything the siaga dashboard shows and does. Authenticate with "
                "`Authorization: Bearer <token>` (`siaga token create NAME --scope read`). Every error is "
                '`{"error": {"status": ..., "code": ..., "message": ..., "details": ...}}`.'
            ),
        },
        "paths": {k: v for k, v in full.get("paths", {}).items() if k.startswith(PREFIX + "/")},
        "components": full.get("components", {}),
    }
    comps = doc.setdefault("components", {})
    comps.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    doc["security"] = [{"bearer": []}]
    schemas = comps.setdefault("schemas", {})
    schemas.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}"))
    # Every 422 is our error shape, not FastAPI's HTTPValidationError.
    for path in doc.get("paths", {}).values():
        for op in path.values():
            if isinstance(op, dict) and "422" in op.get("responses", {}):
                op["responses"]["422"] = {
                    "description": "The request does not validate.",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
                }
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for body in (ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}").get("$defs", {}),):
        for k, v in body.items():
            schemas.setdefault(k, v)
    return doc


def install_openapi(app: FastAPI, dash: Dashboard) -> None:
    cache: dict[str, Any] = {}

    @app.get(PREFIX + "/openapi.json", include_in_schema=False)
    def openapi_json() -> JSONResponse:
        if "doc" not in cache:
            cache["doc"] = openapi_document(app)
        return JSONResponse(cache["doc"])

    @app.get(PREFIX + "/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        html = (
            "<!doctype html><html><head><meta charset=utf-8><title>siaga API</title>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            "<link rel=stylesheet href='/static/vendor/swagger-ui/swagger-ui.css'></head><body>"
            "<div id=swagger-ui></div><script src='/static/vendor/swagger-ui/swagger-ui-bundle.js'></script>"
            "<script src='/static/siaga/api-docs.js'></script></body></html>"
        )
        return HTMLResponse(html)
