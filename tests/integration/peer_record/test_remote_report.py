"""At the colocation: a room's alerts, incidents and incident report from the record it sent, by the CLI
(``siaga peer-records``, ``siaga report incident --site``), with nothing of the room but its record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.cli.main import app
from siaga.i18n.messages import Message
from siaga.peers import outbox, record
from siaga.store import create_engine_for, sqlite_url, upgrade

T0 = dt.datetime(2026, 7, 16, 2, 0, tzinfo=dt.UTC)
COLO = """
site: {name: Kolokasi Uji, timezone: Asia/Makassar, language: en}
store: {data_dir: state}
people: [{id: andi, name: Andi}]
peers:
  site_id: colo
  sites:
    - {id: ruang, name: Ruang Server Diskominfo, role: watches, url: "http://127.0.0.1:9", secret_file: peer.secret}
"""


def _room_record(tmp_path: Path) -> list[dict[str, object]]:
    """A room's store that raised, acknowledged and resolved a leak: its record, as the sender reads it."""
    room = create_engine_for(sqlite_url(tmp_path / "room.db"))
    upgrade(room)
    with room.begin() as conn:
        outbox.set_recording(conn, True)
    manager = AlertManager(room, clock=lambda: T0)
    leak = Condition("leak", "leak-r1", SubjectKind.sensor, True, Severity.critical, T0,
                     summary=Message("system.down", {"component": "leak-r1"}), fire_at_once=True)
    manager.submit(leak)
    alert = manager.get("leak", "leak-r1")
    assert alert is not None
    manager.ack(alert.id, "budi", at=T0 + dt.timedelta(minutes=4))
    manager.submit(Condition(**{**leak.__dict__, "active": False, "at": T0 + dt.timedelta(minutes=30)}))
    with room.connect() as conn:
        events = outbox.batch(conn, "ruang", 0)
    room.dispose()
    return events


def _colocation(tmp_path: Path) -> tuple[Path, Engine, list[dict[str, object]]]:
    """The colocation's config and store holding the room's record (``_room_record``'s events, applied)."""
    events = _room_record(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "peer.secret").write_text("s3cret-shared-with-the-room\n")
    cfg = tmp_path / "siaga.yaml"
    cfg.write_text(COLO)
    colo = create_engine_for(sqlite_url(tmp_path / "state" / "siaga.db"))
    upgrade(colo)
    with colo.begin() as conn:
        record.apply(conn, "ruang", events, 0.0)
    return cfg, colo, events


def test_the_colocation_reports_a_rooms_incident_from_its_record(tmp_path: Path) -> None:
    cfg, colo, events = _colocation(tmp_path)
    with colo.connect() as conn:
        incident_id = record.remote_incidents(conn, "ruang")[0].id
    colo.dispose()

    runner = CliRunner()
    listed = runner.invoke(app, ["peer-records", "ruang", "-c", str(cfg), "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert data["events"] == len(events)
    assert [(a["rule"], a["state"], a["acknowledged_by"]) for a in data["alerts"]] == [("leak", "resolved", "budi")]
    assert [i["id"] for i in data["incidents"]] == [incident_id]

    report = runner.invoke(app, ["report", "incident", str(incident_id), "--site", "ruang", "-c", str(cfg)])
    assert report.exit_code == 0, report.output
    assert "Ruang Server Diskominfo" in report.output and "budi" in report.output and "leak-r1" in report.output

    unknown = runner.invoke(app, ["report", "incident", "99", "--site", "ruang", "-c", str(cfg)])
    assert unknown.exit_code == 2 and "no incident #99 of site ruang" in unknown.output


def test_acknowledging_a_rooms_alert_at_the_colocation_is_refused_in_the_readers_language(tmp_path: Path) -> None:
    cfg, colo, _events = _colocation(tmp_path)
    with colo.connect() as conn:
        [alert] = record.remote_alerts(conn, "ruang")
    colo.dispose()
    runner = CliRunner()
    told = {lang: runner.invoke(app, ["--lang", lang, "peer-records", "ruang", "--ack", str(alert.id), "--as", "andi",
                                      "-c", str(cfg)]) for lang in ("en", "id")}
    assert told["en"].exit_code == 1 and f"siaga: alert #{alert.id} of ruang is already resolved" in told["en"].output
    assert told["id"].exit_code == 1 and (
        f"siaga: peringatan #{alert.id} dari ruang sudah diselesaikan" in told["id"].output), told["id"].output
    missing = runner.invoke(app, ["--lang", "id", "peer-records", "ruang", "--ack", "99", "--as", "andi",
                                  "-c", str(cfg)])
    assert missing.exit_code == 1 and "tidak ada peringatan #99 dalam catatan dari ruang" in missing.output
