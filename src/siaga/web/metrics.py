"""``/metrics`` in the Prometheus text format, read from the other parts' counters and tables.

Every family is declared once in :data:`FAMILIES` (name, type, help, labels): the collectors build from it
and docs/dashboard.md's table is generated from it (``python -m siaga.web.metrics``). Sensor readings have
one family per kind and unit (``siaga_temperature_celsius``, ``siaga_leak_detected``...), named in the kinds
table (``siaga.kinds``). Each family comes from one small collector function; a part that is not installed
(or whose table is not migrated) simply adds nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select
from sqlalchemy.exc import DBAPIError

from siaga.checks.tables import check_changes, check_states
from siaga.kinds import SENSOR_KINDS
from siaga.notify.tables import notify_attempts
from siaga.readings.tables import ingest_counters
from siaga.runtime.stalls import STALLS, Histogram
from siaga.web import queries
from siaga.web.auth.roles import Scope

if TYPE_CHECKING:
    from siaga.config.models import SiteConfig
    from siaga.web.dashboard import Dashboard

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SENSOR_LABELS = ("sensor", "room", "rack", "zone")


@dataclass(frozen=True)
class Family:
    """One metric family as /metrics serves it."""

    name: str
    type: str  # gauge, counter, histogram
    help: str
    labels: tuple[str, ...] = ()


def _sensor_families() -> tuple[Family, ...]:
    out = []
    for kind in SENSOR_KINDS.values():
        unit = f" ({kind.unit})" if kind.unit else ""
        out.append(Family(f"siaga_{kind.metric}", "gauge", f"Latest reading of each {kind.key} sensor{unit}: "
                          f"{kind.description}", SENSOR_LABELS))
    return tuple(out)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("siaga_readings_accepted", "counter", "Readings accepted since the store was created."),
        Family("siaga_readings_rejected", "counter", "Readings refused, by reason.", ("reason",)),
        Family("siaga_mqtt_unmapped_messages", "counter",
               "MQTT messages on topics under the subscribed filters that no sensor maps, by topic.", ("topic",)),
        *_sensor_families(),
        Family("siaga_sensor_age_seconds", "gauge", "Seconds since each sensor's latest reading.",
               ("sensor", "kind")),
        Family("siaga_alerts", "gauge", "Alerts by state and severity.", ("state", "severity")),
        Family("siaga_checks", "gauge", "Checks by their confirmed state.", ("status",)),
        Family("siaga_check_up", "gauge", "Each check's confirmed state: 1 up, 0 down (absent while unknown).",
               ("check", "service")),
        Family("siaga_check_changes", "counter", "Confirmed state changes of checks, by the new state.",
               ("status",)),
        Family("siaga_backup_snapshot_age_seconds", "gauge", "Age of each job's newest good snapshot.",
               ("job", "target")),
        Family("siaga_backup_last_success_timestamp_seconds", "gauge", "Time of each job's last good backup.",
               ("job", "target")),
        Family("siaga_backup_drill_rto_seconds", "gauge", "Time to restore measured by the last drill.",
               ("job", "target")),
        Family("siaga_notification_latency_seconds", "histogram",
               "How long each delivery attempt took, by channel (successful attempts).", ("channel",)),
        Family("siaga_notification_attempts", "counter",
               "Delivery attempts, by channel and outcome (ok, error, demo, possibly_sent: a sender died "
               "mid-send on a channel without an idempotency key, the page was sent again).",
               ("channel", "outcome")),
        Family("siaga_web_live_subscribers", "gauge", "Pages listening for live updates."),
        Family("siaga_checks_slot_moves", "counter",
               "Slots of the shared checks this process took up or gave up since it started (several processes)."),
        Family("siaga_checks_results_not_written", "counter",
               "Check results this process did not write because another process took their slot first (it runs "
               "them again): a lease that ran out while this one was slow."),
        Family("siaga_event_loop_lag_seconds", "histogram",
               "How late this process's event loop woke a task that slept 50 ms (a long callback holds every "
               "component), since it started."),
        Family("siaga_gc_pause_seconds", "histogram",
               "This process's garbage collections (no thread runs meanwhile), by generation, since it started.",
               ("generation",)),
        Family("siaga_peer_up", "gauge",
               "Each peer siaga: 1 heard within its silence window (or stopped on purpose), 0 silent.",
               ("peer", "role")),
        Family("siaga_peer_last_heartbeat_age_seconds", "gauge", "Seconds since each peer's last heartbeat.",
               ("peer",)),
        Family("siaga_peer_requests_refused", "counter",
               "Peer requests refused (forged, stale, replayed, unknown sender), by peer and reason.",
               ("peer", "reason")),
        Family("siaga_cluster_processes", "gauge", "siaga serve processes alive on this store (runtime sessions)."),
        Family("siaga_cluster_role_token", "gauge",
               "Each role's fencing token (it grows at every change of holder), labelled with its holder.",
               ("role", "holder")),
        Family("siaga_cluster_role_lease_expires_seconds", "gauge",
               "Seconds until each role's lease ends unless renewed (negative: nobody holds it).", ("role",)),
        Family("siaga_cluster_ingest", "counter",
               "Each live process's share of the sensors' work since it started, by kind: mqtt_messages (its share "
               "of the shared subscription), readings (accepted), handed_off (to another rule shard's holder), "
               "handed_in (from other processes, for the shards it holds), handoff_failed (readings it could not "
               "hand off: PostgreSQL failed; stored all the same).", ("session", "kind")),
        Family("siaga_cluster_rule_shard_session", "gauge",
               "The shard map: the session (process) holding each rule shard (-1: nobody).", ("shard",)),
        Family("siaga_cluster_shard_slots", "gauge",
               "The shard map: slots of each shared duty (checks) held by each process (session; none: moving).",
               ("duty", "session")),
        Family("siaga_peer_outbox_depth", "gauge",
               "Events of this site's record not yet acknowledged by each peer that watches it.", ("peer",)),
        Family("siaga_peer_outbox_lag_seconds", "gauge",
               "Age of the oldest event each watching peer has not acknowledged (0 when none waits).", ("peer",)),
        Family("siaga_peer_records", "gauge", "Events of each watched room's record applied here.", ("site",)),
        Family("siaga_peer_status_page_age_seconds", "gauge",
               "Seconds since each watched room last sent its public status page here (absent: never).", ("site",)),
        Family("siaga_peer_acks_applied", "counter",
               "Acknowledgements a peer made of this site's alerts, applied here, by peer and outcome "
               "(acknowledged, already, resolved, unknown).", ("peer", "outcome")),
        Family("siaga_peer_acks_refused", "counter",
               "Peer answers carrying acknowledgements refused (forged, replayed, stale, malformed), by peer, reason.",
               ("peer", "reason")),
        Family("siaga_peer_acks_confirmed", "counter",
               "Acknowledgements made here of a peer's alerts that the peer confirmed it applied.", ("peer",)),
    )
}


def gauge(name: str) -> GaugeMetricFamily:
    f = FAMILIES[name]
    return GaugeMetricFamily(f.name, f.help, labels=list(f.labels))


def counter(name: str) -> CounterMetricFamily:
    f = FAMILIES[name]
    return CounterMetricFamily(f.name, f.help, labels=list(f.labels))


def families_markdown() -> str:
    """The table of docs/dashboard.md, generated from :data:`FAMILIES`."""
    rows = ["| family | type | labels | what |", "| --- | --- | --- | --- |"]
    for f in FAMILIES.values():
        labels = ", ".join(f"`{label}`" for label in f.labels) or "—"
        rows.append(f"| `{f.name}` | {f.type} | {labels} | {f.help} |")
    return "\n".join(rows) + "\n"

MetricsFn = Callable[[Connection, dt.datetime, "SiteConfig"], Iterable[Metric]]


def readings_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    t = ingest_counters
    accepted = counter("siaga_readings_accepted")
    rejected = counter("siaga_readings_rejected")
    for reason, count in conn.execute(select(t.c.reason, t.c.count)):
        if reason == "accepted":
            accepted.add_metric([], float(count))
        else:
            rejected.add_metric([str(reason)], float(count))
    unmapped = counter("siaga_mqtt_unmapped_messages")
    for topic, count, _last in queries.unmapped_topics(conn, limit=1000) or []:
        unmapped.add_metric([topic], float(count))
    return [accepted, rejected, unmapped]


def sensor_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    """One family per sensor kind (its unit in the name), labelled with where the sensor hangs."""
    latest = queries.latest_readings(conn)
    if not latest:
        return []
    sensors = {s.id: s for s in cfg.sensors}
    by_kind: dict[str, GaugeMetricFamily] = {}
    age = gauge("siaga_sensor_age_seconds")
    for sensor_id, last in sorted(latest.items()):
        sensor = sensors.get(sensor_id)
        if sensor is None or sensor.kind not in SENSOR_KINDS:
            continue  # a sensor no longer in the config: its old reading is not news
        kind = SENSOR_KINDS[sensor.kind]
        family = by_kind.get(kind.key)
        if family is None:
            family = by_kind[kind.key] = gauge(f"siaga_{kind.metric}")
        family.add_metric([sensor_id, sensor.room or "", sensor.rack or "", sensor.zone or ""], last.value)
        age.add_metric([sensor_id, kind.key], max(0.0, (now - last.at).total_seconds()))
    return [*by_kind.values(), age]


def alert_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    rows = queries.alerts_by_state_severity(conn)
    if rows is None:
        return []
    g = gauge("siaga_alerts")
    for state, severity, count in rows:
        g.add_metric([state, severity], float(count))
    return [g]


def check_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    t = check_states
    g = gauge("siaga_checks")
    for status, count in conn.execute(select(t.c.status, func.count()).group_by(t.c.status)):
        g.add_metric([str(status)], float(count))
    up = gauge("siaga_check_up")
    for check_id, service, status in conn.execute(select(t.c.check_id, t.c.service, t.c.status)):
        if status in ("up", "down"):
            up.add_metric([str(check_id), str(service)], 1.0 if status == "up" else 0.0)
    c = counter("siaga_check_changes")
    for status, count in conn.execute(select(check_changes.c.status, func.count()).group_by(check_changes.c.status)):
        c.add_metric([str(status)], float(count))
    out: list[Metric] = [g, up, c]
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
    age = gauge("siaga_backup_snapshot_age_seconds")
    last = gauge("siaga_backup_last_success_timestamp_seconds")
    rto = gauge("siaga_backup_drill_rto_seconds")
    for f in figures:
        if f.snapshot_age_s is not None:
            age.add_metric([f.job, f.target], f.snapshot_age_s)
        if f.last_success_at is not None:
            last.add_metric([f.job, f.target], f.last_success_at.timestamp())
        if f.drill_rto_s is not None:
            rto.add_metric([f.job, f.target], float(f.drill_rto_s))
    return [age, last, rto]


LATENCY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)


def notification_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    t = notify_attempts
    fam = FAMILIES["siaga_notification_latency_seconds"]
    h = HistogramMetricFamily(fam.name, fam.help, labels=list(fam.labels))
    c = counter("siaga_notification_attempts")
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


def cluster_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    from siaga.cluster.status import cluster_status

    data = cluster_status(conn, now, lease_s=cfg.runtime.lease, shared=conn.dialect.name != "sqlite")
    processes = gauge("siaga_cluster_processes")
    processes.add_metric([], float(len(data["processes"])))
    token = gauge("siaga_cluster_role_token")
    expires = gauge("siaga_cluster_role_lease_expires_seconds")
    for r in data["roles"]:
        token.add_metric([r["role"], r["holder"] or ""], float(r["token"]))
        expires.add_metric([r["role"]], float(r["expires_in_s"]))
    share = counter("siaga_cluster_ingest")
    for p in data["processes"]:
        for kind in ("mqtt_messages", "readings", "handed_off", "handed_in", "handoff_failed"):
            if kind in p["ingest"]:
                share.add_metric([str(p["session"]), kind], float(p["ingest"][kind]))
    shard_map = gauge("siaga_cluster_rule_shard_session")
    for r in data["rule_shards"]:
        shard_map.add_metric([str(r["shard"])], float(r["session"] if r["session"] is not None else -1))
    slots = gauge("siaga_cluster_shard_slots")
    for duty, entry in data["shards"].items():
        for session, n in entry["by_session"].items():
            slots.add_metric([duty, session], float(n))
        slots.add_metric([duty, "none"], float(entry["unheld"]))
    return [processes, token, expires, share, shard_map, slots]


def peer_record_metrics(conn: Connection, now: dt.datetime, cfg: SiteConfig) -> Iterable[Metric]:
    """The off-site record: what waits for each watching peer (room), what each watched room sent (colocation)."""
    from siaga.config.peers import PeerRole
    from siaga.peers import outbox
    from siaga.peers.tables import peer_records

    out: list[Metric] = []
    watching = cfg.peers.by_role(PeerRole.watched_by)
    if watching:
        depth, lag = gauge("siaga_peer_outbox_depth"), gauge("siaga_peer_outbox_lag_seconds")
        for peer in watching:
            d = outbox.depth(conn, peer.id, now.timestamp())
            depth.add_metric([peer.id], float(d.depth))
            lag.add_metric([peer.id], d.lag_s)
        out += [depth, lag]
    if cfg.peers.by_role(PeerRole.watches):
        applied = gauge("siaga_peer_records")
        for site, n in conn.execute(select(peer_records.c.site, func.count()).group_by(peer_records.c.site)):
            applied.add_metric([str(site)], float(n))
        out.append(applied)
        from siaga.peers.status_web import META_PREFIX as PAGE_PREFIX
        from siaga.store.schema import meta

        age = gauge("siaga_peer_status_page_age_seconds")
        for key, at in conn.execute(select(meta.c.key, meta.c.updated_at).where(meta.c.key.like(PAGE_PREFIX + "%"))):
            if isinstance(at, dt.datetime):
                age.add_metric([str(key)[len(PAGE_PREFIX):]], max(0.0, (now - at).total_seconds()))
        out.append(age)
    return out


COLLECTORS: tuple[MetricsFn, ...] = (
    cluster_metrics, readings_metrics, sensor_metrics, alert_metrics, check_metrics, notification_metrics,
    peer_record_metrics,
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
                    yield from fn(conn, now, self.dash.cfg)
                except DBAPIError:  # a table not migrated yet: that family is absent
                    conn.rollback()
        with contextlib.suppress(DBAPIError):
            yield from backup_metrics_for(self.dash)
        yield from peer_metrics(self.dash)
        live = gauge("siaga_web_live_subscribers")
        live.add_metric([], float(self.dash.broker.subscribers))
        yield live
        yield from stall_metrics()
        yield from checks_engine_metrics(self.dash)


def _buckets(h: Histogram) -> list[tuple[str, float]]:
    return [("+Inf" if bound == float("inf") else str(bound), float(n)) for bound, n in h.cumulative()]


def stall_metrics() -> Iterable[Metric]:
    """This process's event-loop lag and garbage-collection pauses (:mod:`siaga.runtime.stalls`)."""
    lag, gcs = STALLS.histograms()
    fam = FAMILIES["siaga_event_loop_lag_seconds"]
    loop = HistogramMetricFamily(fam.name, fam.help, labels=list(fam.labels))
    loop.add_metric([], _buckets(lag), sum_value=lag.sum)
    fam = FAMILIES["siaga_gc_pause_seconds"]
    pauses = HistogramMetricFamily(fam.name, fam.help, labels=list(fam.labels))
    for gen, h in sorted(gcs.items()):
        pauses.add_metric([str(gen)], _buckets(h), sum_value=h.sum)
    return [loop, pauses]


def checks_engine_metrics(dash: Dashboard) -> Iterable[Metric]:
    """This process's share of the checks (``siaga.checks.engine``): its slots' moves and the results another
    process's takeover left unwritten; nothing when it runs no checks."""
    engine = dash.ctx.services.checks
    if engine is None:
        return []
    moves, not_written = counter("siaga_checks_slot_moves"), counter("siaga_checks_results_not_written")
    moves.add_metric([], float(engine.moves))
    not_written.add_metric([], float(engine.not_written))
    return [moves, not_written]


def peer_metrics(dash: Dashboard) -> Iterable[Metric]:
    """The peers' figures from the running hub (``siaga.peers.hub``); nothing when siaga runs alone."""
    hub = dash.ctx.services.peers
    if hub is None:
        return []
    up, age, refused = gauge("siaga_peer_up"), gauge("siaga_peer_last_heartbeat_age_seconds"), counter(
        "siaga_peer_requests_refused")
    for row in hub.status(dash.now()):
        up.add_metric([row["peer"], row["role"]], 0.0 if row["status"] in ("silent", "waiting") else 1.0)
        if row["age_s"] is not None:
            age.add_metric([row["peer"]], float(row["age_s"]))
    for (peer, reason), n in sorted(hub.verifier.refused.items()):
        refused.add_metric([peer, reason], float(n))
    applied, refused_acks, confirmed = (counter("siaga_peer_acks_applied"), counter("siaga_peer_acks_refused"),
                                        counter("siaga_peer_acks_confirmed"))
    counts = hub.ack_counters
    for peer, outcome, n in counts.rows():
        applied.add_metric([peer, outcome], float(n))
    for (peer, reason), n in sorted(counts.refused.items()):
        refused_acks.add_metric([peer, reason], float(n))
    for peer, n in sorted(counts.confirmed.items()):
        confirmed.add_metric([peer], float(n))
    return [up, age, refused, applied, refused_acks, confirmed]


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


if __name__ == "__main__":  # python -m siaga.web.metrics: the table of docs/dashboard.md
    sys.stdout.write(families_markdown())
