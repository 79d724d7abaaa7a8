"""Shutdowns through the servers' BMCs, against real ones on loopback: sushy-tools' Redfish emulator (fake
driver) and a BMC built on pyghmi's IPMI simulator, driven by ipmitool. The order follows the inventory and
each host is off (its BMC says so) before the next is asked; a BMC that refuses or is gone stops the runbook
and pages; a dry run asks no BMC anything that changes it."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

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
def _english():
    set_language("en")  # the steps' lines are in the runner's language
    yield
    set_language(None)


class Pager:
    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []

    def system_alert(self, component: str, active: bool, **kw: Any) -> None:
        self.pages.append({"component": component, "active": active, **kw})


def site(tmp_path: Path, redfish: Any, ipmi: Any, *, redfish_password: str | None = None) -> Path:
    """srv-web (Redfish) runs the portal, which needs db-utama on srv-db (IPMI): srv-web stops first. Without
    ``redfish`` srv-web has no host entry (left to people)."""
    password_file = redfish.password_file if redfish is not None else ""
    if redfish_password is not None:
        password_file = str(tmp_path / "wrong-password")
        Path(password_file).write_text(redfish_password + "\n")
    cfg: dict[str, Any] = {
        "site": {"name": "Diskominfo Bontang", "language": "en"},
        "store": {"data_dir": str(tmp_path / "data")},
        "rooms": [{"id": "ruang-server", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "ruang-server"}],
        "devices": [
            {"id": "srv-db", "kind": "server", "rack": "R1", "u": 1},
            {"id": "srv-web", "kind": "server", "rack": "R1", "u": 3},
        ],
        "services": [
            {"id": "db-utama", "name": "Database", "runs_on": ["srv-db"]},
            {"id": "portal", "name": "Portal", "runs_on": ["srv-web"], "depends_on": ["db-utama"]},
        ],
        "runbooks": {
            "hosts": [
                *([{"device": "srv-web", "bmc": {"protocol": "redfish", "address": redfish.url, "user": redfish.user,
                                                 "password_file": password_file,
                                                 "system": redfish.systems["srv-web"]}}] if redfish else []),
                {"device": "srv-db", "bmc": {"protocol": "ipmi", "address": "127.0.0.1", "port": ipmi.port,
                                             "user": ipmi.user, "password_file": ipmi.password_file,
                                             "cipher_suite": 3}},
            ],
            "books": [{"id": "shutdown-r1", "steps": [{"kind": "shutdown", "target": "R1", "off_wait": "8s",
                                                        "timeout": "15s"}]}],
        },
    }
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def run(path: Path, pager: Pager | None = None) -> Any:
    cfg = parse_config(path.read_text())
    p = plan(cfg.runbooks.book("shutdown-r1"), Inventory.from_config(cfg), cfg.runbooks, NOW)  # type: ignore[arg-type]
    return asyncio.run(run_plan(p, StepContext(base_dir=path.parent, poll_s=0.1), pager=pager))


def check_web(redfish: Any) -> dict[str, str]:
    return {"url": f"{redfish.url}/redfish/v1/Systems/{redfish.systems['srv-web']}",
            "auth": f"{redfish.user}:{redfish.password}"}


def test_shutdown_follows_the_inventory_and_waits_for_each_power_state(tmp_path, redfish_bmc, ipmi_bmc):
    redfish = redfish_bmc("srv-web", "srv-other")
    ipmi = ipmi_bmc(delay=0.5, check=check_web(redfish))  # it notes whether srv-web was off when asked
    path = site(tmp_path, redfish, ipmi)
    result = run(path)
    assert result.status == "done", result.as_json()
    assert [(s.action.subject, s.action.via) for s in result.steps] == [("srv-web", "redfish"), ("srv-db", "ipmi")]
    assert redfish.resets() == ["srv-web"]  # one GracefulShutdown, to its own system only
    assert redfish.power("srv-web") == "Off" and redfish.power("srv-other") == "On"
    events = [e["event"] for e in ipmi.events()]
    assert events == ["started", "soft-off (other server Off)", "off"]  # asked only once srv-web was off
    assert ipmi.power() == "off"
    web, db = (s.outcome for s in result.steps)
    assert web.facts["power_before"] == "on" and web.facts["off_check"] == "power"
    assert db.facts["power_before"] == "on" and db.facts["waited_s"] >= 0.3  # it waited for the soft off
    again = run(path)  # a second run finds both off and asks neither BMC again
    assert again.status == "done" and [s.outcome.facts["power_before"] for s in again.steps] == ["off", "off"]
    assert redfish.resets() == ["srv-web"] and [e["event"] for e in ipmi.events()] == events


def test_a_bmc_refusing_the_password_stops_the_runbook_and_pages(tmp_path, redfish_bmc, ipmi_bmc):
    redfish, ipmi = redfish_bmc("srv-web"), ipmi_bmc()
    pager = Pager()
    result = run(site(tmp_path, redfish, ipmi, redfish_password="salah"), pager)
    assert result.status == "failed"
    assert [s.outcome.ok for s in result.steps] == [False]
    assert "wrong user or password" in result.steps[0].outcome.text()
    assert redfish.resets() == [] and redfish.power("srv-web") == "On"
    assert [e["event"] for e in ipmi.events()] == ["started"]  # the database server was left alone
    assert [(p["component"], p["rule"], p["active"]) for p in pager.pages] == [
        ("runbook:shutdown-r1", "runbook.failed", True)]


def test_a_stopped_bmc_fails_at_once_and_pages(tmp_path, redfish_bmc, ipmi_bmc):
    redfish, ipmi = redfish_bmc("srv-web", own=True), ipmi_bmc()
    redfish.stop()
    pager = Pager()
    begin = time.monotonic()
    result = run(site(tmp_path, redfish, ipmi), pager)
    assert time.monotonic() - begin < 5  # refused connections are not waited out
    assert result.status == "failed" and len(result.steps) == 1
    assert "Redfish" in result.steps[0].outcome.text()
    assert [e["event"] for e in ipmi.events()] == ["started"]
    assert [p["rule"] for p in pager.pages] == ["runbook.failed"]


def test_an_ipmi_bmc_with_a_wrong_password_fails_the_step(tmp_path, ipmi_bmc):
    ipmi = ipmi_bmc()
    Path(ipmi.password_file).write_text("salah\n")
    result = run(site(tmp_path, None, ipmi), Pager())
    assert result.status == "failed"
    assert [(s.action.subject, s.outcome.ok) for s in result.steps] == [("srv-db", False)]
    assert "IPMI 127.0.0.1" in result.steps[0].outcome.text()
    assert ipmi.power() == "on" and [e["event"] for e in ipmi.events()] == ["started"]


def test_dry_run_shows_the_method_and_asks_no_bmc_to_change(tmp_path, redfish_bmc, ipmi_bmc):
    redfish, ipmi = redfish_bmc("srv-web"), ipmi_bmc()
    path = site(tmp_path, redfish, ipmi)
    out = CliRunner().invoke(app, ["runbook", "run", "shutdown-r1", "--dry-run", "--config", str(path)])
    assert out.exit_code == 0, out.output
    assert "Redfish GracefulShutdown at " + redfish.url in out.output
    assert "IPMI soft power off at 127.0.0.1:" in out.output
    assert "as its host entry has a BMC and no SSH key" in out.output
    assert "nothing was changed" in out.output
    out = CliRunner().invoke(app, ["runbook", "plan", "shutdown-r1", "--json", "--config", str(path)])
    actions = json.loads(out.output)["actions"]
    assert [(a["subject"], a["via"], a["off_check"]) for a in actions] == [
        ("srv-web", "redfish", "power"), ("srv-db", "ipmi", "power")]
    assert redfish.resets() == [] and redfish.power("srv-web") == "On"
    assert [e["event"] for e in ipmi.events()] == ["started"] and ipmi.power() == "on"


@pytest.fixture
def netns(tmp_path: Path) -> Any:
    """A network namespace of this test with a veth pair: 10.99.0.2 on v0, and on v1 the host 10.99.0.1 that
    answers ping until its address is taken away (then ARP goes unanswered, as for a server that is off);
    and a ``ping`` that runs inside it."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("ip") is None or shutil.which("ping") is None:
        pytest.skip("needs root, iproute2 and ping (Debian: apt-get install iputils-ping)")
    name = f"siaga-bmc-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        for cmd in ("link set lo up", "link add v0 type veth peer name v1", "addr add 10.99.0.2/24 dev v0",
                    "addr add 10.99.0.1/24 dev v1", "link set v0 up", "link set v1 up"):
            subprocess.run(["ip", "netns", "exec", name, "ip", *cmd.split()], check=True)
        wrapper = tmp_path / "ping-in-netns"
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} ping "$@"\n')
        wrapper.chmod(0o755)
        yield name, str(wrapper)
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=False)


def test_the_ping_off_check_waits_until_the_host_stops_answering(tmp_path, netns):
    import subprocess
    import threading

    from siaga.runbooks.steps.power import wait_off

    name, ping = netns
    cfg = parse_config(yaml.safe_dump({
        "site": {"name": "Bontang"}, "rooms": [{"id": "room", "name": "Ruang"}],
        "racks": [{"id": "R1", "room": "room"}], "devices": [{"id": "srv", "kind": "server", "rack": "R1"}],
        "runbooks": {"hosts": [{"device": "srv", "address": "10.99.0.1", "off_check": "ping",
                                "bmc": {"protocol": "ipmi", "address": "10.99.0.9", "user": "u",
                                        "password_file": "p"}}],
                     "books": [{"id": "off", "steps": [{"kind": "shutdown", "target": "R1", "off_wait": "6s"}]}]},
    }))
    action = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW).actions[0]
    ctx = StepContext(ping=ping, poll_s=0.1)
    gone = threading.Timer(0.6, subprocess.run, (["ip", "netns", "exec", name, "ip", "addr", "del", "10.99.0.1/24",
                                                 "dev", "v1"],))
    gone.start()
    try:
        out = asyncio.run(wait_off(action, ctx))
    finally:
        gone.join()
    assert out.ok, out.text()
    assert out.facts["waited_s"] >= 0.5 and "silent to ping" in out.text()


def test_a_power_step_waits_for_the_bmc_to_report_the_host_off(tmp_path, ipmi_bmc):
    import os
    import subprocess

    ipmi = ipmi_bmc(delay=0.5)
    cfg = parse_config(yaml.safe_dump({
        "site": {"name": "Bontang"}, "rooms": [{"id": "room", "name": "Ruang"}],
        "racks": [{"id": "R1", "room": "room"}], "devices": [{"id": "srv-db", "kind": "server", "rack": "R1"}],
        "runbooks": {"hosts": [{"device": "srv-db", "bmc": {  # the password from the environment this time
            "protocol": "ipmi", "address": "127.0.0.1", "port": ipmi.port, "user": ipmi.user,
            "password": "${SIAGA_BMC_PASSWORD}", "cipher_suite": 3}}],
            "books": [{"id": "wait-db", "steps": [{"kind": "power", "device": "srv-db", "timeout": "5s"},
                                                  {"kind": "power", "device": "srv-db", "until": "on",
                                                   "timeout": "1s"}]}]},
    }))
    p = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW)
    # someone else presses the power button (a soft off); the runbook only waits for it
    subprocess.run(["ipmitool", "-I", "lanplus", "-C", "3", "-H", "127.0.0.1", "-p", str(ipmi.port), "-U", "siaga",
                    "-f", ipmi.password_file, "chassis", "power", "soft"], check=True, capture_output=True)
    environ = {"PATH": os.environ["PATH"], "SIAGA_BMC_PASSWORD": Path(ipmi.password_file).read_text().strip()}
    result = asyncio.run(run_plan(p, StepContext(base_dir=tmp_path, environ=environ, poll_s=0.1)))
    off, on = (s.outcome for s in result.steps)
    assert off.ok and off.facts["waited_s"] >= 0.2, off.text()
    assert not on.ok and on.facts["timed_out"] and "not power on (BMC)" in on.text()
    assert result.status == "failed"
