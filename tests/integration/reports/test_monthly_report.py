"""The monthly report counts incidents, time to acknowledge and hours the room ran too warm."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.config import load_config
from siaga.readings.tables import readings
from siaga.reports.monthly import Month, climate_line, load_monthly_report
from siaga.sources.ingest import to_ms

from .test_incident_report import EXAMPLE, _leak_then_heat

JULY = Month(2025, 7, "Asia/Makassar")


def _warm_days(engine: Engine) -> None:
    start = dt.datetime(2025, 7, 10, tzinfo=dt.UTC)
    rows = []
    for hour in range(72):
        value = 30.0 if 20 <= hour < 25 else 23.0
        for minute in (0, 30):
            ts = start + dt.timedelta(hours=hour, minutes=minute)
            rows.append({"sensor": "temp-r1-top", "ts": to_ms(ts), "value": value})
    with engine.begin() as conn:
        conn.execute(insert(readings), rows)


def test_month_bounds_follow_the_site_zone() -> None:
    assert JULY.start == dt.datetime(2025, 6, 30, 16, 0, tzinfo=dt.UTC)
    assert JULY.end == dt.datetime(2025, 7, 31, 16, 0, tzinfo=dt.UTC)
    with pytest.raises(ValueError, match="YYYY-MM"):
        Month.parse("July", "Asia/Makassar")


def test_climate_counts_hours_outside_the_recommended_range() -> None:
    rows = [(22.0, 23.0, 45.0, 2), (26.0, 28.5, 54.5, 2), (14.0, 16.0, 30.0, 2)]
    line = climate_line("t", "temperature", "R1", rows, 744)
    assert (line.minimum, line.maximum, line.hours_outside) == (14.0, 28.5, 2)
    assert line.average == pytest.approx(21.6, abs=0.05)


def test_monthly_report_gathers_incidents_and_climate(db_engine: Engine) -> None:
    _leak_then_heat(db_engine)
    _warm_days(db_engine)
    cfg = load_config(EXAMPLE).config
    report = load_monthly_report(db_engine, cfg, JULY, dt.datetime(2025, 8, 2, tzinfo=dt.UTC))
    assert len(report.incidents) == 1
    line = report.incidents[0]
    assert line.time_to_acknowledge == dt.timedelta(minutes=4)
    assert line.acknowledged_by == "andi"
    assert line.value_at_risk >= 5_500_000_000
    assert report.safety_alarms == 1
    assert report.median_time_to_acknowledge == dt.timedelta(minutes=4)
    r1_top = next(c for c in report.climate if c.sensor == "temp-r1-top")
    assert r1_top.hours_outside == 5
    assert r1_top.maximum == 30.0
    assert next(c for c in report.climate if c.sensor == "temp-r2-top").minimum is None


def test_cli_monthly_report_in_indonesian(tmp_path: Path) -> None:
    cfg = tmp_path / "siaga.yaml"
    cfg.write_text(EXAMPLE.read_text())
    out = tmp_path / "juli.html"
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade", "-c", str(cfg)]).exit_code == 0
    result = runner.invoke(app, ["report", "monthly", "--month", "2025-07", "-c", str(cfg), "-o", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Laporan bulanan" in html and "Juli 2025" in html
    assert "Tidak ada insiden bulan ini." in html
    # The example has checks and backups: their sections are there, and nothing pretends to be known.
    assert "Layanan: waktu aktif dan SLA" in html and "belum dapat ditentukan" in html
    assert "Cadangan dan uji pemulihan" in html
    bad = runner.invoke(app, ["report", "monthly", "--month", "juli", "-c", str(cfg)])
    assert bad.exit_code == 2
