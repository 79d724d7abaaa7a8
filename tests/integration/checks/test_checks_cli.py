"""`siaga checks`, `siaga checks run`, `siaga uptime` against a real store and real peers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.checks import records
from siaga.checks.confirm import Change, Status
from siaga.checks.monitor import RecordedChange
from siaga.cli.main import app
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.sessions import start_session, stop_session

pytestmark = pytest.mark.integration


def write_config(tmp_path: Path, base: str) -> Path:
    path = tmp_path / "siaga.yaml"
    path.write_text(f"""
site: {{name: Test, language: en}}
store: {{data_dir: data}}
services:
  - {{id: portal, name: Portal, criticality: vital, sla: 99.5}}
  - {{id: berita, name: Berita}}
checks:
  - {{service: portal, type: http, url: "{base}/healthy", keyword: Bontang}}
  - {{service: berita, type: http, url: "{base}/down"}}
""")
    return path


def test_checks_run_prints_each_result_and_fails_when_one_fails(threaded_http_peer, tmp_path: Path) -> None:
    cfg = write_config(tmp_path, threaded_http_peer.base)
    runner = CliRunner()
    ok = runner.invoke(app, ["checks", "run", "portal", "-c", str(cfg)])
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("portal-http: ok (")
    bad = runner.invoke(app, ["checks", "run", "berita", "-c", str(cfg)])
    assert bad.exit_code == 1 and "HTTP 503" in bad.output
    unknown = runner.invoke(app, ["checks", "run", "nope", "-c", str(cfg)])
    assert unknown.exit_code == 2


def test_uptime_of_july_2025_counts_five_days_down(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "http://127.0.0.1:9")
    engine = create_engine_for(sqlite_url(tmp_path / "data" / "siaga.db"))
    upgrade(engine)
    start = dt.datetime(2025, 6, 30, 16, tzinfo=dt.UTC)  # 1 July 00:00 WITA
    down = dt.datetime(2025, 7, 16, 2, tzinfo=dt.UTC)
    with engine.begin() as conn:
        sid = start_session(conn, start)
        stop_session(conn, sid, start + dt.timedelta(days=31))
        records.write_batch(conn, [
            RecordedChange("portal-http", "portal", Change(Status.unknown, Status.up, start, start, "")),
            RecordedChange("portal-http", "portal", Change(Status.up, Status.down, down, down, "HTTP 503")),
            RecordedChange("portal-http", "portal", Change(
                Status.down, Status.up, down + dt.timedelta(days=5), down + dt.timedelta(days=5), "")),
        ], [])
    engine.dispose()
    runner = CliRunner()
    out = runner.invoke(app, ["uptime", "portal", "--month", "2025-07", "--json", "-c", str(cfg)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["sla"] == "missed" and abs(data["uptime"] - 26 / 31) < 1e-9
    assert data["days"]["2025-07-18"]["down_s"] == 86400
    text = runner.invoke(app, ["uptime", "portal", "--month", "2025-07", "-c", str(cfg)])
    assert "SLA 99.5%: missed" in text.output
    bad = runner.invoke(app, ["uptime", "portal", "--month", "July", "-c", str(cfg)])
    assert bad.exit_code == 2 and "--month must look like 2025-07" in bad.output
    table = runner.invoke(app, ["checks", "-c", str(cfg)])
    assert table.exit_code == 0 and "portal-http" in table.output and "2 checks, 0 down" in table.output
