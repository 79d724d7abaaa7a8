"""The recovery drill of a whole failover runbook (``siaga runbook drill NAME``) on real parts. BIND 9 takes the
TSIG-signed update of the drill name. sshd runs the ssh step's drill command. A restic repository holds the
portal's verified snapshot, restored into the standby web root. A real HTTP server serves that web root.

The production name keeps its address, the shutdown is skipped (the server's stand-in still runs) and the ssh
step runs its drill form. The standby answers its checks. The time from the trigger to that answer is
recorded, and the monthly report, the audit and the /runbooks page show it. A runbook whose dns step has no
drill name is refused before anything runs."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from siaga.cli.main import app

pytestmark = pytest.mark.integration


def answer(bind: Any, name: str = "portal") -> list[str]:
    import dns.message
    import dns.query

    r = dns.query.udp(dns.message.make_query(f"{name}.{bind.zone}", "A"), "127.0.0.1", port=bind.port, timeout=2)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def verified(path: Path) -> None:
    """Mark the job's snapshot verified, as a restore drill does (the drill itself: tests/integration/backup)."""
    from sqlalchemy import update

    from siaga.backup.tables import backup_snapshots
    from siaga.config import load_config
    from siaga.store import create_engine_for, database_url

    engine = create_engine_for(database_url(load_config(path)))
    with engine.begin() as conn:
        assert conn.execute(update(backup_snapshots).values(verified_at=dt.datetime.now(dt.UTC))).rowcount == 1
    engine.dispose()


def _http_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    """The standby's web server: serves whatever ``root`` (a symlink siaga switches) points at."""
    return subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                             "--directory", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_the_drill_runs_the_failover_against_the_standby_without_touching_production(
    tmp_path: Path, sshd: Any, standins: Any, bind: Any, free_port: int
) -> None:
    from siaga.backup.restic.binary import find_restic
    from siaga.backup.restic.errors import ResticError

    try:
        find_restic()
    except ResticError as exc:
        pytest.skip(str(exc))
    web = standins(0.0)  # the production web server: a drill must not stop it
    log = tmp_path / "calls.log"
    src = tmp_path / "portal" / "www"
    src.mkdir(parents=True)
    (src / "index.html").write_text("<h1>Portal Bontang</h1>\n")
    (tmp_path / "pw").write_text("rahasia\n")
    web_root = tmp_path / "standby" / "www"
    web_root.parent.mkdir()
    host = {"device": "srv-web", "address": "127.0.0.1", "port": sshd.port, "key_file": sshd.identity_file,
            "known_hosts_file": sshd.known_hosts_file, "command": f"echo shutdown >> {log}; kill {web.pid}",
            "off_port": web.port}
    cfg: dict[str, Any] = {
        "site": {"name": "Colo Kaltim", "language": "en", "timezone": "Asia/Makassar"},
        "store": {"data_dir": str(tmp_path / "data")},
        "rooms": [{"id": "ruang-server", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "ruang-server"}],
        "devices": [{"id": "srv-web", "kind": "server", "rack": "R1", "u": 3}],
        "services": [{"id": "portal", "name": "Portal", "runs_on": ["srv-web"]}],
        "targets": [{"id": "colo", "type": "local", "path": str(tmp_path / "repo"), "password_file": "pw",
                     "offsite": True}],
        "backups": [{"id": "portal-files", "target": "colo", "services": ["portal"], "paths": [str(src)],
                     "rpo": "1h"}],
        "checks": [{"type": "http", "service": "portal", "url": "http://bontangkota.go.id/",
                    "keyword": "Portal Bontang"}],
        "standbys": [{"service": "portal", "web_root": str(web_root), "command": ["true"],
                      "check_url": f"http://127.0.0.1:{free_port}", "answer_within_s": 10}],
        "runbooks": {
            "hosts": [host],
            "dns": [{"id": "ns", "address": "127.0.0.1", "port": bind.port, "zone": bind.zone,
                     "tsig_name": bind.key_name, "tsig_secret_file": bind.secret_file}],
            "books": [
                {"id": "failover-portal", "mode": "approve", "trigger": {"rule": "peer.silent"}, "steps": [
                    {"kind": "shutdown", "target": "R1", "off_wait": "5s"},
                    {"kind": "ssh", "device": "srv-web", "command": f"echo production >> {log}",
                     "drill_command": f"echo drill >> {log}"},
                    {"kind": "standby", "service": "portal"},
                    {"kind": "dns", "server": "ns", "name": "portal", "address": "127.0.0.1",
                     "drill_name": "portal-drill"},
                ]},
                {"id": "failover-bare", "steps": [
                    {"kind": "dns", "server": "ns", "name": "portal", "address": "127.0.0.1"}]},
            ],
        },
    }
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()

    def siaga(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", str(path)])
        return result.exit_code, result.output

    code, out = siaga("runbook", "drill", "failover-bare")
    assert code == 2 and "drill_name" in out, out  # it would change the production name: refused, nothing ran
    assert answer(bind) == ["10.0.0.10"]

    for step in (("backup", "init", "colo"), ("backup", "run", "portal-files")):
        assert siaga(*step)[0] == 0, step
    verified(path)
    server = _http_server(web_root, free_port)
    try:
        code, out = siaga("runbook", "drill", "failover-portal", "--json")
        assert code == 0, out
        drilled = json.loads(out)
        with urllib.request.urlopen(f"http://127.0.0.1:{free_port}/", timeout=5) as resp:
            assert "Portal Bontang" in resp.read().decode()  # the standby serves the restored portal
    finally:
        server.terminate()
        server.wait(5)
    assert drilled["ok"] and drilled["rto_s"] > 0
    assert [(s["kind"], s["subject"]) for s in drilled["skipped"]] == [("shutdown", "srv-web")]
    assert [(s["kind"], s["subject"], s["ok"]) for s in drilled["steps"]] == [
        ("ssh", "srv-web", True), ("standby", "portal", True), ("dns", "portal-drill", True)]
    assert [(a["what"], a["ok"]) for a in drilled["answers"]] == [("standby portal", True), ("dns portal-drill", True)]
    # production untouched: the name keeps its address, the server was not stopped, its command never ran
    assert answer(bind) == ["10.0.0.10"] and answer(bind, "portal-drill") == ["127.0.0.1"]
    assert web.running() and log.read_text().split() == ["drill"]

    from siaga.config import load_config
    from siaga.reports import sections  # noqa: F401 - registers the sections
    from siaga.reports.monthly import Month, load_monthly_report
    from siaga.standby.actions import last_run
    from siaga.store import create_engine_for, database_url
    from siaga.store.events import recent_events

    loaded = load_config(path)
    engine = create_engine_for(database_url(loaded))
    with engine.connect() as conn:
        kinds = {e.kind for e in recent_events(conn, subject="failover-portal")}
    assert {"runbook.drill.started", "runbook.drill.step", "runbook.drill.ended",
            "audit.runbook.drill.ended"} <= kinds
    assert not {k for k in kinds if k.startswith("runbook.run.")}  # a drill is not a run
    standby = last_run(engine, "portal", kind="drill")
    assert standby is not None and standby["ok"]

    now = dt.datetime.now(dt.UTC)
    local = now.astimezone(dt.timezone(dt.timedelta(hours=8)))
    report = load_monthly_report(engine, loaded.config, Month(local.year, local.month, "Asia/Makassar"), now)
    (row, bare) = report.sections["runbook_drills"]
    assert row["runbook"] == "failover-portal" and row["drill_ok"] and row["rto_s"] == drilled["rto_s"]
    assert bare["runbook"] == "failover-bare" and bare["drill_ok"] is None
    engine.dispose()
    code, out = siaga("audit", "--lang", "en")
    assert "Runbook failover-bare: no successful recovery drill" in out, out
    rto = f"{drilled['rto_s']:.1f}"
    assert f"Runbook failover-portal: the whole failover drilled, the service answered from the standby {rto} s" in out


async def test_a_failing_step_fails_the_drill_and_is_recorded_without_a_time() -> None:
    import socket

    from siaga.config import parse_config
    from siaga.inventory import Inventory
    from siaga.runbooks import plan
    from siaga.runbooks.drill import run_drill
    from siaga.runbooks.steps import StepContext

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = parse_config(yaml.safe_dump({"site": {"name": "Colo"}, "runbooks": {"books": [{"id": "failover", "steps": [
        {"kind": "wait", "address": "127.0.0.1", "port": port, "until": "open", "timeout": "1s"}]}]}}))
    book = cfg.runbooks.book("failover")
    assert book is not None
    lines: list[tuple[str, dict[str, object]]] = []
    now = dt.datetime.now(dt.UTC)
    result = await run_drill(plan(book, Inventory.from_config(cfg), cfg.runbooks, now), cfg.runbooks,
                             StepContext(poll_s=0.05), clock=lambda: now,
                             record=lambda k, d: lines.append((k, dict(d))))
    assert not result.ok and result.rto_s is None
    assert "step 1 (wait" in result.as_json()["error"] and "still does not answer" in result.as_json()["error"]
    assert "langkah 1 (wait" in result.as_json("id")["error"]  # kept as a message key, worded per reader
    assert [k for k, _ in lines] == ["runbook.drill.started", "runbook.drill.step", "runbook.drill.ended"]
    assert lines[-1][1]["ok"] is False and lines[-1][1]["rto_s"] is None
