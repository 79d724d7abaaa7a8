"""``/metrics`` in the Prometheus text format, read from the other parts' counters and tables.

Each family comes from one small collector function; a part that is not installed (or whose table is
not migrated) simply adds nothing. Families: readings accepted and rejected by reason, alerts by state
and severity, check outcomes, backup ages, notification latencies, and the dashboard's own figures.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError

from siaga.web import queries
from siaga.web.auth.roles import Scope

if TYPE_CHECKING:
    from siaga.web.dashboard import Dashboard

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

MetricsFn = Callable[[Connection, dt.datetime], Iterable[Metric]]


def readings_metrics(conn: Connection, now: dt.datetime) -> Iterable[Metric]:
    t = queries.table("siaga.readings.tables", "ingest_counters")
    if t is None:
        return []
    accepted = CounterMetricFamily("siaga_readings_accepted", "Readings accepted since the store was created.")
    rejected = CounterMetricFamily("siaga_readings_rejected", "Readings refused, by reason.", labels=["reason"])
    for reason, count in conn.execute(select(t.c.reason, t.c.count)):
        if reason == "accepted":
            accepted.add_metric([], float(count))
        else:
            rejected.add_metric([str(reason)], float(count))
    return [accepted, rejected]


def sensor_metrics(conn: Connection, now: dt.datetime) -> Iterable[Metric]:
    latest = queries.latest_readings(conn)
    if not latest:
        return []
    value = GaugeMetricFamily("siaga_sensor_value", "Latest reading of each sensor.", labels=["sensor"])
    age = GaugeMetricFamily("siaga_sensor_age_seconds", "Seconds since each sensor's latest reading.",
                            labels=["sensor"])
    for sensor, last in sorted(latest.items()):
        value.add_metric([sensor], last.value)
        age.add_metric([sensor], max(0.0, (now - last.at).total_seconds()))
    return [value, age]


def alert_metrics(conn: Connection, now: dt.datetime) -> Iterable[Metric]:
    rows = queries.alerts_by_state_severity(conn)
    if rows is None:
        return []
    g = GaugeMetricFamily("siaga_alerts", "Alerts by state and severity.", labels=["state", "severity"])
    for state, severity, count in rows:
        g.add_metric([state, severity], float(count))
    return [g]


def check_metrics(conn: Connection, now: dt.datetime) -> Iterable[Metric]:
    t = queries.table("siaga.checks.tables", "check_states")
    if t is None:
        return []
    g = GaugeMetricFamily("siaga_checks", "Checks by their confirmed state.", labels=["status"])
    for status, count in conn.execute(select(t.c.status, func.count()).group_by(t.c.status)):
        g.add_metric([str(status)], float(count))
    changes = queries.table("siaga.checks.tables", "check_changes")
    out: list[Metric] = [g]
    if changes is not None:
        c = CounterMetricFamily("siaga_check_changes", "Confirmed state changes of checks, by the new state.",
                                labels=["status"])
        for status, count in conn.execute(select(changes.c.status, func.count()).group_by(changes.c.status)):
            c.add_metric([str(status)], float(count))
        out.append(c)
    return out


def backup_metrics_for(dash: Dashboard) -> Iterable[Metric]:
    """Backup ages from the backup part's figures (``siaga.backup.status.job_figures``)."""
    if not getattr(dash.cfg, "backups", None):
        return []
    try:
        from siaga.backup.status import job_figures
    except ImportError:
        return []
    figures = job_figures(dash.cfg, dash.engine, dash.now())
    age = GaugeMetricFamily("siaga_backup_snapshot_age_seconds", "Age of each job's newest good snapshot.",
                            labels=["job", "target"])
    last = GaugeMetricFamily("siaga_backup_last_success_timestamp_seconds", "Time of each job's last good backup.",
                             labels=["job", "target"])
    rto = GaugeMetricFamily("siaga_backup_drill_rto_seconds", "Time to restore measured by the last drill.",
                            labels=["job", "target"])
    for f in figures:
        if f.snapshot_age_s is not None:
            age.add_metric([f.job, f.target], f.snapshot_age_s)
        if f.last_success_at is not None:
            last.add_metric([f.job, f.target], f.last_success_at.timestamp())
        if f.drill_rto_s is not None:
            rto.add_metric([f.job, f.target], float(f.drill_rto_s))
    return [age, last, rto]


LATENCY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)


def notification_metrics(conn: Connection, now: dt.datetime) -> Iterable[Metric]:
    t = queries.table("siaga.notify.tables", "notify_attempts")
    if t is None:
        return []
    h = HistogramMetricFamily("siaga_notification_latency_seconds",
                              "How long each delivery attempt took, by channel (successful attempts).",
                              labels=["channel"])
    c = CounterMetricFamily("siaga_notification_attempts", "Delivery attempts, by channel and outcome.",
                            labels=["channel", "outcome"])
    by_channel: dict[str, list[float]] = {}
    counts: dict[tuple[str, str], int] = {}
    for channel, outcome, latency_ms in conn.execute(select(t.c.channel, t.c.outcome, t.c.latency_ms)):
        counts[(str(channel), str(outcome))] = counts.get((str(channel), str(outcome)), 0) + 1
        if outcome == "ok" and latency_ms is not None:
            by_channel.setdefault(str(channel), []).append(float(latency_ms) / 1000)
    for ch, values in sorted(by_channel.items()):
        buckets = [(str(b), float(sum(1 for v in values if v <= b))) for b in LATENCY_BUCKETS]
        buckets.append(("+Inf", float(len(values))))
        h.add_metric([ch], buckets, sum_value=sum(values))
    for (ch, outcome), n in sorted(counts.items()):
        c.add_metric([ch, outcome], float(n))
    return [h, c]


COLLECTORS: tuple[MetricsFn, ...] = (
    readings_metrics, sensor_metrics, alert_metrics, check_metrics, notification_metrics,
)


class StoreCollector(Collector):
    """Runs every collector function on one connection at scrape time."""

    def __init__(self, dash: Dashboard) -> None:
        self.dash = dash

    def collect(self) -> Iterator[Metric]:
        now = self.dash.now()
        with self.dash.engine.connect() as conn:
            for fn in COLLECTORS:
                try:
                    yield from fn(conn, now)
                except DBAPIError:  # a table not migrated yet: that family is absent
                    conn.rollback()
        with contextlib.suppress(DBAPIError):
            yield from backup_metrics_for(self.dash)
        live = GaugeMetricFamily("siaga_web_live_subscribers", "Pages listening for live updates.")
        live.add_metric([], float(self.dash.broker.subscribers))
        yield live


def render(dash: Dashboard) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(dash))
    return bytes(generate_latest(registry))


def router(dash: Dashboard) -> APIRouter:
    r = APIRouter(include_in_schema=False)
    read = Depends(dash.need(Scope.read))

    @r.get("/metrics")
    def metrics(request: Request, me: object = read) -> Response:
        """Prometheus scrape endpoint (a token with the read scope, as Grafana set-ups configure)."""
        return Response(render(dash), media_type=CONTENT_TYPE)

    return r
