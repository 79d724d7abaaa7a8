"""Runbooks against real parts: a shutdown over a real sshd (tests/conftest.py) in dependency order,
waiting for each stand-in server's port to close; DNS failover and failback on BIND 9 by TSIG-signed updates;
a failing step stops the runbook; a dry run changes nothing
(the sshd command log stays empty, the DNS answer unchanged)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest
import yaml
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.config import parse_config
from siaga.i18n import set_language
from siaga.inventory import Inventory
from siaga.runbooks import plan
from siaga.runbooks.engine import run_plan
from siaga.runbooks.steps import StepContext

pytestmark = pytest.mark.integration
NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _reset_language():
    yield
    set_language(None)


def answer(bind: Any, name: str = "portal") -> list[str]:
    q = dns.message.make_query(f"{name}.{bind.zone}", "A")
    r = dns.query.udp(q, "127.0.0.1", port=bind.port, timeout=2)
    return sorted(rd.to_text() for rrset in r.answer for rd in rrset)


def site(tmp_path: Path, sshd: Any, web: Any, db: Any, bind: Any | None, *, web_command: str | None = None) -> Path:
    log = tmp_path / "calls.log"

    def host(device: str, standin: Any, command: str) -> dict[str, Any]:
        return {"device": device, "address": "127.0.0.1", "port": sshd.port, "key_file": sshd.identity_file,
                "known_hosts_file": sshd.known_hosts_file, "command": command, "off_port": standin.port}

    # the db's command notes whether the web server's port was still open: the runbook must have waited
    db_cmd = (f"echo srv-db >> {log}; (python3 -c 'import socket,sys; s=socket.socket(); "
              f"sys.exit(s.connect_ex((\"127.0.0.1\",{web.port}))==0)' && echo web-was-off || echo web-was-on) "
              f">> {log}; kill {db.pid}")
    cfg: dict[str, Any] = {
        "site": {"name": "Diskominfo Bontang", "language": "en"},
        "store": {"data_dir": str(tmp_path / "data")},
        "rooms": [{"id": "ruang-server", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "ruang-server"}],
        "devices": [
            {"id": "srv-db", "kind": "server", "rack": "R1", "u": 1},
            {"id": "srv-web", "kind": "server", "rack": "R1", "u": 3},
            {"id": "sw-1", "kind": "switch", "rack": "R1", "u": 40},
            {"id": "srv-spare", "kind": "server", "rack": "R1", "u": 10},
        ],
        "services": [
            {"id": "db-utama", "name": "Database", "runs_on": ["srv-db"]},
            {"id": "portal", "name": "Portal", "runs_on": ["srv-web"], "depends_on": ["db-utama"]},
        ],
        "runbooks": {
            "hosts": [host("srv-web", web, web_command or f"echo srv-web >> {log}; kill {web.pid}"),
                      host("srv-db", db, db_cmd)],
            "books": [{"id": "shutdown-r1", "mode": "manual", "trigger": {"rule": "leak", "subject": "R1"},
                       "steps": [{"kind": "shutdown", "target": "R1", "off_wait": "10s", "timeout": "30s"}]}],
        },
    }
    if bind is not None:
        cfg["runbooks"]["dns"] = [{"id": "ns", "address": "127.0.0.1", "port": bind.port, "zone": bind.zone,
                                   "tsig_name": bind.key_name, "tsig_secret_file": bind.secret_file}]
        cfg["runbooks"]["books"] += [
            {"id": "failover", "steps": [{"kind": "dns", "server": "ns", "name": "portal", "address": "10.9.0.5"}]},
            {"id": "failback", "steps": [{"kind": "dns", "server": "ns", "name": "portal", "address": "10.0.0.10"}]},
        ]
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def run(path: Path, book: str) -> Any:
    cfg = parse_config(path.read_text())
    p = plan(cfg.runbooks.book(book), Inventory.from_config(cfg), cfg.runbooks, NOW)  # type: ignore[arg-type]
    lines: list[tuple[str, dict[str, Any]]] = []
    result = asyncio.run(run_plan(p, StepContext(base_dir=path.parent, poll_s=0.05),
                                  record=lambda k, d: lines.append((k, dict(d)))))
    return result, lines


def test_shutdown_stops_the_application_first_and_waits_for_it_to_be_off(tmp_path, sshd, standins):
    web, db = standins(1.5), standins(0.0)  # the web server takes a moment to go down
    path = site(tmp_path, sshd, web, db, None)
    result, lines = run(path, "shutdown-r1")
    assert result.status == "done", result.as_json()
    assert (tmp_path / "calls.log").read_text().split() == ["srv-web", "srv-db", "web-was-off"]
    assert web.proc.wait(5) == 0 and db.proc.wait(5) == 0  # both stopped (by their SIGTERM)
    assert [s.action.subject for s in result.steps] == ["srv-web", "srv-db"]
    assert [k for k, _ in lines] == ["runbook.run.started", "runbook.step", "runbook.step", "runbook.run.ended"]


def test_a_failing_step_stops_the_runbook(tmp_path, sshd, standins):
    web, db = standins(0.0), standins(0.0)
    path = site(tmp_path, sshd, web, db, None, web_command=f"echo srv-web >> {tmp_path / 'calls.log'}; exit 3")
    result, lines = run(path, "shutdown-r1")
    assert result.status == "failed"
    assert [s.outcome.ok for s in result.steps] == [False]
    assert result.steps[0].outcome.facts["exit_code"] == 3
    assert (tmp_path / "calls.log").read_text().split() == ["srv-web"]  # the database was left alone
    assert web.running() and db.running()
    assert lines[-1] == ("runbook.run.ended", {"runbook": "shutdown-r1", "dry_run": False, "status": "failed"})


def test_dns_failover_then_failback_on_bind(tmp_path, sshd, standins, bind):
    web, db = standins(0.0), standins(0.0)
    path = site(tmp_path, sshd, web, db, bind)
    assert answer(bind) == ["10.0.0.10"]
    result, _ = run(path, "failover")
    assert result.status == "done", result.as_json()
    assert answer(bind) == ["10.9.0.5"]
    facts = result.steps[0].outcome.facts
    assert facts["old"] == ["10.0.0.10"] and facts["old_ttl"] == 300
    assert "up to 300 s" in result.steps[0].outcome.text()
    result, _ = run(path, "failback")
    assert result.status == "done"
    assert answer(bind) == ["10.0.0.10"]


def test_a_wrong_tsig_key_is_refused_and_changes_nothing(tmp_path, sshd, standins, bind):
    web, db = standins(0.0), standins(0.0)
    Path(bind.secret_file).write_text("d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgISE=\n")
    path = site(tmp_path, sshd, web, db, bind)
    result, _ = run(path, "failover")
    assert result.status == "failed"
    assert answer(bind) == ["10.0.0.10"]


def test_dry_run_changes_nothing_on_any_real_part(tmp_path, sshd, standins, bind):
    web, db = standins(0.0), standins(0.0)
    path = site(tmp_path, sshd, web, db, bind)
    runner = CliRunner()
    for book in ("shutdown-r1", "failover"):
        out = runner.invoke(app, ["runbook", "run", book, "--dry-run", "--config", str(path)])
        assert out.exit_code == 0, out.output
        assert "nothing was changed" in out.output
    assert not (tmp_path / "calls.log").exists()
    assert web.running() and db.running()
    assert answer(bind) == ["10.0.0.10"]
    out = runner.invoke(app, ["runbook", "plan", "shutdown-r1", "--json", "--config", str(path)])
    data = json.loads(out.output)
    assert [a["subject"] for a in data["actions"]] == ["srv-web", "srv-db"]
    assert {x["device"]: x["reason"] for x in data["left"]} == {"sw-1": "kept_on", "srv-spare": "unreachable"}


def test_run_records_every_step_in_the_timeline_and_the_audit_log(tmp_path, sshd, standins, bind):
    from siaga.config import load_config
    from siaga.store import create_engine_for, database_url
    from siaga.store.events import recent_events

    web, db = standins(0.0), standins(0.0)
    path = site(tmp_path, sshd, web, db, bind)
    out = CliRunner().invoke(app, ["runbook", "run", "failover", "--json", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["status"] == "done"
    engine = create_engine_for(database_url(load_config(path)))
    with engine.connect() as conn:
        kinds = [e.kind for e in reversed(recent_events(conn, subject="failover"))]
    assert kinds == ["runbook.run.started", "audit.runbook.run.started", "runbook.step", "audit.runbook.step",
                     "runbook.run.ended", "audit.runbook.run.ended"]
