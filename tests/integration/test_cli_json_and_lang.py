"""Every command of the typer app that prints data takes ``--json`` (valid JSON on stdout) and ``--lang id|en``
(its words in that language); documents take ``--lang``. A new command must say which kind it is here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from siaga.cli.main import build_app

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "siaga" / "examples" / "bontang.yaml"

# Commands that print data: --json and --lang.
DATA = {
    "inventory", "impact", "uptime", "readings", "status", "peers", "checks", "backup snapshots", "backup status",
    "alerts", "alerts list", "alerts show", "incidents", "incidents show", "user list", "token list",
    "notify timeline", "notify maintenance list", "runbook list", "runbook plan", "runbook run", "runbook drill",
    "standby status",
    "cluster status", "peer-records",
}
# Commands that print a document (Markdown, PDF, a printable sheet): --lang, and their own --format.
DOCUMENTS = {"audit", "report incident", "report monthly", "backup sheet"}
# Commands that do something and say so in a line (or serve, or write a file): neither.
ACTIONS = {
    "serve", "demo", "init", "restore", "install-service", "config", "config check", "config docs", "db",
    "db upgrade", "db current", "report", "checks run", "backup", "backup init", "backup run", "backup forget",
    "backup prune", "backup check", "backup drill", "alerts ack", "alerts resolve", "alerts note", "incidents note",
    "incidents assign", "user", "user add", "user passwd", "user role", "user disable", "user enable", "token",
    "token create", "token revoke", "notify", "notify test", "notify link", "notify maintenance",
    "notify maintenance add", "notify maintenance end", "runbook", "standby", "standby refresh", "standby drill",
    "cluster",
}


def _commands() -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(cmd: Any, path: list[str]) -> None:
        if path:
            out[" ".join(path)] = cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(build_app()), [])
    return out


def _options(cmd: Any) -> set[str]:
    return {o for p in cmd.params for o in getattr(p, "opts", [])}


def test_every_command_is_classified_and_data_commands_take_json_and_lang() -> None:
    commands = _commands()
    assert set(commands) == DATA | DOCUMENTS | ACTIONS, "classify the new command here"
    missing = {name: sorted({"--json", "--lang"} - _options(commands[name])) for name in DATA}
    assert {k: v for k, v in missing.items() if v} == {}
    assert [name for name in DOCUMENTS if "--lang" not in _options(commands[name])] == []


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("site") / "siaga.yaml"
    shutil.copy(EXAMPLE, path)
    done = CliRunner().invoke(build_app(), ["db", "upgrade", "--config", str(path)])
    assert done.exit_code == 0, done.output
    return path


# Runnable against a fresh store (those that need an alert or a restic repository are run where those are:
# tests/integration/sensing/test_runtime_and_cli.py, tests/integration/backup).
RUNNABLE = [
    ["inventory"], ["impact", "R1"], ["uptime", "portal"], ["readings", "temp-r1-top"], ["status"], ["peers"],
    ["checks"], ["backup", "status"], ["alerts"], ["alerts", "list"], ["incidents"], ["user", "list"],
    ["token", "list"], ["notify", "maintenance", "list"], ["runbook", "list"], ["standby", "status"],
    ["cluster", "status"], ["peer-records", "ruang"],
]


@pytest.mark.parametrize("argv", RUNNABLE, ids=" ".join)
def test_json_is_json_and_lang_picks_the_language(argv: list[str], site: Path) -> None:
    app = build_app()
    runner = CliRunner()
    cfg = ["--config", str(site)]
    done = runner.invoke(app, [*argv, "--json", "--lang", "en", *cfg])
    assert done.exit_code == 0, done.output
    json.loads(done.stdout)
    texts = {}
    for lang in ("en", "id"):
        done = runner.invoke(app, [*argv, "--lang", lang, *cfg])
        assert done.exit_code == 0, done.output
        texts[lang] = done.stdout
    assert texts["en"] != texts["id"], texts["en"]  # the words, not only the numbers
