"""The public status page (``/status``, no login), its JSON API, staff incident updates, heartbeat pings.

- ``GET /status``: overall state, services down now, active incidents with their updates, scheduled
  maintenance, every group with its 90 daily bars (and its services when the group is small).
- ``GET /status/services?group=&q=&page=``: the services list, 100 a page, each with 90 bars.
- ``GET /api/v1/status``, ``GET /api/v1/status/services``: the same as JSON.
- ``POST /api/v1/status/incidents`` and ``POST /api/v1/status/incidents/{id}/updates``: staff tell the
  public (investigating → identified → monitoring → resolved); ``Authorization: Bearer <admin token>``.
- ``GET|POST /ping/{id}`` (and ``/ping/{id}/fail``): heartbeats from jobs.

Language: ``?lang=en`` or ``?lang=id`` (default: the site's); times in the site's zone (WITA).
Pages come from a snapshot rebuilt at most every ``SNAPSHOT_TTL_S`` seconds, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import BaseModel, Field

from siaga.checks import records
from siaga.checks.confirm import Status
from siaga.checks.status.snapshot import Bar, ServiceRow, Snapshot, SnapshotBuilder, services_page
from siaga.checks.status.token import read_or_create_token, token_matches, token_path
from siaga.i18n import normalize_language, translator
from siaga.i18n.formats import percent
from siaga.i18n.zones import zone_abbreviation
from siaga.runtime.context import RuntimeContext
from siaga.sources.ratelimit import RateLimitedLog
from siaga.web.errors import ERROR_RESPONSES
from siaga.web.params import RowId

log = logging.getLogger("siaga.checks.status")

SNAPSHOT_TTL_S = 10.0
REBUILD_AT_LEAST_S = 60.0  # today's tallies (uptime, the day's bar) move by the minute: rebuilt this often anyway
CHANGE_GAP_S = 1.0  # a change of a service's state shows within this (rebuilt at most this often)
SMALL_GROUP = 25  # groups up to this size list their services on the main page
PER_PAGE = 100


class StatusCache:
    """The last snapshot, never older than the docs say.

    While siaga runs checks, :meth:`keep_fresh` rebuilds it at once (at most every ``CHANGE_GAP_S``) when a
    service's state changes here, and every ``SNAPSHOT_TTL_S`` seconds asks the store whether anything the
    page shows changed elsewhere (another process's checks, an incident posted through another process):
    rebuilt then, and at least every ``REBUILD_AT_LEAST_S`` for today's tallies; a snapshot the store said was
    current counts as fresh from that moment. A view takes the snapshot it finds; one older than the TTL
    starts a rebuild in the background, one older than twice the TTL (nothing kept it fresh) or invalidated
    (staff posted an incident) is rebuilt before the view is answered.

    A site of 20,000 services rebuilt every 10 s in every process (about a second of interpreter time each,
    which the event loop carrying the pages waits behind): now about once a minute while nothing changes.
    """

    def __init__(self, builder: SnapshotBuilder, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.builder = builder
        self.monotonic = monotonic
        self.snapshot: Snapshot | None = None
        self.built = 0.0  # (monotonic) when the snapshot's build started
        self.current = 0.0  # (monotonic) when it was last known current: built, or the store said nothing changed
        self.version: tuple[object, ...] | None = None  # the store's (SnapshotBuilder.version) when it was built
        self.dirty = False
        self.lock = asyncio.Lock()
        self.refreshing: asyncio.Task[None] | None = None
        self.pages: dict[tuple[Any, ...], tuple[int, str]] = {}
        self.failures = 0  # rounds of keep_fresh that failed (the store away): logged once a minute
        self._rlog = RateLimitedLog(log, monotonic=monotonic)

    async def get(self) -> Snapshot:
        age = self.monotonic() - self.current
        if self.snapshot is None or self.dirty or age > 2 * SNAPSHOT_TTL_S:
            await self.refresh(older_than=self.monotonic())
        elif age > SNAPSHOT_TTL_S and (self.refreshing is None or self.refreshing.done()):
            self.refreshing = asyncio.create_task(self.refresh())  # stale (within the TTL's bound) while it rebuilds
        assert self.snapshot is not None
        return self.snapshot

    async def refresh(self, older_than: float | None = None) -> None:
        """Rebuild (off the event loop); with ``older_than``, only when no rebuild started since then."""
        async with self.lock:
            if older_than is not None and self.snapshot is not None and not self.dirty and self.built >= older_than:
                return  # another view rebuilt it while this one waited
            self.dirty = False
            started = self.monotonic()
            version = await asyncio.to_thread(self.builder.version)  # before: a change meanwhile builds again
            self.snapshot = await asyncio.to_thread(self.builder.build)
            self.built = self.current = started
            self.version = version
            self.pages.clear()

    async def changed_elsewhere(self) -> bool:
        """Whether the store has a change the snapshot lacks; when not, the snapshot counts as current now."""
        checked = self.monotonic()
        version = await asyncio.to_thread(self.builder.version)
        if version != self.version:
            return True
        self.current = max(self.current, checked)
        return False

    def invalidate(self) -> None:
        self.dirty = True

    async def keep_fresh(self, stop: asyncio.Event, states: Callable[[], Any] | None = None) -> None:
        """Rebuild now, then every ``SNAPSHOT_TTL_S`` s and soon after ``states()`` (the live service states)
        change, until ``stop``."""
        seen = states() if states is not None else None
        try:
            await self.refresh()
        except Exception as exc:  # the store away at the start: tried again at the next round
            self._failed(exc)
        last = self.monotonic()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CHANGE_GAP_S):
                    await stop.wait()
            if stop.is_set():
                return
            now_states = states() if states is not None else None
            due = now_states != seen or self.dirty
            try:
                if not due and self.monotonic() - last >= SNAPSHOT_TTL_S:
                    last = self.monotonic()
                    due = self.monotonic() - self.built >= REBUILD_AT_LEAST_S or await self.changed_elsewhere()
                if due:
                    seen = now_states
                    await self.refresh()
                    last = self.monotonic()
            except Exception as exc:  # a store hiccup: the views keep the last snapshot, the next round tries again
                self._failed(exc)
                last = self.monotonic()

    def _failed(self, exc: Exception) -> None:
        """A round of :meth:`keep_fresh` failed (the store away): counted, said once a minute."""
        self.failures += 1
        self._rlog.warning("status_snapshot", "status page: rebuilding the snapshot failed, the page shows "
                           f"the last one: {type(exc).__name__}: {exc}", reason="status_snapshot")
        log.debug("status page: rebuilding the snapshot failed", exc_info=True)


def _env(lang: str) -> Environment:
    env = Environment(
        loader=PackageLoader("siaga", "checks/templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    t = translator(lang)
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["percent"] = lambda fraction, digits=2: percent(float(fraction), lang, digits)
    return env


class IncidentIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    status: Literal["investigating", "identified", "monitoring", "resolved"] = "investigating"
    impact: Literal["none", "minor", "major", "critical"] = "major"
    services: list[str] = Field(default_factory=list)
    message: str = Field(min_length=1, max_length=5000)
    author: str | None = Field(default=None, max_length=200)


class UpdateIn(BaseModel):
    status: Literal["investigating", "identified", "monitoring", "resolved"]
    message: str = Field(min_length=1, max_length=5000)
    author: str | None = Field(default=None, max_length=200)


def _bar_json(b: Bar) -> dict[str, Any]:
    return {"day": b.day.isoformat(), "uptime": b.uptime, "down_s": b.down_s, "maintenance_s": b.maintenance_s}


def service_json(r: ServiceRow, bars: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "name": r.name, "group": r.group or None, "status": r.status.value,
        "since": r.since.isoformat() if r.since else None, "uptime_90d": r.uptime,
    }
    if bars:
        out["days"] = [_bar_json(b) for b in r.bars]
    return out


def _incident_json(i: dict[str, Any]) -> dict[str, Any]:
    def iso(v: Any) -> Any:
        return v.isoformat() if isinstance(v, dt.datetime) else v

    return {
        **{k: iso(v) for k, v in i.items() if k != "updates"},
        "updates": [{k: iso(v) for k, v in u.items()} for u in i.get("updates", [])],
    }


def snapshot_json(snap: Snapshot) -> dict[str, Any]:
    """The JSON of ``GET /api/v1/status`` (also served by a colocation for each room it watches)."""
    return {
        "status": snap.status.value,
        "summary": snap.summary,
        "built_at": snap.built_at.isoformat(),
        "counts": snap.counts,
        "groups": [
            {"name": g.name or None, "status": g.status.value, "counts": g.counts, "uptime_90d": g.uptime}
            for g in snap.groups
        ],
        "down": [service_json(s, bars=False) for s in snap.down],
        "incidents": [_incident_json(i) for i in snap.incidents],
        "maintenance": [
            {"id": m.id, "title": m.title, "starts_at": m.starts_at.isoformat(),
             "ends_at": m.ends_at.isoformat(), "services": list(m.services), "ongoing": m.ongoing}
            for m in snap.maintenance
        ],
    }


_ENVS: dict[str, Environment] = {}


def local_time(zone: Any) -> Callable[..., str]:
    """``local(value)``: a time as the page shows it, in ``zone`` with its abbreviation (WITA)."""
    def local(value: dt.datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        if value is None:
            return "-"
        at = value.astimezone(zone)
        return f"{at.strftime(fmt)} {zone_abbreviation(at)}"

    return local


def render_status(name: str, lang: str, snap: Snapshot, site: Any, *, base: str = "/status", **extra: Any) -> str:
    """A status page template in ``lang`` for ``snap``; ``site.name`` heads it, ``base`` is the page's path
    (``/status``, or a colocation's page of a room)."""
    if lang not in _ENVS:
        _ENVS[lang] = _env(lang)
    t = translator(lang)
    labels = {
        "up": t.gettext("Operational"), "down": t.gettext("Down"), "unknown": t.gettext("No data"),
        "maintenance": t.gettext("Maintenance"),
    }
    stages = {
        "investigating": t.gettext("Investigating"), "identified": t.gettext("Identified"),
        "monitoring": t.gettext("Monitoring"), "resolved": t.gettext("Resolved"),
    }
    extra.setdefault("room", None)
    return _ENVS[lang].get_template(name).render(
        snap=snap, lang=lang, local=local_time(snap.zone), labels=labels, stages=stages, site=site,
        small_group=SMALL_GROUP, base=base, **extra,
    )


PUBLIC: dict[str, Any] = {"security": []}  # in the OpenAPI document: public, no credentials (docs/api.md)


def router(ctx: RuntimeContext) -> APIRouter | None:
    """The status page's router (None when the site has no services)."""
    cfg = ctx.config
    if not cfg.services:
        return None

    def live() -> dict[str, Status] | None:
        """The running engine's states (None when checks run in no engine of this process)."""
        engine = ctx.services.checks
        return engine.live_status() if engine is not None else None  # in a cluster: this process's share

    def live_since(service: str) -> dt.datetime | None:
        engine = ctx.services.checks
        if engine is None:
            return None
        sinces = [engine.monitor.states[c].since for c in engine.monitor.checks_of.get(service, [])
                  if engine.monitor.states[c].status == Status.down]
        return min((s for s in sinces if s), default=None)

    builder = SnapshotBuilder(
        cfg, ctx.engine, clock=ctx.clock,
        live_status=live, live_since=live_since,
    )
    cache = StatusCache(builder)
    ctx.services.status_cache = cache
    site_lang = cfg.site.language.value
    tpath = token_path(ctx.loaded)
    r = APIRouter()

    def lang_of(request: Request) -> str:
        try:
            return normalize_language(request.query_params.get("lang") or site_lang)
        except Exception:
            return site_lang

    def render(name: str, lang: str, snap: Snapshot, **extra: Any) -> str:
        return render_status(name, lang, snap, cfg.site, **extra)

    @r.get("/status", response_class=HTMLResponse, include_in_schema=False)
    async def status_page(request: Request) -> HTMLResponse:
        snap = await cache.get()
        lang = lang_of(request)
        key = ("status", lang)
        hit = cache.pages.get(key)
        if hit is None or hit[0] != id(snap):
            hit = (id(snap), render("status/page.html", lang, snap))
            cache.pages[key] = hit
        return HTMLResponse(hit[1], headers={"Cache-Control": "public, max-age=10"})

    @r.get("/status/services", response_class=HTMLResponse, include_in_schema=False)
    async def services_list(
        request: Request, group: str | None = None, q: str | None = None, page: int = Query(1, ge=1)
    ) -> HTMLResponse:
        snap = await cache.get()
        lang = lang_of(request)
        key = ("services", lang, group, q, page)
        hit = cache.pages.get(key)
        if hit is None or hit[0] != id(snap):
            rows, pages = services_page(snap, group=group, query=q, page=page, per_page=PER_PAGE)
            html = render("status/services.html", lang, snap, rows=rows, pages=pages, page=min(page, pages),
                          group=group, q=q or "")
            hit = (id(snap), html)
            if len(cache.pages) < 2000:
                cache.pages[key] = hit
        return HTMLResponse(hit[1], headers={"Cache-Control": "public, max-age=10"})

    @r.get("/api/v1/status", tags=["status"], openapi_extra=PUBLIC)
    async def status_json() -> dict[str, Any]:
        """Overall state (``up`` only when every public service is up), ``summary`` (outage, no_data,
        partly_unknown, incident, operational), groups (counts, 90-day uptime), services down now,
        incidents with their updates, maintenance."""
        return snapshot_json(await cache.get())

    @r.get("/api/v1/status/services", tags=["status"], openapi_extra=PUBLIC)
    async def services_json(
        group: str | None = None, q: str | None = None, page: int = Query(1, ge=1),
        per_page: int = Query(PER_PAGE, ge=1, le=500),
    ) -> dict[str, Any]:
        """Services with their state and 90 daily uptimes, a page at a time."""
        snap = await cache.get()
        rows, pages = services_page(snap, group=group, query=q, page=page, per_page=per_page)
        return {"page": min(page, pages), "pages": pages, "services": [service_json(s) for s in rows]}

    def require_admin(request: Request) -> None:
        try:
            token = read_or_create_token(tpath)
        except OSError as exc:
            raise HTTPException(503, f"cannot read the admin token file {tpath}: {exc.strerror}") from None
        if not token_matches(token, request.headers.get("Authorization")):
            raise HTTPException(401, f"send the admin token (from {tpath.name}) as 'Authorization: Bearer ...'")

    @r.get("/api/v1/status/incidents", tags=["status"], openapi_extra=PUBLIC)
    async def list_incidents(active: bool = False) -> list[dict[str, Any]]:
        rows = await ctx.run_db(lambda c: records.incidents(c, active_only=active))
        return [_incident_json(i) for i in rows]

    @r.post("/api/v1/status/incidents", status_code=201, tags=["status"], dependencies=[Depends(require_admin)],
            responses=ERROR_RESPONSES)
    async def create_incident(body: IncidentIn) -> dict[str, Any]:
        """Open a public incident (staff only)."""
        unknown = [s for s in body.services if s not in builder_ids]
        if unknown:
            raise HTTPException(422, f"unknown service(s): {', '.join(unknown)}")
        at = ctx.clock()
        iid = await ctx.run_db(lambda c: records.create_incident(
            c, title=body.title, status=body.status, impact=body.impact, services=body.services,
            message=body.message, author=body.author, at=at))
        cache.invalidate()
        return {"id": iid}

    @r.post("/api/v1/status/incidents/{incident_id}/updates", status_code=201, tags=["status"],
            dependencies=[Depends(require_admin)], responses=ERROR_RESPONSES)
    async def post_update(incident_id: RowId, body: UpdateIn) -> dict[str, Any]:
        """Post an update on an incident: investigating → identified → monitoring → resolved."""
        at = ctx.clock()
        ok = await ctx.run_db(lambda c: records.add_update(
            c, incident_id, status=body.status, message=body.message, author=body.author, at=at))
        if not ok:
            raise HTTPException(404, f"no status incident {incident_id}")
        cache.invalidate()
        return {"id": incident_id, "status": body.status}

    builder_ids = {s.id for s in cfg.services}

    async def _ping(key: str, failed: bool) -> PlainTextResponse:
        engine = ctx.services.checks
        if engine is None or not engine.ping(key, failed=failed):
            raise HTTPException(404, f"no heartbeat check with ping id {key!r}")
        return PlainTextResponse("OK")

    async def ping(key: str) -> PlainTextResponse:
        """A heartbeat from a job: it ran (see heartbeat checks)."""
        return await _ping(key, False)

    async def ping_fail(key: str) -> PlainTextResponse:
        """A heartbeat from a job that failed: the check goes down at once."""
        return await _ping(key, True)

    # One route per method, so that each operation has its own operationId in the OpenAPI document.
    for method in ("GET", "POST", "HEAD"):
        r.add_api_route("/ping/{key}", ping, methods=[method], tags=["checks"],
                        operation_id=f"ping_{method.lower()}")
    for method in ("GET", "POST"):
        r.add_api_route("/ping/{key}/fail", ping_fail, methods=[method], tags=["checks"],
                        operation_id=f"ping_fail_{method.lower()}")

    return r
