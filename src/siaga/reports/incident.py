"""The incident report: what happened, what was at stake, who was told when, who acted.

``build_incident_report`` is pure (the incident, its alerts and their timeline in, figures out);
``load_incident_report`` reads them from the store. The report is what oversight reads afterwards,
so it answers their questions first: when was it detected, how long until someone took
responsibility, how long until it was over, what was at risk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Engine

from siaga.alerts.model import Alert, Severity
from siaga.alerts.store import AlertEvent, Incident, events_of, get_incident, list_alerts
from siaga.config.models import Criticality, SiteConfig
from siaga.errors import SiagaError
from siaga.inventory import Inventory
from siaga.peers.rollups import Minute, local_minutes, remote_minutes


class ReportError(SiagaError):
    """The report cannot be made (one line saying why)."""


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    alert_id: int
    subject: str
    rule: str
    event: str
    severity: Severity
    by: str | None
    via: str | None
    note: str | None
    value: float | None


@dataclass(frozen=True)
class ServiceAtStake:
    id: str
    name: str
    criticality: str


@dataclass(frozen=True)
class IncidentReport:
    incident: Incident
    alerts: tuple[Alert, ...]
    timeline: tuple[TimelineEntry, ...]
    generated_at: dt.datetime
    detected_at: dt.datetime
    first_ack_at: dt.datetime | None
    first_ack_by: str | None
    ended_at: dt.datetime | None
    worst_severity: Severity | None
    devices: tuple[str, ...]
    services: tuple[ServiceAtStake, ...]
    value_at_risk: int
    notifications_sent: int
    notifications_failed: int
    notifications_demo: int = 0  # siaga demo: logged, recorded, never sent
    readings: tuple[SensorReadings, ...] = ()  # the alerts' sensors over the incident, minute by minute

    @property
    def time_to_acknowledge(self) -> dt.timedelta | None:
        return self.first_ack_at - self.detected_at if self.first_ack_at else None

    @property
    def duration(self) -> dt.timedelta:
        return (self.ended_at or self.generated_at) - self.detected_at


READINGS_BEFORE = dt.timedelta(minutes=5)  # the readings shown start this long before detection
MINUTES_SHOWN = 60  # at most this many minutes of each sensor are listed (the totals cover them all)


@dataclass(frozen=True)
class SensorReadings:
    """One sensor's readings over the incident, from the minute rollups: the totals and the first minutes."""

    sensor: str
    first: dt.datetime
    last: dt.datetime
    min: float
    avg: float | None
    max: float
    count: int
    minutes: tuple[Minute, ...]  # at most MINUTES_SHOWN, oldest first


def sensor_readings(minutes: Sequence[Minute]) -> tuple[SensorReadings, ...]:
    """Each sensor's totals and first minutes (pure)."""
    by: dict[str, list[Minute]] = {}
    for m in sorted(minutes, key=lambda m: (m.sensor, m.at)):
        by.setdefault(m.sensor, []).append(m)
    out = []
    for sensor, ms in by.items():
        count = sum(m.count for m in ms)
        weighted = [(m.avg, m.count) for m in ms if m.avg is not None]
        total = sum(a * c for a, c in weighted)
        n = sum(c for _a, c in weighted)
        out.append(SensorReadings(sensor, ms[0].at, ms[-1].at, min(m.min for m in ms),
                                  total / n if n else None, max(m.max for m in ms), count, tuple(ms[:MINUTES_SHOWN])))
    return tuple(out)


def readings_window(report: IncidentReport) -> tuple[dt.datetime, dt.datetime, list[str]]:
    """The time range and the sensors whose readings the report shows."""
    sensors = sorted({a.subject for a in report.alerts if a.subject_kind.value == "sensor"})
    end = (report.ended_at or report.generated_at) + dt.timedelta(minutes=1)
    return report.detected_at - READINGS_BEFORE, end, sensors


NOTIFY_SENT_EVENTS = frozenset({"notified", "notification_sent", "delivered"})
NOTIFY_FAILED_EVENTS = frozenset({"notify_failed", "notification_failed", "delivery_failed"})
NOTIFY_DEMO_EVENTS = frozenset({"notify_demo"})


def build_incident_report(
    incident: Incident,
    alerts: Sequence[Alert],
    events: Sequence[AlertEvent],
    now: dt.datetime,
    cfg: SiteConfig | None = None,
) -> IncidentReport:
    """The figures of one incident, from its alerts and their events (pure)."""
    by_id = {a.id: a for a in alerts}
    timeline = tuple(
        TimelineEntry(e.at, e.alert_id, by_id[e.alert_id].subject if e.alert_id in by_id else "?",
                      by_id[e.alert_id].rule if e.alert_id in by_id else "?", e.event, e.severity, e.by, e.via,
                      e.note, e.value)
        for e in sorted(events, key=lambda e: (e.at, e.id))
    )
    detected = min([a.started_at for a in alerts] + [incident.opened_at])
    acks = [(a.acknowledged_at, a.acknowledged_by) for a in alerts if a.acknowledged_at is not None]
    acks += [(e.at, e.by) for e in events if e.event in ("acknowledged", "ack")]
    first_ack = min(acks, key=lambda x: x[0]) if acks else None
    open_alerts = [a for a in alerts if a.resolved_at is None]
    ended = incident.closed_at
    if ended is None and alerts and not open_alerts:
        ended = max(a.resolved_at for a in alerts if a.resolved_at is not None)
    worst = max((a.severity for a in alerts), key=lambda s: s.rank, default=None)

    devices = sorted({d for a in alerts for d in a.impact.devices})
    service_ids = sorted({s for a in alerts for s in a.impact.services})
    if cfg is not None:
        inv = Inventory.from_config(cfg)
        value = sum(inv.devices[d].value for d in devices if d in inv.devices)
        services = tuple(
            ServiceAtStake(s, inv.services[s].name, inv.services[s].criticality.value)
            for s in service_ids if s in inv.services
        )
    else:
        value = max((a.impact.value_at_risk for a in alerts), default=0)
        services = tuple(ServiceAtStake(s, s, "") for s in service_ids)
    services = tuple(sorted(services, key=lambda s: (-_rank(s.criticality), s.id)))
    return IncidentReport(
        incident=incident,
        alerts=tuple(sorted(alerts, key=lambda a: (a.started_at, a.id))),
        timeline=timeline,
        generated_at=now,
        detected_at=detected,
        first_ack_at=first_ack[0] if first_ack else None,
        first_ack_by=first_ack[1] if first_ack else None,
        ended_at=ended,
        worst_severity=worst,
        devices=tuple(devices),
        services=services,
        value_at_risk=value,
        notifications_sent=sum(1 for e in events if e.event in NOTIFY_SENT_EVENTS),
        notifications_failed=sum(1 for e in events if e.event in NOTIFY_FAILED_EVENTS),
        notifications_demo=sum(1 for e in events if e.event in NOTIFY_DEMO_EVENTS),
    )


def _rank(criticality: str) -> int:
    try:
        return Criticality(criticality).rank
    except ValueError:
        return -1


def load_incident_report(engine: Engine, incident_id: int, now: dt.datetime, cfg: SiteConfig | None = None
                         ) -> IncidentReport:
    """Read incident ``incident_id`` with its alerts and timeline from the store."""
    with engine.connect() as conn:
        incident = get_incident(conn, incident_id)
        if incident is None:
            raise ReportError(f"no incident #{incident_id}")
        alerts = list_alerts(conn, incident_id=incident_id, limit=None)
        events = events_of(conn, [a.id for a in alerts])
        report = build_incident_report(incident, alerts, events, now, cfg)
        start, end, sensors = readings_window(report)
        try:
            minutes = local_minutes(conn, start, end, sensors) if sensors else []
        except Exception:  # readings not migrated in this store: the report without them
            minutes = []
    return replace(report, readings=sensor_readings(minutes))


def load_remote_incident_report(engine: Engine, site: str, incident_id: int, now: dt.datetime) -> IncidentReport:
    """Incident ``incident_id`` of the room ``site`` from the record it sent here (``siaga.peers.record``):
    the colocation's report of a room, even when the room is gone. The room's inventory is not known
    here: what was at stake is what its alerts carried."""
    from siaga.peers.record import remote_incident

    found = remote_incident(engine, site, incident_id)
    if found is None:
        raise ReportError(f"no incident #{incident_id} of site {site} in the record kept here")
    incident, alerts, events = found
    report = build_incident_report(incident, alerts, events, now, None)
    start, end, sensors = readings_window(report)
    if not sensors:
        return report
    with engine.connect() as conn:  # the minute rollups the room sent (siaga.peers.rollups)
        minutes = remote_minutes(conn, site, start, end, sensors)
    return replace(report, readings=sensor_readings(minutes))


def format_duration(delta: dt.timedelta | None, lang: str = "id") -> str:
    """``2 j 5 m`` / ``2 h 5 min``; seconds under a minute; ``-`` for none."""
    if delta is None:
        return "-"
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = ("hr", "j", "m", "d") if lang == "id" else ("d", "h", "min", "s")
    parts = []
    if days:
        parts.append(f"{days} {units[0]}")
    if hours:
        parts.append(f"{hours} {units[1]}")
    if minutes and not days:
        parts.append(f"{minutes} {units[2]}")
    if not parts:
        parts.append(f"{secs} {units[3]}")
    return " ".join(parts)
