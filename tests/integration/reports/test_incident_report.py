"""The incident report tells oversight when the leak was detected, who acknowledged it, and what was at stake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.cli.main import app
from siaga.config import load_config
from siaga.i18n.messages import Message
from siaga.reports.incident import format_duration, load_incident_report
from siaga.reports.render import html_to_pdf, render_html

EXAMPLE = Path(__file__).parents[3] / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 2, 2, tzinfo=dt.UTC)  # 10:02 WITA


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def _leak_then_heat(engine: Engine) -> int:
    cfg = load_config(EXAMPLE).config
    clock = Clock()
    manager = AlertManager(engine, impact_of=impact_resolver(cfg), clock=clock)
    manager.load()
    manager.submit(Condition("leak", "leak-r1-ceiling", SubjectKind.sensor, True, Severity.critical, T0, 1.0,
                             Message("sensor.leak.on", {"sensor": "leak-r1-ceiling", "rack": "R1"}),
                             fire_at_once=True))
    clock.now = T0 + dt.timedelta(minutes=2)
    manager.submit(Condition("temperature.high", "temp-r1-top", SubjectKind.sensor, True, Severity.warning,
                             clock.now, 29.5,
                             Message("sensor.above", {"what": "temperature", "value": 29.5, "threshold": 27,
                                                      "unit": "°C", "sensor": "temp-r1-top"}),
                             fire_at_once=True))
    leak = manager.get("leak", "leak-r1-ceiling")
    assert leak is not None and leak.incident_id is not None
    manager.ack(leak.id, by="andi", via="telegram", note="on my way", at=T0 + dt.timedelta(minutes=4))
    for rule, subject in (("leak", "leak-r1-ceiling"), ("temperature.high", "temp-r1-top")):
        at = T0 + dt.timedelta(minutes=50)
        manager.submit(Condition(rule, subject, SubjectKind.sensor, False, Severity.info, at))
    return leak.incident_id


def test_incident_report_has_the_figures_oversight_asks_for(db_engine: Engine) -> None:
    incident_id = _leak_then_heat(db_engine)
    cfg = load_config(EXAMPLE).config
    report = load_incident_report(db_engine, incident_id, T0 + dt.timedelta(hours=1), cfg)
    assert [a.rule for a in report.alerts] == ["leak", "temperature.high"]
    assert report.detected_at == T0
    assert report.first_ack_by == "andi"
    assert report.time_to_acknowledge == dt.timedelta(minutes=4)
    assert report.worst_severity is Severity.critical
    assert {"srv-web-1", "srv-db-1"} <= set(report.devices)
    assert report.value_at_risk >= 5_500_000_000
    assert "portal" in {s.id for s in report.services}
    events = [(e.subject, e.event) for e in report.timeline]
    assert ("leak-r1-ceiling", "acknowledged") in events


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("id", ["Laporan insiden", "10:02", "WITA", "miliar", "andi"]),
     ("en", ["Incident report", "10:02", "WITA", "Rp5,", "andi"])],
)
def test_incident_report_renders_in_both_languages(db_engine: Engine, lang: str, expected: list[str]) -> None:
    incident_id = _leak_then_heat(db_engine)
    cfg = load_config(EXAMPLE).config
    report = load_incident_report(db_engine, incident_id, T0 + dt.timedelta(hours=1), cfg)
    html = render_html("incident.html", {"r": report, "site": cfg.site.name, "generated_at": report.generated_at,
                                         "duration": lambda d: format_duration(d, lang)},
                       lang=lang, timezone=cfg.site.timezone)
    for text in expected:
        assert text in html
    if lang == "id":
        assert html_to_pdf(html).startswith(b"%PDF")


def test_cli_reports_an_unknown_incident_in_one_line(tmp_path: Path) -> None:
    cfg = tmp_path / "siaga.yaml"
    cfg.write_text(EXAMPLE.read_text())
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    result = runner.invoke(app, ["report", "incident", "99", "-c", str(cfg)])
    assert result.exit_code == 2
    assert "no incident #99" in result.output


def test_durations_read_naturally() -> None:
    assert format_duration(dt.timedelta(minutes=4), "en") == "4 min"
    assert format_duration(dt.timedelta(days=5, hours=3), "id") == "5 hr 3 j"
    assert format_duration(dt.timedelta(seconds=42), "en") == "42 s"
    assert format_duration(None) == "-"
