"""Alerts and incidents keep a message key and parameters; rows written before keys stay readable."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Impact, Severity, SubjectKind
from siaga.alerts.serialise import alert_fields, alert_from_json, alert_to_json, incident_fields
from siaga.alerts.tables import alerts, incidents
from siaga.i18n.messages import Message
from siaga.store import create_engine_for, upgrade

T0 = dt.datetime(2026, 12, 6, 1, 2, 3, tzinfo=dt.UTC)
WITA = ZoneInfo("Asia/Makassar")
OLD = "no reading from leak-r1-floor (R1 floor) since 2026-12-06T01:02:03+00:00"


def test_rows_written_before_keys_are_shown_as_written_after_the_migration(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        upgrade(engine, "0101_readings_unique")  # the schema of the release before message keys
        with engine.begin() as conn:
            inc = conn.execute(insert(incidents).values(title=OLD, opened_at=T0, last_alert_at=T0)
                               .returning(incidents.c.id)).scalar_one()
            conn.execute(insert(alerts).values(
                rule="sensor.stale", subject="leak-r1-floor", subject_kind="sensor", state="firing",
                severity="critical", summary=OLD, started_at=T0, fired_at=T0, incident_id=inc, flapping=False,
                impact={}, params={}, updated_at=T0))
        upgrade(engine)
        with engine.connect() as conn:
            [old] = store.list_alerts(conn)
            incident = store.get_incident(conn, inc)
        assert old.summary == Message(text=OLD) and incident is not None and incident.title == Message(text=OLD)
        shown = alert_fields(old, "id", WITA)
        assert shown["summary"] == OLD and shown["title"] == "Sensor tidak melapor"
        assert incident_fields(incident, "en", WITA)["title"] == OLD
    finally:
        engine.dispose()


def test_new_alerts_and_incidents_store_a_key_not_a_sentence(db_engine) -> None:  # type: ignore[no-untyped-def]
    manager = AlertManager(db_engine, impact_of=lambda _k, _s: Impact(room="ruang-server", rack="R1"),
                           clock=lambda: T0)
    stale = Message("sensor.stale", {"sensor": "leak-r1-floor", "rack": "R1", "zone": "floor",
                                     "last_seen": T0.isoformat()})
    manager.submit(Condition("sensor.stale", "leak-r1-floor", SubjectKind.sensor, True, Severity.critical,
                             T0 + dt.timedelta(minutes=3), summary=stale, fire_at_once=True))
    with db_engine.connect() as conn:
        row = conn.execute(select(alerts)).one()
        inc = conn.execute(select(incidents)).one()
        [alert] = store.list_alerts(conn)
    assert (row.summary, row.summary_key, row.summary_params["sensor"]) == ("", "sensor.stale", "leak-r1-floor")
    assert (inc.title, inc.title_key) == ("", "sensor.stale")
    assert alert.summary == stale
    id_ = alert_fields(alert, "id", WITA)["summary"]
    assert id_ == "tidak ada pembacaan dari leak-r1-floor (R1, lantai) sejak 6 Des 2026 09:02 WITA"
    assert alert_fields(alert, "en", WITA)["summary"].endswith("since 6 Dec 2026 09:02 WITA")
    assert alert_from_json(alert_to_json(alert, "id", WITA)) == alert  # notify's snapshot round trip
