"""Which services have a recent verified off-site copy: the store as the backup part writes it (real records API,
SQLite), read by ``siaga impact``, the notifier's messages and the dashboard's alert detail."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine
from typer.testing import CliRunner

from siaga.backup import records
from siaga.backup.manifest import FileEntry, FileManifest
from siaga.backup.status import OffsiteCopy, last_verified_offsite_copy, verified_offsite_copy
from siaga.cli.main import app
from siaga.config import parse_config
from siaga.config.models import SiteConfig
from siaga.i18n.messages import Message

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 7, 16, 6, 0, tzinfo=dt.UTC)  # 14:00 WITA
DOC = {
    "site": {"name": "Bontang", "timezone": "Asia/Makassar"},
    "rooms": [{"id": "ruang-server", "name": "Ruang server"}],
    "racks": [{"id": "R1", "room": "ruang-server"}],
    "devices": [{"id": "srv-web-1", "kind": "server", "rack": "R1", "u": 10, "value": 150_000_000}],
    "services": [
        {"id": "portal", "name": "Portal", "runs_on": ["srv-web-1"]},
        {"id": "absensi", "name": "Absensi", "runs_on": ["srv-web-1"]},
        {"id": "ppid", "name": "PPID", "runs_on": ["srv-web-1"]},
    ],
    "targets": [
        {"id": "colo", "type": "local", "path": "/srv/colo", "password_file": "/etc/pw", "offsite": True},
        {"id": "nas", "type": "local", "path": "/srv/nas", "password_file": "/etc/pw"},
    ],
    "backups": [
        {"id": "portal-files", "target": "colo", "services": ["portal"], "paths": ["/var/www"]},
        {"id": "portal-db", "target": "nas", "copy_to": ["colo"], "services": ["portal"], "paths": ["/var/db"]},
        {"id": "absensi-files", "target": "nas", "services": ["absensi"], "paths": ["/srv/absensi"]},
    ],
}


def _config() -> SiteConfig:
    return parse_config(yaml.safe_dump(DOC))


def _snapshot(engine: Engine, job: str, target: str, snap: str, taken: dt.datetime) -> None:
    records.record_backup(
        engine,
        run_tag=f"run-{snap}",
        job=job,
        target=target,
        snapshot_id=snap,
        taken_at=taken,
        seen_at=taken,
        manifest=FileManifest({f"/data/{job}": FileEntry(1, 1, "0" * 64)}),
    )


def _check(engine: Engine, target: str, at: dt.datetime, *, ok: bool = True) -> None:
    records.record_check(
        engine, target=target, subset="1/7", started_at=at, finished_at=at, ok=ok, duration_s=1.0, error=None
    )


def test_a_service_is_as_recent_as_the_oldest_verified_off_site_copy_of_its_jobs(store: Engine) -> None:
    cfg = _config()
    _snapshot(store, "portal-files", "colo", "aaaa0001", T0)
    records.mark_verified(store, target="colo", snapshot_id="aaaa0001", at=T0 + dt.timedelta(hours=1))
    assert verified_offsite_copy("portal", config=cfg, engine=store) is None  # portal-db has no copy yet
    _snapshot(store, "portal-db", "nas", "bbbb0001", T0 - dt.timedelta(hours=3))
    records.mark_verified(store, target="nas", snapshot_id="bbbb0001", at=T0)
    assert verified_offsite_copy("portal", config=cfg, engine=store) is None  # verified, but not off site
    _snapshot(store, "portal-db", "colo", "cccc0001", T0 - dt.timedelta(hours=2))
    records.mark_verified(store, target="colo", snapshot_id="cccc0001", at=T0 + dt.timedelta(hours=2))
    found = verified_offsite_copy("portal", config=cfg, engine=store)
    assert found == OffsiteCopy(
        T0 - dt.timedelta(hours=2), "portal-db", "colo", "drill", T0 + dt.timedelta(hours=2)
    )
    assert last_verified_offsite_copy("portal", config=cfg, engine=store) == T0 - dt.timedelta(hours=2)
    assert verified_offsite_copy("absensi", config=cfg, engine=store) is None  # backed up on site only
    assert verified_offsite_copy("ppid", config=cfg, engine=store) is None  # no job at all


def test_a_successful_check_after_a_snapshot_verifies_it_and_a_failed_or_earlier_one_does_not(store: Engine) -> None:
    cfg = parse_config(yaml.safe_dump({**DOC, "backups": DOC["backups"][:1]}))
    _snapshot(store, "portal-files", "colo", "aaaa0001", T0)
    _check(store, "colo", T0 - dt.timedelta(minutes=5))  # before the snapshot: it did not read it
    _check(store, "colo", T0 + dt.timedelta(hours=2), ok=False)
    assert verified_offsite_copy("portal", config=cfg, engine=store) is None
    _check(store, "colo", T0 + dt.timedelta(hours=1))
    _snapshot(store, "portal-files", "colo", "aaaa0002", T0 + dt.timedelta(hours=3))  # newer, not checked yet
    found = verified_offsite_copy("portal", config=cfg, engine=store)
    assert found == OffsiteCopy(T0, "portal-files", "colo", "check", T0 + dt.timedelta(hours=1))
    records.mark_verified(store, target="colo", snapshot_id="aaaa0002", at=T0 + dt.timedelta(hours=4))
    found = verified_offsite_copy("portal", config=cfg, engine=store)
    assert found is not None and (found.at, found.verified_by) == (T0 + dt.timedelta(hours=3), "drill")
    records.mark_forgotten(store, target="colo", snapshot_ids=["aaaa0002"], at=T0 + dt.timedelta(hours=5))
    found = verified_offsite_copy("portal", config=cfg, engine=store)
    assert found is not None and (found.at, found.verified_by) == (T0, "check")


def _site(tmp_path: Path) -> Path:
    doc = {**DOC, "store": {"data_dir": "data"}}
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_impact_says_which_services_hit_have_a_verified_off_site_copy(tmp_path: Path) -> None:
    from siaga.store import create_engine_for, sqlite_url, upgrade

    config = _site(tmp_path)
    (tmp_path / "data").mkdir()
    engine = create_engine_for(sqlite_url(tmp_path / "data" / "siaga.db"))
    upgrade(engine)
    for job in ("portal-files", "portal-db"):
        _snapshot(engine, job, "colo", f"{job[-4:]}0001", T0)
        records.mark_verified(engine, target="colo", snapshot_id=f"{job[-4:]}0001", at=T0 + dt.timedelta(hours=1))
    engine.dispose()
    runner = CliRunner()
    en = runner.invoke(app, ["--lang", "en", "impact", "srv-web-1", "-c", str(config)])
    assert en.exit_code == 0, en.output
    assert "Verified off-site copies:" in en.output
    assert "portal   2026-07-16 14:00 WITA, job portal-files on colo, verified by a restore drill" in en.output
    assert "absensi  none: no verified copy off site (at risk)" in en.output
    id_ = runner.invoke(app, ["--lang", "id", "impact", "srv-web-1", "-c", str(config)])
    assert "tugas portal-files di colo, diverifikasi dengan uji pemulihan" in id_.output
    assert "absensi  tidak ada: belum ada salinan off-site yang terverifikasi (berisiko)" in id_.output
    data = json.loads(runner.invoke(app, ["impact", "srv-web-1", "-c", str(config), "--json"]).output)
    assert data["offsite_copies"]["absensi"] is None
    assert data["offsite_copies"]["portal"]["verified_by"] == "drill"
    assert data["offsite_copies"]["portal"]["at"] == "2026-07-16T06:00:00+00:00"


def test_impact_without_a_store_flags_every_service_and_creates_nothing(tmp_path: Path) -> None:
    config = _site(tmp_path)
    result = CliRunner().invoke(app, ["--lang", "en", "impact", "portal", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "portal  none: no verified copy off site (at risk)" in result.output
    assert not (tmp_path / "data").exists()


def test_impact_with_an_unreadable_store_still_answers(tmp_path: Path) -> None:
    config = _site(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "siaga.db").write_bytes(b"this is not a database")
    result = CliRunner().invoke(app, ["--lang", "en", "impact", "portal", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "Verified off-site copies: unknown (the store cannot be read)" in result.output


def test_a_notification_says_when_each_service_hit_was_last_copied_off_site(store: Engine) -> None:
    from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind
    from siaga.backup.status import verified_copy_lookup
    from siaga.notify.model import Kind
    from siaga.notify.render import Renderer

    cfg = _config()
    for job in ("portal-files", "portal-db"):
        _snapshot(store, job, "colo", f"{job[-4:]}0001", T0)
        records.mark_verified(store, target="colo", snapshot_id=f"{job[-4:]}0001", at=T0 + dt.timedelta(hours=1))
    alert = Alert(
        id=1,
        rule="leak",
        subject="leak-r1",
        subject_kind=SubjectKind.sensor,
        severity=Severity.critical,
        state=AlertState.firing,
        started_at=T0,
        fired_at=T0,
        summary=Message("sensor.leak.on", {"sensor": "leak-r1"}),
        impact=Impact(room="ruang-server", rack="R1", devices=("srv-web-1",), services=("portal", "absensi")),
    )
    msg = Renderer(cfg, verified_copy_lookup(cfg, store)).render(Kind.page, [alert], "en", T0)
    assert "Last verified off-site copy of Portal: 16 Jul 2026 14:00 WITA" in msg.full
    assert "Last verified off-site copy of Absensi: no verified off-site copy yet" in msg.full
