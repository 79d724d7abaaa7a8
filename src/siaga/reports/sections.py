"""The monthly report's sections contributed by the checks, the backups, the standbys and the runbooks' recovery
drills (registered in SECTIONS)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from siaga.config.models import SiteConfig
from siaga.reports.monthly import SECTIONS, Month


@dataclass(frozen=True)
class ServiceUptime:
    id: str
    name: str
    criticality: str
    uptime: float | None  # 0..1 over observed time
    down_s: float
    unknown_s: float
    maintenance_s: float
    target: float  # percent
    verdict: str  # met, missed, undetermined


def services_section(conn: Connection, cfg: SiteConfig, month: Month) -> list[ServiceUptime] | None:
    """Uptime over time of every checked service in the month, against its SLA."""
    if not cfg.checks:
        return None
    from siaga.checks import records
    from siaga.checks.engine import checks_by_service, maintenance_by_service
    from siaga.checks.uptime import sla_target

    checks_of = checks_by_service([c for c in cfg.checks if c.enabled])
    now = dt.datetime.now(dt.UTC)
    tallies = records.service_tallies(
        conn, month.start, month.end, now, checks_of=checks_of, maintenance=maintenance_by_service(cfg),
        services=[s.id for s in cfg.services if s.id in checks_of],
    )
    out = []
    for svc in cfg.services:
        if svc.id not in tallies:
            continue
        t = tallies[svc.id]
        target = sla_target(svc)
        out.append(ServiceUptime(svc.id, svc.name, svc.criticality.value, t.uptime, t.down_s, t.unknown_s,
                                 t.maintenance_s, target, t.sla(target / 100).value))
    return out


def backups_section(conn: Connection, cfg: SiteConfig, month: Month) -> list[dict[str, Any]] | None:
    """Each backup job's last run, newest snapshot age and last restore drill (as of the report)."""
    if not cfg.backups:
        return None
    from siaga.backup.status import job_figures

    return [f.as_dict() | {"raw": f} for f in job_figures(cfg, conn.engine, dt.datetime.now(dt.UTC))]


def standbys_section(conn: Connection, cfg: SiteConfig, month: Month) -> list[dict[str, Any]] | None:
    """Each warm standby: the age of the data it serves and its last recovery drill (time to answer)."""
    if not cfg.standbys:
        return None
    from siaga.standby.actions import last_run

    now = dt.datetime.now(dt.UTC)
    out = []
    for sb in cfg.standbys:
        good = last_run(conn.engine, sb.service, ok=True)
        drilled = last_run(conn.engine, sb.service, kind="drill")
        out.append({
            "service": sb.service,
            "data_age_s": (now - good["data_at"]).total_seconds() if good and good["data_at"] else None,
            "drill_at": drilled["started_at"] if drilled else None,
            "drill_ok": drilled["ok"] if drilled else None,
            "drill_s": drilled["took_s"] if drilled else None,
        })
    return out


def runbook_drills_section(conn: Connection, cfg: SiteConfig, month: Month) -> list[dict[str, Any]] | None:
    """Each runbook with a standby or dns step (a failover): its latest recovery drill (siaga runbook drill)
    and the time from the trigger to the service answering from the standby (its RTO)."""
    from siaga.runbooks.drill import last_drills

    books = [b.id for b in cfg.runbooks.books if any(s.kind in ("standby", "dns") for s in b.steps)]
    if not books:
        return None
    latest = last_drills(conn, books)
    return [{"runbook": b, "drill_at": latest[b]["at"] if b in latest else None,
             "drill_ok": latest[b].get("ok") if b in latest else None,
             "rto_s": latest[b].get("rto_s") if b in latest else None,
             "skipped": latest[b].get("skipped") if b in latest else None} for b in books]


SECTIONS.setdefault("services", services_section)
SECTIONS.setdefault("backups", backups_section)
SECTIONS.setdefault("standbys", standbys_section)
SECTIONS.setdefault("runbook_drills", runbook_drills_section)
