"""Warm standbys on real parts: a restic repository, nginx serving the standby web root siaga restores, and
PostgreSQL as the standby database loaded from a dump. Only verified snapshots are restored; a failed refresh
leaves the previous standby serving; an old standby is a standby.stale condition."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from siaga.backup.manager import BackupManager
from siaga.backup.site import in_english
from siaga.config import parse_config
from siaga.standby.actions import drill as standby_drill
from siaga.standby.actions import last_run, refresh, standby_conditions

if TYPE_CHECKING:
    from conftest import SftpServer, Site

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@dataclass
class Nginx:
    port: int
    web_root: Path
    conf: Path

    def get(self, path: str = "/") -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
            return str(resp.read().decode())

    @property
    def reload(self) -> list[str]:
        return [NGINX, "-c", str(self.conf), "-s", "reload"]


@pytest.fixture
def nginx(tmp_path: Path, free_port: int) -> Iterator[Nginx]:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    run = tmp_path / "nginx"
    run.mkdir()
    port = free_port
    web_root = tmp_path / "standby" / "www"
    web_root.parent.mkdir()
    temps = "\n".join(f"  {k}_temp_path {run / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = run / "nginx.conf"
    conf.write_text(
        f"user root;\nworker_processes 1;\npid {run / 'nginx.pid'};\nerror_log {run / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temps}\n"
        f"  server {{ listen 127.0.0.1:{port}; root {web_root}; location / {{ }} }}\n}}\n"
    )
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except urllib.error.HTTPError:
            break  # it answers (404: nothing restored yet)
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"nginx did not start: {proc.stderr.read() if proc.stderr else ''!r}")
            time.sleep(0.05)
    yield Nginx(port, web_root, conf)
    proc.terminate()
    proc.wait(10)


def _write_site(src: Path, version: str) -> None:
    src.mkdir(parents=True, exist_ok=True)
    (src / "index.html").write_text(f"<h1>Portal Bontang</h1><p>{version}</p>\n")
    (src / "berita").mkdir(exist_ok=True)
    (src / "berita" / "banjir.html").write_text(f"berita {version}\n" * 50)


def _manager(site: Site, nginx: Nginx, src: Path, *, extra: dict[str, Any] | None = None,
             target: dict[str, Any] | None = None) -> BackupManager:
    doc: dict[str, Any] = {
        "site": {"name": "Test", "timezone": "Asia/Makassar"},
        "services": [{"id": "portal", "name": "Portal"}],
        "targets": [target or {"id": "colo", "type": "local", "path": str(site.tmp / "repo"),
                               "password_file": site.password(), "offsite": True}],
        "backups": [{"id": "portal-files", "target": "colo", "services": ["portal"], "paths": [str(src)],
                     "rpo": "1h"}],
        "checks": [{"type": "http", "service": "portal", "url": "http://bontangkota.go.id/",
                    "keyword": "Portal Bontang", "timeout_s": 5}],
        "standbys": [{"service": "portal", "web_root": str(nginx.web_root), "command": nginx.reload,
                      "check_url": f"http://127.0.0.1:{nginx.port}", **(extra or {})}],
        "runbooks": {"books": [{"id": "ambil-alih", "steps": [{"kind": "standby", "service": "portal"}]}]},
    }
    cfg = parse_config(yaml.safe_dump(doc), str(site.tmp / "siaga.yaml"))
    return BackupManager(cfg, engine=site.engine, base_dir=site.tmp, restic=site.restic, sink=site.sink)


async def test_the_standby_serves_the_newest_verified_snapshot_and_keeps_serving_when_a_refresh_fails(
    site: Site, nginx: Nginx
) -> None:
    src = site.tmp / "portal" / "www"
    _write_site(src, "versi 1")
    mgr = _manager(site, nginx, src)
    await mgr.init_target("colo")
    assert (await mgr.run_job("portal-files")).ok

    # No verified snapshot yet: nothing is restored, the refresh fails and says why.
    first = await refresh(mgr, "portal")
    assert not first.ok and "no verified snapshot" in in_english(first.error)
    assert not nginx.web_root.exists()

    assert (await mgr.drill("portal-files")).ok  # verifies versi 1
    _write_site(src, "versi 2")
    assert (await mgr.run_job("portal-files")).ok  # newer, not verified

    done = await refresh(mgr, "portal")
    assert done.ok, done.error
    assert done.checks_ok and [c.ok for c in done.checks] == [True]
    assert "versi 1" in nginx.get() and "versi 2" not in nginx.get()
    assert nginx.web_root.is_symlink()

    assert (await mgr.drill("portal-files")).ok  # now versi 2 is verified
    assert (await refresh(mgr, "portal")).ok
    assert "versi 2" in nginx.get()

    # A newer verified snapshot whose restore fails half-way (its data lost): the previous one keeps serving.
    _write_site(src, "versi 3")
    assert (await mgr.run_job("portal-files")).ok
    assert (await mgr.drill("portal-files")).ok
    for index in (site.tmp / "repo" / "index").iterdir():
        index.unlink()  # restic no longer finds the snapshot's data
    broken = await refresh(mgr, "portal")
    assert not broken.ok and broken.error
    assert "versi 2" in nginx.get() and "versi 2" in nginx.get("/berita/banjir.html")
    assert not any("versi 3" in p.read_text() for p in nginx.web_root.resolve().rglob("*.html"))
    rules = {c.rule for c in standby_conditions(mgr, mgr.clock()) if c.active}
    assert rules == {"standby.failed"}

    # The warm drill: reload and answer the checks from the standby, recorded.
    drilled = await standby_drill(mgr, "portal")
    assert drilled.ok and drilled.took_s is not None
    row = last_run(site.engine, "portal", kind="drill")
    assert row is not None and row["ok"] and row["took_s"] == drilled.took_s

    # The monthly report shows the last recovery drill's time.
    from siaga.reports import sections  # noqa: F401 - registers the sections
    from siaga.reports.incident import format_duration
    from siaga.reports.monthly import Month, load_monthly_report
    from siaga.reports.render import render_html

    now = mgr.clock()
    local = now.astimezone(mgr.tz)
    report = load_monthly_report(site.engine, mgr.config, Month(local.year, local.month, "Asia/Makassar"), now)
    (row_s,) = report.sections["standbys"]
    assert row_s["service"] == "portal" and row_s["drill_ok"] and row_s["drill_s"] == drilled.took_s
    html = render_html("monthly.html", {"r": report, "generated_at": now, "month_name": "Desember",
                                        "duration": lambda d: format_duration(d, "id"),
                                        "seconds": lambda s: dt.timedelta(seconds=s), "sla_labels": {}},
                       lang="id", timezone="Asia/Makassar")
    assert "Standby hangat dan latihan pemulihan" in html

    # The runbook's standby step: the same switch, through the runbook engine.
    from siaga.inventory import Inventory
    from siaga.runbooks.engine import run_plan
    from siaga.runbooks.plan import plan
    from siaga.runbooks.steps import Outcome, StepContext
    from siaga.standby.actions import activate

    async def take_over(service: str) -> Outcome:
        return Outcome(*await activate(mgr, service))

    cfg = mgr.config
    p = plan(cfg.runbooks.book("ambil-alih"), Inventory.from_config(cfg), cfg.runbooks, mgr.clock())  # type: ignore[arg-type]
    assert [(a.kind, a.subject) for a in p.actions] == [("standby", "portal")]
    ran = await run_plan(p, StepContext(standby=take_over))
    assert ran.status == "done", ran.as_json()
    assert "answers its checks" in ran.steps[0].outcome.text()
    assert last_run(site.engine, "portal", kind="activate") is not None
    assert (await run_plan(p, StepContext())).status == "failed"  # no standby here: the step fails, said why


async def test_the_standby_restores_the_web_root_over_sftp_from_the_newest_verified_snapshot_only(
    site: Site, nginx: Nginx, sshd: SftpServer
) -> None:
    """The repository is at the colocation's sshd (sftp on loopback, host key pinned): the standby's web root is
    restored from it, from the newest verified snapshot, never from a newer unverified one."""
    from siaga.backup import records

    src = site.tmp / "portal" / "www"
    _write_site(src, "versi 1")
    repo = sshd.root / f"standby-{site.tmp.name}"
    colo = {"id": "colo", "type": "sftp", "host": "127.0.0.1", "port": sshd.port, "user": sshd.user,
            "path": str(repo), "identity_file": sshd.identity_file, "known_hosts_file": sshd.known_hosts_file,
            "password_file": site.password(), "offsite": True}
    mgr = _manager(site, nginx, src, target=colo)
    assert "sftp:root@127.0.0.1:" in await mgr.init_target("colo")
    first = await mgr.run_job("portal-files")
    assert first.ok and first.snapshot_id is not None
    # versi 1 verified, as a restore drill marks it (the drill itself: the test above and test_sftp_target.py)
    records.mark_verified(site.engine, target="colo", snapshot_id=first.snapshot_id, at=mgr.clock())
    _write_site(src, "versi 2")
    newer = await mgr.run_job("portal-files")  # newer, not verified
    assert newer.ok and (repo / "config").exists()

    done = await refresh(mgr, "portal")
    assert done.ok and done.checks_ok, done.error
    assert str(done.files_snapshot)[:8] == first.snapshot_id[:8] != str(newer.snapshot_id)[:8]
    assert "versi 1" in nginx.get() and "versi 2" not in nginx.get("/berita/banjir.html")
    assert (nginx.web_root.resolve() / "index.html").read_text().count("versi 1") == 1


async def test_a_standby_older_than_its_rpo_is_stale_and_a_failing_check_is_an_alert(
    site: Site, nginx: Nginx
) -> None:
    src = site.tmp / "portal" / "www"
    _write_site(src, "versi 1")
    mgr = _manager(site, nginx, src)
    await mgr.init_target("colo")
    assert (await mgr.run_job("portal-files")).ok
    assert (await mgr.drill("portal-files")).ok
    done = await refresh(mgr, "portal")
    assert done.ok and done.data_at is not None
    now = mgr.clock()
    assert not {c.rule for c in standby_conditions(mgr, now) if c.active}
    later = {c.rule: c for c in standby_conditions(mgr, done.data_at + dt.timedelta(minutes=70)) if c.active}
    assert set(later) == {"standby.stale"} and later["standby.stale"].severity.value == "warning"
    much_later = standby_conditions(mgr, done.data_at + dt.timedelta(hours=3))
    assert [c.severity.value for c in much_later if c.active] == ["critical"]

    # The standby's check fails (the page no longer carries the keyword): an alert, not a crash.
    bad = _manager(site, nginx, src, extra={"check_url": "http://127.0.0.1:1", "answer_within_s": 0.5})
    failed = await refresh(bad, "portal")
    assert failed.ok and failed.checks_ok is False
    assert {c.rule for c in standby_conditions(bad, bad.clock()) if c.active} == {"standby.check"}


@pytest.mark.postgres
async def test_the_standby_database_is_loaded_from_the_newest_verified_dump_and_switched_whole(
    site: Site, postgres_admin_url: str
) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(postgres_admin_url)
    host, port = str(url.host), int(url.port or 5432)
    dsn = f"postgresql://postgres@{host}:{port}"
    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        for name in ("portal_prod", "portal_standby"):
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute('CREATE DATABASE "portal_prod"')
    with psycopg.connect(f"{dsn}/portal_prod", autocommit=True) as conn:
        conn.execute("CREATE TABLE berita (id serial PRIMARY KEY, judul text)")
        conn.execute("INSERT INTO berita (judul) SELECT 'berita ' || g FROM generate_series(1, 100) g")
    doc: dict[str, Any] = {
        "site": {"name": "Test", "timezone": "Asia/Makassar"},
        "services": [{"id": "portal", "name": "Portal"}],
        "targets": [{"id": "colo", "type": "local", "path": str(site.tmp / "repo"), "password_file": site.password(),
                     "offsite": True}],
        "backups": [{"id": "portal-db", "target": "colo", "services": ["portal"], "rpo": "1h",
                     "database": {"type": "postgresql", "name": "portal_prod", "host": host, "port": port,
                                  "user": "postgres"},
                     "drill": {"scratch_database_url": f"{dsn}/postgres"}}],
        "standbys": [{"service": "portal", "database_url": f"{dsn}/portal_standby"}],
    }
    cfg = parse_config(yaml.safe_dump(doc), str(site.tmp / "siaga.yaml"))
    mgr = BackupManager(cfg, engine=site.engine, base_dir=site.tmp, restic=site.restic, sink=site.sink)
    await mgr.init_target("colo")
    assert (await mgr.run_job("portal-db")).ok
    assert (await mgr.drill("portal-db")).ok  # 100 rows, verified
    with psycopg.connect(f"{dsn}/portal_prod", autocommit=True) as conn:
        conn.execute("INSERT INTO berita (judul) SELECT 'baru ' || g FROM generate_series(1, 50) g")
    assert (await mgr.run_job("portal-db")).ok  # 150 rows, not verified

    done = await refresh(mgr, "portal")
    assert done.ok, done.error
    with psycopg.connect(f"{dsn}/portal_standby") as conn:
        assert conn.execute("SELECT count(*) FROM berita").fetchone() == (100,)

    assert (await mgr.drill("portal-db")).ok  # now the 150 rows are verified
    assert (await refresh(mgr, "portal")).ok
    with psycopg.connect(f"{dsn}/portal_standby") as conn:
        assert conn.execute("SELECT count(*) FROM berita").fetchone() == (150,)
    with psycopg.connect(f"{dsn}/postgres") as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'portal_standby%'").fetchall()
    assert left == [("portal_standby",)]


def test_the_standby_commands_refresh_drill_and_report(tmp_path: Path, restic_bin: object, nginx: Nginx) -> None:
    import json

    from typer.testing import CliRunner

    from siaga.cli.main import app

    src = tmp_path / "portal" / "www"
    _write_site(src, "versi 1")
    (tmp_path / "pw").write_text("rahasia\n")
    cfg = {
        "site": {"name": "Colo Kaltim", "language": "id"},
        "store": {"data_dir": str(tmp_path / "data")},
        "services": [{"id": "portal", "name": "Portal"}],
        "targets": [{"id": "colo", "type": "local", "path": str(tmp_path / "repo"), "password_file": "pw",
                     "offsite": True}],
        "backups": [{"id": "portal-files", "target": "colo", "services": ["portal"], "paths": [str(src)],
                     "rpo": "1h"}],
        "checks": [{"type": "http", "service": "portal", "url": "http://bontangkota.go.id/",
                    "keyword": "Portal Bontang"}],
        "standbys": [{"service": "portal", "web_root": str(nginx.web_root), "command": nginx.reload,
                      "check_url": f"http://127.0.0.1:{nginx.port}"}],
        "runbooks": {"books": [{"id": "ambil-alih", "steps": [{"kind": "standby", "service": "portal"}]}]},
    }
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()

    def siaga(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", str(path)])
        return result.exit_code, result.output

    for step in (("backup", "init", "colo"), ("backup", "run", "portal-files")):
        assert siaga(*step)[0] == 0
    code, out = siaga("standby", "refresh", "portal")
    assert code == 1 and "belum ada snapshot terverifikasi" in out and "no verified snapshot" not in out, out
    assert siaga("backup", "drill", "portal-files")[0] == 0
    code, out = siaga("standby", "refresh", "portal")
    assert code == 0 and "penyegaran standby portal: berhasil" in out, out
    assert "versi 1" in nginx.get()
    code, out = siaga("standby", "drill", "portal", "--json")
    assert code == 0 and json.loads(out)["ok"] and json.loads(out)["kind"] == "drill", out
    code, out = siaga("standby", "status", "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["drill_ok"] and row["problems"] == [], out
    code, out = siaga("runbook", "run", "ambil-alih")
    assert code == 0 and "menjawab pemeriksaannya" in out, out  # the site speaks Indonesian
    code, out = siaga("audit", "--lang", "en")
    assert code == 0 and "The switch to the warm standby is rehearsed and timed" in out, out
