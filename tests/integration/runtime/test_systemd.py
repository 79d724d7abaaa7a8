"""The shipped systemd unit (deploy/systemd/siaga.service). ``siaga serve`` under a real notify socket:
tests/unit/runtime/test_systemd_notify.py and the crash_loop drill in tests/faults."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from siaga.cli.main import app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "deploy" / "systemd" / "siaga.service"
SYSUSERS = ROOT / "deploy" / "systemd" / "siaga.sysusers"


def _settings(text: str) -> dict[str, list[str]]:
    """``key -> values`` of a unit file (keys may repeat; comments and sections dropped)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_restarts_always_notifies_has_a_watchdog_and_is_hardened() -> None:
    s = _settings(UNIT.read_text(encoding="utf-8"))
    assert s["Type"] == ["notify"] and s["Restart"] == ["always"] and s["StartLimitIntervalSec"] == ["0"]
    assert s["WatchdogSec"] == ["30s"]
    assert s["User"] == ["siaga"] and s["Group"] == ["siaga"]
    assert "u siaga " in SYSUSERS.read_text(encoding="utf-8")
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}.items():
        assert s[key] == [value], key
    assert s["ReadWritePaths"] == ["/var/lib/siaga /var/lib/siaga-spool"]  # data dir, spool (not /var/tmp)
    assert s["StateDirectory"] == ["siaga siaga-spool"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_the_units_command_line_is_one_siaga_serve_accepts() -> None:
    [exec_start] = _settings(UNIT.read_text(encoding="utf-8"))["ExecStart"]
    argv = exec_start.split()
    assert argv[0].endswith("/siaga") and argv[1] == "serve"
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    known = {o for p in serve.params for o in getattr(p, "opts", [])}
    assert {a for a in argv[2:] if a.startswith("--")} <= known


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt: systemd)")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify wants the binary to exist: point ExecStart at this checkout's siaga for the check
    siaga = Path(sys.executable).parent / "siaga"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/siaga/venv/bin/siaga", str(siaga))
    unit = tmp_path / "siaga.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    problems = [ln for ln in done.stderr.splitlines() if "siaga.service" in ln]
    assert problems == []  # unknown keys and bad values are only warnings: hold them to nothing too


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt: systemd)")
def test_the_unit_is_exposed_little_by_systemds_own_measure(tmp_path: Path) -> None:
    siaga = Path(sys.executable).parent / "siaga"
    unit = tmp_path / "siaga.service"
    unit.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/siaga/venv/bin/siaga", str(siaga)), encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=25", str(unit)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    [overall] = [ln for ln in done.stdout.splitlines() if "Overall exposure level" in ln]
    assert done.returncode == 0, overall  # the threshold is on systemd's 0-100 scale: 2.5 of 10 at most
    assert float(overall.split(":")[1].split()[0]) <= 2.5, overall
