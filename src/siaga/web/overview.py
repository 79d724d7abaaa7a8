"""The overview at a glance, the rack panel, and the sensor, service and backup lists the pages show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from siaga.kinds import SENSOR_KINDS
from siaga.web import queries
from siaga.web.errors import ApiError
from siaga.web.views.roommap import Latest, sensor_state

if TYPE_CHECKING:
    from siaga.web.dashboard import Dashboard


@dataclass
class Overview:
    worst: dict[str, Any] | None
    active: int
    critical: int
    sensors_total: int
    sensors_offline: list[dict[str, Any]]
    services_down: list[dict[str, Any]] | None  # None: no checks configured
    backups: list[dict[str, Any]] | None  # None: no backups configured
    value_total: int
    racks_alarm: list[str] = field(default_factory=list)


def sensor_rows(dash: Dashboard) -> list[dict[str, Any]]:
    with dash.engine.connect() as conn:
        latest = queries.latest_readings(conn)
    now = dash.now()
    rows = []
    for s in dash.cfg.sensors:
        kind = SENSOR_KINDS[s.kind]
        last = latest.get(s.id)
        rows.append({
            "id": s.id, "name": s.name or s.id, "kind": s.kind, "unit": kind.unit, "room": s.room, "rack": s.rack,
            "zone": s.zone, "value": last.value if last else None, "at": last.at if last else None,
            "state": sensor_state(s.kind, last, now, s.interval_s), "binary": kind.value_type == "binary",
        })
    return rows


def build(dash: Dashboard) -> Overview:
    with dash.engine.connect() as conn:
        active = queries.active_alerts(conn)
    sensors = sensor_rows(dash)
    offline = [s for s in sensors if s["state"] in ("stale", "unknown")]
    services = service_rows(dash)
    down = None if services is None else [s for s in services if s["state"] == "down"]
    return Overview(
        worst=active[0] if active else None,
        active=len(active),
        critical=sum(1 for a in active if a["severity"] == "critical"),
        sensors_total=len(sensors),
        sensors_offline=offline,
        services_down=down,
        backups=backup_rows(dash),
        value_total=sum(d.value for d in dash.cfg.devices),
    )


def rack_detail(dash: Dashboard, rack_id: str) -> dict[str, Any]:
    cfg = dash.cfg
    rack = next((r for r in cfg.racks if r.id == rack_id), None)
    if rack is None:
        raise ApiError(404, "not_found", f"rack {rack_id} not found")
    devices = sorted((d for d in cfg.devices if d.rack == rack_id), key=lambda d: -(d.u or 0))
    device_ids = {d.id for d in devices}
    direct = [s for s in cfg.services if set(s.runs_on) & device_ids]
    hit = {s.id for s in direct}
    changed = True
    while changed:
        changed = False
        for s in cfg.services:
            if s.id not in hit and set(s.depends_on) & hit:
                hit.add(s.id)
                changed = True
    services = [s for s in cfg.services if s.id in hit]
    sensors = [s for s in sensor_rows(dash) if s["rack"] == rack_id]
    return {
        "id": rack.id, "name": rack.name or rack.id, "room": rack.room, "height_u": rack.height_u,
        "devices": devices, "services": services, "direct": {s.id for s in direct}, "sensors": sensors,
        "value": sum(d.value for d in devices),
    }


def service_rows(dash: Dashboard) -> list[dict[str, Any]] | None:
    """Services with their check state, when the checks part keeps one; None when nothing is checked."""
    t = queries.table("siaga.checks.tables", "service_state") or queries.table("siaga.checks.tables", "check_state")
    if t is None:
        return None
    try:
        with dash.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(t))]
    except DBAPIError:
        return None
    by_service: dict[str, dict[str, Any]] = {}
    for row in rows:
        sid = row.get("service") or row.get("service_id") or row.get("check") or row.get("id")
        if sid is not None:
            by_service[str(sid)] = row
    out = []
    for s in dash.cfg.services:
        row = by_service.get(s.id, {})
        state = str(row.get("state") or row.get("status") or "unknown")
        out.append({"id": s.id, "name": s.name, "criticality": s.criticality.value, "state": state,
                    "since": row.get("since") or row.get("changed_at"), "url": s.url or s.host})
    return out


def backup_rows(dash: Dashboard) -> list[dict[str, Any]] | None:
    """Backup jobs with their last successful run, when the backup part keeps runs; None otherwise."""
    t = queries.table("siaga.backup.tables", "backup_runs")
    if t is None:
        return None
    cols = t.c
    job_col = cols.get("job")
    end_col = cols.get("finished_at")
    if job_col is None or end_col is None:
        return None
    q = select(job_col, func.max(end_col))
    if "ok" in cols:
        q = q.where(cols["ok"].is_(True))
    elif "status" in cols:
        q = q.where(cols["status"].in_(("ok", "success", "succeeded")))
    try:
        with dash.engine.connect() as conn:
            last = {str(j): when for j, when in conn.execute(q.group_by(job_col))}
    except DBAPIError:
        return None
    now = dash.now()
    out = []
    for job in dash.cfg.backups:
        jid = str(job.get("id", "")) if isinstance(job, dict) else str(getattr(job, "id", ""))
        when: dt.datetime | None = last.get(jid)
        out.append({"id": jid, "last_ok": when, "age_s": (now - when).total_seconds() if when else None})
    return out


def latest_of(dash: Dashboard, sensor: str) -> Latest | None:
    with dash.engine.connect() as conn:
        return queries.latest_readings(conn).get(sensor)
