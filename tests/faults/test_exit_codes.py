"""Exit 0 only for a stop request; a start that cannot succeed exits non-zero in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import running_siaga, siaga_env

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parents[2] / "bench" / "crashing_serve.py"


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "siaga.yaml"
    config.write_text("site: {name: Uji, language: en}\nstore: {data_dir: state}\n"
                      "runtime: {restart_max_pause: 60s}\n", encoding="utf-8")
    return config


def test_sigterm_while_a_component_waits_to_be_restarted_exits_0_at_once(tmp_path: Path, free_port: int) -> None:
    (tmp_path / "crash").write_text("boom\n", encoding="utf-8")
    argv = [str(RUNNER), "serve", "--config", str(_config(tmp_path)), "--port", str(free_port)]
    with running_siaga(argv, free_port, tmp_path / "siaga.log") as siaga:
        siaga.wait_health(lambda code, b: b["components"].get("faults.crashing") == "restarting", "restarting")
        asked = time.monotonic()
        code, log = siaga.terminate()
    assert code == 0, log[-4000:]
    assert time.monotonic() - asked < 10  # not after the component's next pause
    assert '"msg": "siaga stopped"' in log


def test_a_bug_at_start_exits_1_in_one_line(tmp_path: Path, free_port: int) -> None:
    (tmp_path / "broken-factory").touch()
    result = subprocess.run(
        [sys.executable, str(RUNNER), "--lang", "en", "serve", "--config", str(_config(tmp_path)),
         "--port", str(free_port), "--log-level", "error", "--log-format", "json"],
        capture_output=True, text=True, env=siaga_env(), timeout=60,
    )
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == "siaga: stopped by an unexpected error: ValueError: a bug in a factory", result.stderr
