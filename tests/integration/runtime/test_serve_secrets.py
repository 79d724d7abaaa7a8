"""``siaga serve`` refuses to start without the secrets its config points at: one line each, file and line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
