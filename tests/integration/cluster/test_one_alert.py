"""One truth on one PostgreSQL: a fault every ``siaga serve`` sees is one alert, paged once, open until the
last live process that sees it stops seeing it; two processes raising it at the same instant make one row."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Alert, AlertState, Condition, Severity, SubjectKind
from siaga.alerts.tables import alert_witnesses, alerts
from siaga.i18n.messages import Message
from siaga.store import create_engine_for
from siaga.store.sessions import start_session

from .cluster import LEASE_S, Pages, cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

T0 = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)
FAULTY_AFTER = 2


def faulty_rows(db: Engine) -> list[tuple[int, str]]:
    with db.connect() as conn:
        return [(int(r.id), r.state) for r in conn.execute(
            select(alerts.c.id, alerts.c.state).where(alerts.c.rule == "sensor.faulty").order_by(alerts.c.id))]


def witnesses(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(alert_witnesses)).scalar_one())


def test_a_sensor_faulty_for_every_process_is_one_alert_paged_once(tmp_path: Path, postgres_url: str,
                                                                   pages: Pages) -> None:
    with cluster(tmp_path, postgres_url, pages, 2, extra=f"readings: {{faulty_after: {FAULTY_AFTER}}}\n",
                 up_timeout=120) as c:
        # the gateway sends garbage for leak-0 to both processes: each one sees the sensor faulty
        for p in c.processes:
            for _ in range(FAULTY_AFTER):
                p.push("leak-0", 7)  # not on/off: refused
        [(alert_id, _)] = faulty_rows(c.db)
        assert witnesses(c.db) == 2
        wait_for(lambda: pages.got)
        time.sleep(3 * LEASE_S)  # long enough for a second page, if there were one
        paged = [body for _, _, body in pages.got if str(alert_id) in str(body.get("siaga_alerts")).split(",")]
        assert len(paged) == 1, [b.get("siaga_kind") for _, _, b in pages.got]
        # one process gets good readings again: the other still sees the fault, the alert stays open
        for _ in range(FAULTY_AFTER):
            c.processes[0].push("leak-0", 0)
        assert faulty_rows(c.db) == [(alert_id, AlertState.firing.value)] and witnesses(c.db) == 1
        # the last witness dies (kill -9): its session ends, nobody sees the fault: resolved, still one row
        last = c.processes[1].proc
        os.kill(last.pid, signal.SIGKILL)
        last.wait()
        wait_for(lambda: faulty_rows(c.db) == [(alert_id, AlertState.resolved.value)], timeout=30)


def condition(subject: str) -> Condition:
    return Condition("mqtt.unreachable", subject, SubjectKind.system, True, Severity.critical, T0,
                     summary=Message("system.down", {"component": subject}), fire_at_once=True)


def test_two_connections_raising_the_same_alert_at_once_make_one_row(engine: Engine) -> None:
    alert = Alert(0, "mqtt.unreachable", "mqtt", SubjectKind.system, AlertState.firing, Severity.critical,
                  Message("system.down", {"component": "mqtt"}), T0, fired_at=T0)
    second: dict[str, object] = {}

    def raise_it_too() -> None:
        with engine.begin() as conn:
            second["claimed"] = store.claim_alert(conn, alert, T0)
            second["open"] = store.open_alert(conn, alert.rule, alert.subject)

    with engine.connect() as first:
        first.begin()
        first_id = store.claim_alert(first, alert, T0)
        racer = threading.Thread(target=raise_it_too)
        racer.start()
        racer.join(0.5)
        assert racer.is_alive()  # its insert waits on the first one's uncommitted row
        first.commit()
    racer.join(10)
    opened = second["open"]
    assert first_id is not None and second["claimed"] is None
    assert isinstance(opened, Alert) and opened.id == first_id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(alerts)).scalar_one() == 1


def test_two_alert_managers_raising_at_the_same_instant_open_one_alert_and_tell_it_once(engine: Engine) -> None:
    managers = []
    for pid in (1, 2):
        own = create_engine_for(engine.url.render_as_string(hide_password=False))
        with own.begin() as conn:
            session = start_session(conn, T0, host="ruang", pid=pid)
        managers.append(AlertManager(own, clock=lambda: T0, session=lambda s=session: s, process=f"ruang:{pid}"))
    subjects = [f"mqtt-{i}" for i in range(20)]
    gate = threading.Barrier(2)

    def raise_all(m: AlertManager) -> None:
        for s in subjects:
            gate.wait(5)
            m.submit(condition(s))

    threads = [threading.Thread(target=raise_all, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(alerts.c.subject, func.count()).group_by(alerts.c.subject)).all()
        assert sorted(rows) == sorted((s, 1) for s in subjects)
        assert sum(m.published for m in managers) == len(subjects)  # each told once, by whichever came first
        assert sum(m.errors for m in managers) == 0
        assert witnesses(engine) == 2 * len(subjects)
    finally:
        for m in managers:
            m.engine.dispose()
