"""Stand-ins for parts not yet in this tree: the alert tables and manager, and readings tables.

When ``siaga.alerts.tables`` / ``siaga.readings.tables`` exist, their real tables are used (and created by
the migrations); the stand-ins only register modules of the same shape when they are missing.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
import types
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    select,
    update,
)

from siaga.store.types import UTCDateTime

_meta = MetaData()


def _module(name: str, tables: dict[str, Table]) -> None:
    try:
        importlib.import_module(name)
    except ImportError:
        mod = types.ModuleType(name)
        for k, v in tables.items():
            setattr(mod, k, v)
        sys.modules[name] = mod


def _define() -> None:
    if "alerts" in _meta.tables:
        return
    incidents = Table("incidents", _meta, Column("id", Integer, primary_key=True, autoincrement=True),
                      Column("title", String(300), nullable=False), Column("opened_at", UTCDateTime(), nullable=False),
                      Column("closed_at", UTCDateTime()), Column("owner", String(200)), Column("notes", Text()),
                      Column("room", String(64)), Column("rack", String(64)),
                      Column("last_alert_at", UTCDateTime(), nullable=False))
    alerts = Table("alerts", _meta, Column("id", Integer, primary_key=True, autoincrement=True),
                   Column("rule", String(100), nullable=False), Column("subject", String(200), nullable=False),
                   Column("subject_kind", String(20), nullable=False), Column("state", String(20), nullable=False),
                   Column("severity", String(20), nullable=False), Column("summary", Text(), nullable=False),
                   Column("started_at", UTCDateTime(), nullable=False), Column("fired_at", UTCDateTime()),
                   Column("acknowledged_at", UTCDateTime()), Column("acknowledged_by", String(200)),
                   Column("resolved_at", UTCDateTime()), Column("incident_id", Integer),
                   Column("last_value", Float()), Column("flapping", Boolean(), default=False),
                   Column("impact", JSON()), Column("params", JSON()),
                   Column("updated_at", UTCDateTime(), nullable=False))
    events = Table("alert_events", _meta, Column("id", Integer, primary_key=True, autoincrement=True),
                   Column("alert_id", Integer, nullable=False), Column("at", UTCDateTime(), nullable=False),
                   Column("event", String(30), nullable=False), Column("state", String(20), nullable=False),
                   Column("severity", String(20), nullable=False), Column("by", String(200)),
                   Column("via", String(50)), Column("note", Text()), Column("value", Float()))
    _module("siaga.alerts.tables", {"alerts": alerts, "incidents": incidents, "alert_events": events})

    def rollup(name: str) -> Table:
        return Table(name, _meta, Column("sensor", String(64), nullable=False),
                     Column("bucket", BigInteger(), nullable=False), Column("min", Float(), nullable=False),
                     Column("max", Float(), nullable=False), Column("sum", Float(), nullable=False),
                     Column("count", Integer(), nullable=False), PrimaryKeyConstraint("sensor", "bucket"))

    readings = Table("readings", _meta, Column("sensor", String(64), nullable=False),
                     Column("ts", BigInteger(), nullable=False), Column("value", Float(), nullable=False))
    last = Table("sensor_last", _meta, Column("sensor", String(64), primary_key=True),
                 Column("ts", BigInteger(), nullable=False), Column("value", Float(), nullable=False),
                 Column("received_at", UTCDateTime(), nullable=False))
    counters = Table("ingest_counters", _meta, Column("reason", String(64), primary_key=True),
                     Column("count", BigInteger(), nullable=False), Column("updated_at", UTCDateTime(), nullable=False))
    _module("siaga.readings.tables", {"readings": readings, "readings_1m": rollup("readings_1m"),
                                      "readings_1h": rollup("readings_1h"), "sensor_last": last,
                                      "ingest_counters": counters})


def ensure_alert_tables(engine: Engine) -> None:
    """Create the stand-in tables when the real parts are missing (the real ones come from migrations)."""
    _define()
    mods = [sys.modules.get("siaga.alerts.tables"), sys.modules.get("siaga.readings.tables")]
    for mod in mods:
        for value in vars(mod).values() if mod else ():
            if isinstance(value, Table) and value.metadata is _meta:
                value.create(engine, checkfirst=True)


def tables() -> tuple[Table, Table, Table]:
    mod = importlib.import_module("siaga.alerts.tables")
    return mod.alerts, mod.alert_events, mod.incidents


def put_reading(engine: Engine, sensor: str, value: float, at: dt.datetime) -> None:
    mod = importlib.import_module("siaga.readings.tables")
    ms = int(at.timestamp() * 1000)
    with engine.begin() as conn:
        conn.execute(insert(mod.readings).values(sensor=sensor, ts=ms, value=value))
        done = conn.execute(update(mod.sensor_last).where(mod.sensor_last.c.sensor == sensor)
                            .values(ts=ms, value=value, received_at=at))
        if done.rowcount == 0:
            conn.execute(insert(mod.sensor_last).values(sensor=sensor, ts=ms, value=value, received_at=at))


def fire_alert(engine: Engine, rule: str, subject: str, at: dt.datetime, severity: str = "critical",
               summary: str = "", impact: dict[str, Any] | None = None) -> int:
    alerts, events, _inc = tables()
    with engine.begin() as conn:
        alert_id = int(conn.execute(insert(alerts).values(
            rule=rule, subject=subject, subject_kind="sensor", state="firing", severity=severity,
            summary=summary or f"{rule} on {subject}", started_at=at, fired_at=at, impact=impact or {}, params={},
            updated_at=at, flapping=False).returning(alerts.c.id)).scalar_one())
        conn.execute(insert(events).values(alert_id=alert_id, at=at, event="firing", state="firing",
                                           severity=severity))
    return alert_id


class AlertStandIn:
    """The few calls the dashboard makes of the alert manager, on the same tables."""

    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime]) -> None:
        self.engine = engine
        self.clock = clock

    def _set(self, alert_id: int, event: str, by: str, via: str, note: str | None, **values: Any) -> None:
        alerts, events, _ = tables()
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()
            if row is None:
                raise LookupError(alert_id)
            state = values.get("state", row.state)
            if values:
                conn.execute(update(alerts).where(alerts.c.id == alert_id).values(updated_at=now, **values))
            else:
                conn.execute(update(alerts).where(alerts.c.id == alert_id).values(updated_at=now))
            conn.execute(insert(events).values(alert_id=alert_id, at=now, event=event, state=state,
                                               severity=row.severity, by=by, via=via, note=note))

    def acknowledge(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> None:
        self._set(alert_id, "acknowledged", by, via, note, state="acknowledged", acknowledged_at=self.clock(),
                  acknowledged_by=by)

    def resolve(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> None:
        self._set(alert_id, "resolved", by, via, note, state="resolved", resolved_at=self.clock())

    def add_note(self, alert_id: int, *, by: str, via: str, note: str) -> None:
        self._set(alert_id, "noted", by, via, note)
