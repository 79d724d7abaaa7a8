"""The installed ``siaga`` imports only the group of the command it runs: the table must name every command."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from siaga.cli.main import COMMAND_GROUPS, build_app, invoked_command


def _commands(app: typer.Typer) -> set[str]:
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)
    return set(group.commands)


@pytest.mark.parametrize(("names", "module"), COMMAND_GROUPS, ids=[m for _n, m in COMMAND_GROUPS])
def test_each_group_adds_exactly_the_commands_the_table_names(names: tuple[str, ...], module: str) -> None:
    for name in names:
        assert _commands(build_app(name)) == set(names)


def test_the_full_command_has_every_group() -> None:
    assert _commands(build_app()) == {n for names, _m in COMMAND_GROUPS for n in names}


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["backup", "run", "web"], "backup"),
        (["--lang", "en", "restore", "web"], "restore"),
        (["--lang=id", "token", "list"], "token"),
        (["--help"], None),
        (["--version"], None),
        (["--lang", "en"], None),
        ([], None),
    ],
)
def test_the_command_a_command_line_runs(argv: list[str], command: str | None) -> None:
    assert invoked_command(argv) == command


def test_a_backup_run_does_not_import_the_web_server_or_the_checks_engine() -> None:
    code = (
        "import sys; from siaga.cli.main import build_app, invoked_command; "
        "build_app(invoked_command(['backup', 'run', 'x'])); "
        "print(sorted(m for m in ('siaga.web.app', 'siaga.checks.engine', 'aiohttp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
