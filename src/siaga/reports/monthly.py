"""The monthly report for leadership: incidents, the room's climate, services' uptime, backups.

A month is a calendar month in the site's zone. Each section is gathered by one function from the
store; a part of siaga that is not configured (no checks, no backups) leaves its section empty and
the report says so instead of inventing numbers. The arithmetic (summaries, excursions) is pure.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from siaga.alerts.model import Alert, Severity
from siaga.alerts.store import Incident, list_alerts, list_incidents
from siaga.config.models import SiteConfig
from siaga.i18n.messages import Message
from siaga.inventory import Inventory

# ASHRAE A1 at the rack inlet: recommended 18-27 °C; relative humidity above 70 % is a warning.
TEMPERATURE_RECOMMENDED = (18.0, 27.0)
HUMIDITY_HIGH = 70.0


@dataclass(frozen=True)
class Month:
    year: int
    month: int
    zone: str

    @classmethod
    def parse(cls, text: str, zone: str) -> Month:
        """``2025-07`` in ``zone``; ValueError with a clear message otherwise."""
        try:
            year, month = (int(p) for p in text.split("-"))
            dt.date(year, month, 1)
        except ValueError:
            raise ValueError(f"not a month: {text!r} (write YYYY-MM, e.g. 2025-07)") from None
        return cls(year, month, zone)

    @property
    def start(self) -> dt.datetime:
        return dt.datetime(self.year, self.month, 1, tzinfo=ZoneInfo(self.zone)).astimezone(dt.UTC)

    @property
    def end(self) -> dt.datetime:
        y, m = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        return dt.datetime(y, m, 1, tzinfo=ZoneInfo(self.zone)).astimezone(dt.UTC)

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class IncidentLine:
    id: int
    title: Message  # worded in the report's language by the template's |message filter
    opened_at: dt.datetime
    duration: dt.timedelta | None
    time_to_acknowledge: dt.timedelta | None
    acknowledged_by: str | None
    worst_severity: str | None
    value_at_risk: int
    alerts: int


@dataclass(frozen=True)
class ClimateLine:
    sensor: str
    kind: str
    place: str
    minimum: float | None
    average: float | None
    maximum: float | None
    hours_outside: int  # hours with a reading outside the recommended range
    coverage: float  # share of the month's hours with at least one reading


@dataclass(frozen=True)
class MonthlyReport:
    site: str
    month: Month
    generated_at: dt.datetime
    incidents: tuple[IncidentLine, ...]
    alerts_by_severity: dict[str, int]
    safety_alarms: int  # leak and smoke alerts
    median_time_to_acknowledge: dt.timedelta | None
    climate: tuple[ClimateLine, ...]
    sections: dict[str, Any] = field(default_factory=dict)  # filled by other parts (uptime, backups)


def summarise_incidents(
    incidents: Sequence[Incident], alerts: Sequence[Alert], cfg: SiteConfig | None, until: dt.datetime
) -> tuple[tuple[IncidentLine, ...], dict[str, int], int, dt.timedelta | None]:
    """Incident lines, alert counts by severity, safety alarms, median time to acknowledge (pure)."""
    inv = Inventory.from_config(cfg) if cfg is not None else None
    by_incident: dict[int, list[Alert]] = {}
    for a in alerts:
        if a.incident_id is not None:
            by_incident.setdefault(a.incident_id, []).append(a)
    lines = []
    ttas: list[dt.timedelta] = []
    for inc in sorted(incidents, key=lambda i: i.opened_at):
        group = by_incident.get(inc.id, [])
        acked = [a for a in group if a.acknowledged_at is not None]
        first = min(acked, key=lambda a: a.acknowledged_at or until) if acked else None
        detected = min([a.started_at for a in group] + [inc.opened_at])
        tta = (first.acknowledged_at - detected) if first and first.acknowledged_at else None
        if tta is not None:
            ttas.append(tta)
        devices = {d for a in group for d in a.impact.devices}
        if inv is not None:
            value = sum(inv.devices[d].value for d in devices if d in inv.devices)
        else:
            value = max((a.impact.value_at_risk for a in group), default=0)
        worst = max((a.severity for a in group), key=lambda s: s.rank, default=None)
        lines.append(
            IncidentLine(
                inc.id, inc.title, inc.opened_at,
                (inc.closed_at - detected) if inc.closed_at else None,
                tta, first.acknowledged_by if first else None,
                worst.value if worst else None, value, len(group),
            )
        )
    counts = {s.value: 0 for s in Severity}
    for a in alerts:
        counts[a.severity.value] = counts.get(a.severity.value, 0) + 1
    safety = sum(1 for a in alerts if a.rule.split(".")[0] in ("leak", "smoke"))
    median = (
        dt.timedelta(seconds=statistics.median(t.total_seconds() for t in ttas)) if ttas else None
    )
    return tuple(lines), counts, safety, median


def climate_line(
    sensor: str, kind: str, place: str, hourly: Sequence[tuple[float, float, float, int]], hours_in_month: int
) -> ClimateLine:
    """Min/avg/max and hours outside the recommended range from hourly (min, max, sum, count) rows (pure)."""
    if not hourly:
        return ClimateLine(sensor, kind, place, None, None, None, 0, 0.0)
    lo = min(r[0] for r in hourly)
    hi = max(r[1] for r in hourly)
    total = sum(r[2] for r in hourly)
    count = sum(r[3] for r in hourly)
    if kind == "temperature":
        outside = sum(1 for r in hourly if r[0] < TEMPERATURE_RECOMMENDED[0] or r[1] > TEMPERATURE_RECOMMENDED[1])
    else:
        outside = sum(1 for r in hourly if r[1] > HUMIDITY_HIGH)
    return ClimateLine(sensor, kind, place, round(lo, 1), round(total / count, 1) if count else None, round(hi, 1),
                       outside, round(len(hourly) / hours_in_month, 3) if hours_in_month else 0.0)


# Sections other parts contribute: name -> function(conn, cfg, month) -> data for the template, or None.
SectionSource = Callable[[Connection, SiteConfig, Month], Any]
SECTIONS: dict[str, SectionSource] = {}


def _gather_climate(conn: Connection, cfg: SiteConfig, month: Month) -> tuple[ClimateLine, ...]:
    from siaga.readings.query import query

    inv = Inventory.from_config(cfg)
    hours = int((month.end - month.start).total_seconds() // 3600)
    out = []
    for s in cfg.sensors:
        if s.kind not in ("temperature", "humidity"):
            continue
        place = inv.place_of_sensor(s.id)
        label = " ".join(p for p in (place.rack or place.room or "", s.zone or "") if p)
        series = query(conn, s.id, month.start, month.end, "1h")
        rows = [(p.min, p.max, p.avg * p.count, p.count) for p in series.points]
        out.append(climate_line(s.id, s.kind, label, rows, hours))
    return tuple(out)


def load_monthly_report(engine: Engine, cfg: SiteConfig, month: Month, now: dt.datetime) -> MonthlyReport:
    """Gather the month from the store."""
    with engine.connect() as conn:
        incidents = list_incidents(conn, opened=(month.start, month.end), limit=None)
        alerts = list_alerts(conn, started=(month.start, month.end), limit=None)
        climate = _gather_climate(conn, cfg, month)
        sections = {}
        for name, source in SECTIONS.items():
            sections[name] = source(conn, cfg, month)
    lines, counts, safety, median = summarise_incidents(incidents, alerts, cfg, min(now, month.end))
    return MonthlyReport(cfg.site.name, month, now, lines, counts, safety, median, climate, sections)
