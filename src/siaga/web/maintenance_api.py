"""``/api/v1/maintenance``: planned work during which matching alerts are recorded but nobody is paged.

Windows of siaga.yaml (``maintenance:``) are listed read-only; windows made at run time live in the
notification part's records (``siaga.notify.records``). Writing needs the ``ack`` scope and lands in the
audit log. The routes exist only when the notification part is installed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from siaga.notify import records
from siaga.web.auth.accounts import audit
from siaga.web.auth.roles import Scope
from siaga.web.dashboard import Dashboard
from siaga.web.errors import ERROR_RESPONSES, ApiError
from siaga.web.security import Principal

SLUG = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


class MaintenanceIn(BaseModel):
    id: str = Field(pattern=SLUG, description="A short id of your choice.")
    title: str = Field(min_length=1, max_length=500, description="What is being done.")
    starts_at: dt.datetime = Field(description="Start, ISO 8601 with a zone.")
    ends_at: dt.datetime = Field(description="End, ISO 8601 with a zone; after the start.")
    services: list[str] = Field(default_factory=list, description="Service ids covered; empty: all.")
    places: list[str] = Field(default_factory=list, description="Room or rack ids covered; empty: all.")
    rules: list[str] = Field(default_factory=list, description="Rule patterns covered (e.g. door*); empty: all.")


class MaintenanceOut(BaseModel):
    id: str
    title: str
    starts_at: dt.datetime | None
    ends_at: dt.datetime | None
    services: list[str] = Field(default_factory=list)
    places: list[str] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list)
    created_by: str | None = None
    source: str = Field(description="config (siaga.yaml, read-only) or runtime.")


def _from_config(window: Any, zone: ZoneInfo) -> MaintenanceOut:
    """A window of siaga.yaml (times without a zone are the site's local time)."""
    data = window.model_dump(mode="python") if hasattr(window, "model_dump") else dict(window)

    def first(*names: str) -> Any:
        return next((data[n] for n in names if data.get(n) is not None), None)

    def when(value: Any) -> dt.datetime | None:
        if not isinstance(value, dt.datetime):
            return None
        return (value.replace(tzinfo=zone) if value.tzinfo is None else value).astimezone(dt.UTC)

    return MaintenanceOut(
        id=str(first("id") or ""), title=str(first("title", "reason", "description") or ""),
        starts_at=when(first("starts_at", "start", "starts")), ends_at=when(first("ends_at", "end", "ends")),
        services=list(first("services") or []), places=list(first("places", "rooms", "racks") or []),
        rules=list(first("rules") or []), source="config",
    )


def router(dash: Dashboard) -> APIRouter | None:
    r = APIRouter(prefix="/api/v1/maintenance", tags=["maintenance"], responses=ERROR_RESPONSES)
    read = Depends(dash.need(Scope.read))
    ack = Depends(dash.need(Scope.ack))

    def kick() -> None:
        notifier = dash.services.notify
        if notifier is not None:
            notifier.kick.set()

    @r.get("", response_model=list[MaintenanceOut])
    def list_windows(me: Principal = read) -> list[MaintenanceOut]:
        """Maintenance windows: those of siaga.yaml and those made at run time."""
        out = [_from_config(w, dash.zone) for w in getattr(dash.cfg, "maintenance", [])]
        with dash.engine.connect() as conn:
            for row in records.list_maintenance(conn):
                out.append(MaintenanceOut(**{k: row.get(k) for k in MaintenanceOut.model_fields if k in row},
                                          source="runtime"))
        return out

    @r.post("", response_model=MaintenanceOut, status_code=201)
    async def add_window(body: MaintenanceIn, me: Principal = ack) -> MaintenanceOut:
        """Open a maintenance window (ack scope): matching alerts are recorded, nobody is paged."""
        for name, value in (("starts_at", body.starts_at), ("ends_at", body.ends_at)):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ApiError(422, "validation_failed", f"{name}: give a zone (2026-07-16T22:00:00+08:00)")
        if body.ends_at <= body.starts_at:
            raise ApiError(422, "validation_failed", "ends_at: the end must come after the start")
        now = dash.now()

        def write() -> None:
            with dash.engine.begin() as conn:
                records.add_maintenance(
                    conn, id=body.id, title=body.title, starts_at=body.starts_at.astimezone(dt.UTC),
                    ends_at=body.ends_at.astimezone(dt.UTC), services=body.services, places=body.places,
                    rules=body.rules, created_by=me.name, now=now)
                audit(conn, "maintenance.added", actor=me.name, subject=f"maintenance:{body.id}", now=now,
                      title=body.title)

        try:
            await asyncio.to_thread(write)
        except records.RecordError as exc:
            raise ApiError(409, "conflict", str(exc)) from None
        kick()
        return MaintenanceOut(**body.model_dump(), created_by=me.name, source="runtime")

    @r.delete("/{window_id}", response_model=MaintenanceOut)
    async def end_window(window_id: str, me: Principal = ack) -> MaintenanceOut:
        """End a window made at run time (ack scope); windows of siaga.yaml are ended in the file."""
        now = dash.now()

        def delete() -> dict[str, Any] | None:
            with dash.engine.begin() as conn:
                found = next((w for w in records.list_maintenance(conn) if w.get("id") == window_id), None)
                records.end_maintenance(conn, window_id)
                audit(conn, "maintenance.ended", actor=me.name, subject=f"maintenance:{window_id}", now=now)
                return found

        try:
            row = await asyncio.to_thread(delete)
        except records.RecordError as exc:
            raise ApiError(404, "not_found", str(exc)) from None
        kick()
        data = {k: (row or {}).get(k) for k in MaintenanceOut.model_fields if k in (row or {})}
        data.setdefault("id", window_id)
        data.setdefault("title", "")
        data.setdefault("starts_at", None)
        data.setdefault("ends_at", None)
        return MaintenanceOut(**{**data, "source": "runtime"})

    return r
