"""A service that goes down during a leak on its rack joins the leak's incident (real alert manager, store)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.checks.base import CheckResult
from siaga.checks.engine import site_zone
from siaga.checks.monitor import Monitor
from siaga.config import load_config
from siaga.i18n.messages import Message, render

pytestmark = pytest.mark.integration

LEAK_AT = dt.datetime(2025, 7, 16, 2, 2, tzinfo=dt.UTC)  # 10:02 WITA


def test_portal_down_during_the_r1_leak_joins_its_incident(db_engine: Engine) -> None:
    from pathlib import Path

    import siaga

    cfg = load_config(Path(siaga.__file__).parent / "examples" / "bontang.yaml").config
    manager = AlertManager(db_engine, impact_of=impact_resolver(cfg), clock=lambda: LEAK_AT)
    manager.submit(Condition(
        rule="leak", subject="leak-r1-ceiling", subject_kind=SubjectKind.sensor, active=True,
        severity=Severity.critical, at=LEAK_AT,
        summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling", "rack": "R1"}),
        fire_at_once=True,
    ))
    leak = manager.get("leak", "leak-r1-ceiling")
    assert leak is not None and leak.incident_id is not None
    # the mail server is on R3: also down, but no cause in the room
    monitor = Monitor(cfg.checks, cfg.services, site_zone(cfg), sink=manager, active_alerts=manager.active)
    t = LEAK_AT + dt.timedelta(minutes=20)
    for i in range(3):
        at = t + dt.timedelta(seconds=10 * i)
        monitor.handle(CheckResult("portal-http", "portal", at, False, None, "cannot connect"))
        monitor.handle(CheckResult("mail-tcp", "mail", at, False, None, "cannot connect"))
    portal = manager.get("service.down", "portal")
    mail = manager.get("service.down", "mail")
    assert portal is not None and mail is not None
    assert portal.incident_id == leak.incident_id
    shown = render(portal.summary, "en", site_zone(cfg))
    assert "probable cause: Water leak at R1 since 16 Jul 2025 10:02 WITA" in shown
    assert portal.params["quiet"] is True and portal.severity == Severity.critical
    assert mail.summary.key == "service.down" and mail.params.get("quiet") is None
