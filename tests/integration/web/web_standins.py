"""Putting the world into the store for the dashboard tests: readings and alerts, through their owners."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, insert, update

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.alerts.tables import alert_events, alerts, incidents
from siaga.i18n.messages import Message
from siaga.readings.tables import readings, sensor_last


def tables() -> tuple[object, object, object]:
    return alerts, alert_events, incidents


def put_reading(engine: Engine, sensor: str, value: float, at: dt.datetime) -> None:
    """A stored reading (as the readings writer leaves it), without running the rules."""
    ms = int(at.timestamp() * 1000)
    with engine.begin() as conn:
        conn.execute(insert(readings).values(sensor=sensor, ts=ms, value=value))
        done = conn.execute(update(sensor_last).where(sensor_last.c.sensor == sensor)
                            .values(ts=ms, value=value, received_at=at))
        if done.rowcount == 0:
            conn.execute(insert(sensor_last).values(sensor=sensor, ts=ms, value=value, received_at=at))


def fire_alert(manager: AlertManager, rule: str, subject: str, at: dt.datetime, severity: str = "critical",
               summary: Message | None = None) -> int:
    """An alert firing at once, through the real alert manager; returns its id."""
    manager.submit(Condition(rule=rule, subject=subject, subject_kind=SubjectKind.sensor, active=True,
                             severity=Severity(severity), at=at,
                             summary=summary or Message("alert.generic", {"rule": rule, "subject": subject}),
                             fire_at_once=True))
    alert = manager.get(rule, subject)
    assert alert is not None
    return alert.id
