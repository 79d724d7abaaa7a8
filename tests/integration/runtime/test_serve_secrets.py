"""``siaga serve`` refuses to start without the secrets its config points at: one line each, file and line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

SRC = Path(__file__).resolve().parents[3] / "src"

SITE = """\
site: {name: Test}
store: {data_dir: state}
notification:
  channels:
    tg: {type: telegram, bot_token_file: /nonexistent/siaga/bot-token, poll: false}
    hook: {type: webhook, url: "https://example.org/h", token: "${SIAGA_T_UNSET_TOKEN}"}
"""


def test_serve_refuses_to_start_without_its_secrets(tmp_path: Path, free_port: int) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text(SITE, encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(SRC))
    env.pop("SIAGA_T_UNSET_TOKEN", None)
    env.pop("SIAGA_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "siaga", "--lang", "en", "serve", "--config", str(site), "--port", str(free_port)],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"siaga: not starting: {site}:5: notification.channels.tg.bot_token_file: "
        "file /nonexistent/siaga/bot-token does not exist on this machine",
        f"siaga: not starting: {site}:6: notification.channels.hook.token: "
        "environment variable SIAGA_T_UNSET_TOKEN is not set",
    ]
    assert not (tmp_path / "state").exists()  # refused before it touched the store


def test_serve_starts_once_the_secrets_are_there(tmp_path: Path, free_port: int) -> None:
    token = tmp_path / "bot-token"
    token.write_text("123:abc\n", encoding="utf-8")
    site = tmp_path / "siaga.yaml"
    site.write_text(SITE.replace("/nonexistent/siaga/bot-token", "bot-token"), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(SRC), SIAGA_T_UNSET_TOKEN="t")
    env.pop("SIAGA_CONFIG", None)
    result = subprocess.run(
        [sys.executable, "-m", "siaga", "--lang", "en", "serve", "--config", str(site), "--port", str(free_port),
         "--duration", "0.5"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "not starting" not in result.stderr


def test_a_reload_whose_secret_is_gone_keeps_the_running_config(tmp_path: Path, free_port: int) -> None:
    token = tmp_path / "bot-token"
    token.write_text("123:abc\n", encoding="utf-8")
    site = tmp_path / "siaga.yaml"
    site.write_text(SITE.replace("/nonexistent/siaga/bot-token", "bot-token"), encoding="utf-8")
    env = dict(os.environ, PYTHONPATH=str(SRC), SIAGA_T_UNSET_TOKEN="t")
    env.pop("SIAGA_CONFIG", None)
    log = tmp_path / "serve.log"

    def refused() -> list[dict[str, object]]:
        lines = log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if "going on with the one loaded before" in line]

    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "siaga", "--lang", "en", "serve", "--config", str(site), "--port",
             str(free_port), "--log-format", "json"],
            stdout=subprocess.DEVNULL, stderr=err, text=True, env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(encoding="utf-8")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{free_port}/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        token.unlink()
        proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while not refused() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proc.poll() is None
        assert httpx.get(f"http://127.0.0.1:{free_port}/healthz", timeout=5).status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, log.read_text(encoding="utf-8")
    assert refused()[0]["problems"] == [
        f"{site}:5: notification.channels.tg.bot_token_file: file {token} does not exist on this machine"
    ]
