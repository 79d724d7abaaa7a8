"""The colocation's public status pages of the rooms it watches (``siaga.peers.status`` holds the pure part).

- ``POST /api/v1/peer/status``: a watched room's page (signed by the room; refused and counted otherwise),
  kept in memory and in the store (``meta`` ``peers.status.<room>``), so a restart forgets nothing.
- ``GET /status/{room}``, ``GET /status/{room}/services``: the room's page, the same as the room's own
  ``/status``, with what the colocation knows of the room above it: silent since when, stopped on purpose,
  never heard, or a stale page (then the states below are the last the room told, never "all operational").
- ``GET /api/v1/status/sites/{room}``, ``.../services``: the same as JSON (``/api/v1/status``'s keys, plus
  ``site`` and ``room``: the colocation's view, with its notice in the reader's language).
- While the room is not live, the services the colocation probes itself (``peers.sites[].probes``) show
  its own verdict now (``room.outside`` in the JSON), the others what the room last told.
- A room's ``status_host`` (its public status host name, DNS pointed at the colocation): a request for that
  host's ``/status``, ``/status/services``, ``/api/v1/status`` or ``/api/v1/status/services`` is answered with
  the room's page (:class:`StatusHosts`, an ASGI middleware).

Language: ``?lang=id|en`` (default: the room's); times in the room's zone (WITA).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import zlib
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from siaga.checks.confirm import Status, worst
from siaga.checks.engine import site_zone
from siaga.checks.status.router import PER_PAGE, PUBLIC, local_time, render_status, service_json, snapshot_json
from siaga.checks.status.snapshot import Snapshot, services_page
from siaga.config.peers import Peer, PeerRole
from siaga.i18n import normalize_language, translator
from siaga.i18n.messages import Message
from siaga.peers.inbound import RoomRequests
from siaga.peers.status import DocumentError, Verdict, overlay, snapshot_of, verdict
from siaga.peers.status_feed import STATUS_PATH
from siaga.runtime.context import RuntimeContext
from siaga.store.events import get_meta, set_meta
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES, ApiError

log = logging.getLogger("siaga.peers")
META_PREFIX = "peers.status."
"""The newest page of each room, kept in the store's ``meta`` table under ``peers.status.<room>``."""
MAX_BODY = 256 * 1024 * 1024
"""The largest status page taken, unpacked (about 80 000 services with their 90 days)."""


def unpacked(body: bytes, encoding: str | None) -> bytes | None:
    """The request's body, gunzipped when it says so; None when it is larger than :data:`MAX_BODY` (raises
    ``zlib.error`` for a body that is not gzip)."""
    if (encoding or "").strip().lower() != "gzip":
        return body if len(body) <= MAX_BODY else None
    d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = d.decompress(body, MAX_BODY + 1)
    return None if len(out) > MAX_BODY or d.unconsumed_tail else out


class RoomPages:
    """The newest page of each watched room: (document's snapshot, made at, received at); thread-safe."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[Snapshot, dt.datetime]] = {}
        self.loaded: set[str] = set()
        self._lock = threading.Lock()

    def keep(self, site: str, snap: Snapshot, received_at: dt.datetime) -> None:
        with self._lock:
            self.pages[site] = (snap, received_at)
            self.loaded.add(site)

    def get(self, site: str) -> tuple[Snapshot, dt.datetime] | None:
        with self._lock:
            return self.pages.get(site)

    def restore(self, site: str, raw: str | None) -> None:
        """Take back the page kept in the store (once per room, after a restart)."""
        with self._lock:
            if site in self.loaded:
                return
            self.loaded.add(site)
        if not raw:
            return
        try:
            kept = json.loads(raw)
            snap = snapshot_of(kept["doc"])
            received = dt.datetime.fromisoformat(kept["received_at"])
        except (DocumentError, ValueError, KeyError, TypeError) as exc:
            log.warning("a room's kept status page cannot be read", extra={"peer": site, "error": str(exc)})
            return
        with self._lock:
            self.pages.setdefault(site, (snap, received))


def notice(v: Verdict, name: str, lang: str, zone: Any, outside: Sequence[str] = ()) -> str | None:
    """What the page says of the room above its services, in ``lang`` (None: the room is live); ``outside``:
    the names of the services whose state the colocation sees now from outside."""
    if v.live:
        return None
    t = translator(lang)
    local = local_time(zone)
    since = local(v.since)
    if v.state == "silent":
        head = t.gettext("siaga at {name} has been silent since {time}: the room may be without power, "
                         "network or its server.").format(name=name, time=since)
    elif v.state == "stopped":
        head = t.gettext("siaga at {name} was stopped on purpose at {time} (maintenance).").format(
            name=name, time=since)
    elif v.state == "not_heard":
        head = (t.gettext("siaga at {name} has not been heard since {time}.").format(name=name, time=since)
                if v.since else t.gettext("siaga at {name} has not been heard yet.").format(name=name))
    elif v.state == "stale":
        head = t.gettext("The status page of {name} has not been updated since {time}.").format(
            name=name, time=since)
    else:
        head = t.gettext("{name} has not sent its status page yet.").format(name=name)
    if v.as_of is None:
        return head + " " + t.gettext("Nothing is known of its services here yet.")
    text = head + " " + t.gettext("The states below are the last the room told, at {time}; they may no longer "
                                  "be true.").format(time=local(v.as_of))
    if outside:
        text += " " + t.gettext("Checked from outside just now: {services}.").format(services=", ".join(outside))
    return text


def outside_states(probes: Any, site: str) -> dict[str, Status]:
    """Per service of ``site``, the colocation's own verdict now (worst of its probes of it), from
    :class:`siaga.peers.probes.ProbeDesk`."""
    room = getattr(probes, "rooms", {}).get(site)
    if room is None:
        return {}
    per: dict[str, list[Status]] = {}
    for cid, st in room.verdicts().items():
        per.setdefault(room.service_of[cid], []).append(st)
    return {service: worst(sts) for service, sts in per.items()}


def outside_names(snap: Snapshot | None, outside: Mapping[str, Status]) -> list[str]:
    if snap is None:
        return []
    return [snap.by_id[s].name for s in sorted(outside) if s in snap.by_id and outside[s] is not Status.unknown]


def _empty(zone: ZoneInfo, now: dt.datetime) -> Snapshot:
    counts = {"up": 0, "down": 0, "unknown": 0, "maintenance": 0}
    return Snapshot(built_at=now, zone=zone, days=(), status=Status.unknown, counts=counts, groups=(), by_id={},
                    down=(), incidents=(), maintenance=())


def router(ctx: RuntimeContext) -> APIRouter | None:
    peers = ctx.config.peers
    rooms = {p.id: p for p in peers.by_role(PeerRole.watches)}
    if not rooms:
        return None
    inbound = RoomRequests(ctx, STATUS_PATH, "status page")
    pages = RoomPages()
    own_zone = site_zone(ctx.config)
    r = APIRouter()

    @r.post(STATUS_PATH, include_in_schema=False)
    async def receive(request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, Any]:
        site, body = await inbound.verified(request, ctx)
        try:
            raw = unpacked(body, request.headers.get("Content-Encoding"))
            if raw is None:
                raise ApiError(413, "too_large", f"a status page of more than {MAX_BODY // 2**20} MiB")
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise DocumentError("not an object")
            snap = snapshot_of(doc)
        except (ValueError, DocumentError, OSError, zlib.error) as exc:
            raise ApiError(400, "bad_status_page", f"not a status page: {exc}") from None
        now = ctx.clock()
        kept = json.dumps({"received_at": now.isoformat(), "doc": doc}, separators=(",", ":"))
        await ctx.run_db(lambda conn: set_meta(conn, META_PREFIX + site, kept, at=now))
        pages.keep(site, snap, now)
        return {"ok": True, "site": site, "built_at": snap.built_at.isoformat()}

    async def view(site: str) -> tuple[Peer, Snapshot | None, Verdict, dict[str, Status]]:
        peer = rooms.get(site)
        if peer is None:
            raise ApiError(404, "not_found", f"no room {site!r} is watched here",
                           why=Message("web.not_watched", {"site": site}))
        if site not in pages.loaded:
            raw = await ctx.run_db(lambda conn: get_meta(conn, META_PREFIX + site))
            pages.restore(site, raw)
        held = pages.get(site)
        now = ctx.clock()
        hub = ctx.services.peers
        row = next((x for x in hub.status(now) if x["peer"] == site), None) if hub is not None else None
        v = verdict(row, held[0].built_at if held else None, held[1] if held else None, now,
                    peer.silence_window.total_seconds())
        snap = held[0] if held else None
        outside: dict[str, Status] = {}
        if snap is not None and not v.live and hub is not None and hub.probes is not None:
            outside = outside_states(hub.probes, site)
            snap = overlay(snap, outside)  # what the colocation sees now from outside
        return peer, snap, v, outside

    def lang_of(request: Request, snap: Snapshot | None) -> str:
        try:
            return normalize_language(request.query_params.get("lang") or ctx.config.site.language.value)
        except Exception:
            return "id"

    def name_of(peer: Peer) -> str:
        return peer.name or peer.id

    def page(site: str, peer: Peer, snap: Snapshot | None, v: Verdict, outside: dict[str, Status], lang: str,
             name: str, **extra: Any) -> str:
        shown = snap or _empty(own_zone, ctx.clock())
        said = notice(v, name_of(peer), lang, shown.zone, outside_names(snap, outside))
        room = SimpleNamespace(live=v.live, state=v.state, notice=said)
        return render_status(name, lang, shown, SimpleNamespace(name=name_of(peer)), base=f"/status/{site}",
                             room=room, **extra)

    headers = {"Cache-Control": "public, max-age=5"}
    rendered: dict[tuple[Any, ...], str] = {}

    @r.get("/status/{site}", response_class=HTMLResponse, include_in_schema=False)
    async def room_page(site: str, request: Request) -> HTMLResponse:
        peer, snap, v, outside = await view(site)
        lang = lang_of(request, snap)
        # the public comes all at once when the room is down: one render per page, language and verdict
        seen = tuple(sorted((k, st.value) for k, st in outside.items()))
        key = (site, lang, snap.built_at if snap else None, v, seen)
        html = rendered.get(key)
        if html is None:
            html = page(site, peer, snap, v, outside, lang, "status/page.html")
            if len(rendered) >= 64:
                rendered.clear()
            rendered[key] = html
        return HTMLResponse(html, headers=headers)

    @r.get("/status/{site}/services", response_class=HTMLResponse, include_in_schema=False)
    async def room_services(site: str, request: Request, group: str | None = None, q: str | None = None,
                            page_no: int = Query(1, ge=1, alias="page")) -> HTMLResponse:
        peer, snap, v, outside = await view(site)
        shown = snap or _empty(own_zone, ctx.clock())
        rows, count = services_page(shown, group=group, query=q, page=page_no, per_page=PER_PAGE)
        html = page(site, peer, snap, v, outside, lang_of(request, snap), "status/services.html", rows=rows,
                    pages=count,
                    page=min(page_no, count), group=group, q=q or "")
        return HTMLResponse(html, headers=headers)

    def room_json(site: str, peer: Peer, snap: Snapshot | None, v: Verdict, outside: dict[str, Status],
                  lang: str) -> dict[str, Any]:
        zone = snap.zone if snap else own_zone
        out = snapshot_json(snap or _empty(zone, ctx.clock()))
        if snap is None:
            out["built_at"] = None
        if not v.live:
            out["status"], out["summary"] = Status.unknown.value, v.summary
        out["site"] = {"id": site, "name": name_of(peer)}
        out["room"] = {"state": v.state, "since": v.since.isoformat() if v.since else None,
                       "as_of": v.as_of.isoformat() if v.as_of else None, "lang": lang,
                       "notice": notice(v, name_of(peer), lang, zone, outside_names(snap, outside)),
                       "outside": {k: st.value for k, st in sorted(outside.items())}}
        return out

    @r.get("/api/v1/status/sites/{site}", tags=["status"], openapi_extra=PUBLIC, responses=ERROR_RESPONSES)
    async def room_status_json(site: str, request: Request) -> dict[str, Any]:
        """A watched room's status page as the colocation holds it: ``/api/v1/status``'s keys (``status``
        ``unknown`` and ``summary`` ``room_silent``, ``room_stopped``, ``room_not_heard``, ``room_stale`` or
        ``room_no_page`` when the room is not live), ``site`` and ``room`` (state, since, as_of, notice)."""
        peer, snap, v, outside = await view(site)
        return room_json(site, peer, snap, v, outside, lang_of(request, snap))

    @r.get("/api/v1/status/sites/{site}/services", tags=["status"], openapi_extra=PUBLIC, responses=ERROR_RESPONSES)
    async def room_services_json(site: str, group: str | None = None, q: str | None = None,
                                 page_no: int = Query(1, ge=1, alias="page"),
                                 per_page: int = Query(PER_PAGE, ge=1, le=500)) -> dict[str, Any]:
        """A watched room's services with their last known state and 90 daily uptimes, a page at a time."""
        _peer, snap, v, _outside = await view(site)
        shown = snap or _empty(own_zone, ctx.clock())
        rows, count = services_page(shown, group=group, query=q, page=page_no, per_page=per_page)
        return {"page": min(page_no, count), "pages": count, "room": {"state": v.state},
                "services": [service_json(s) for s in rows]}

    return r


HOST_PATHS = {"/": "/status/{site}", "/status": "/status/{site}", "/status/services": "/status/{site}/services",
              "/api/v1/status": "/api/v1/status/sites/{site}",
              "/api/v1/status/services": "/api/v1/status/sites/{site}/services"}


class StatusHosts:
    """ASGI middleware: a request for a room's ``status_host`` is answered with that room's page."""

    def __init__(self, app: ASGIApp, hosts: Mapping[str, str]) -> None:
        self.app = app
        self.hosts = {h.lower(): site for h, site in hosts.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"host"), "")
            site = self.hosts.get(host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host.lower())
            target = HOST_PATHS.get(scope.get("path", "").rstrip("/") or "/") if site else None
            if site and target:
                path = target.format(site=site)
                scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def setup(app: Any, ctx: RuntimeContext) -> None:
    """Answer the rooms' status hosts (``peers.sites[].status_host``) with their pages."""
    hosts = {p.status_host: p.id for p in ctx.config.peers.by_role(PeerRole.watches) if p.status_host}
    if hosts:
        app.add_middleware(StatusHosts, hosts=hosts)


__all__ = ["HOST_PATHS", "META_PREFIX", "RoomPages", "StatusHosts", "notice", "router", "setup"]
