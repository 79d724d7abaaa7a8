"""Every command's --help works, and a bad input to each ends in one line on stderr, a non-zero exit code and
no traceback: an unknown id, a missing file, a bad month, an unreachable database, a bad --lang."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "siaga" / "examples" / "bontang.yaml"
UNREACHABLE_DB = "postgresql+psycopg://x@127.0.0.1:1/x"


def _commands() -> list[list[str]]:
    import typer

    found: list[list[str]] = []

    def walk(cmd: object, path: list[str]) -> None:
        subs = getattr(cmd, "commands", None)
        if subs is None:
            found.append(path)
            return
        for name, sub in subs.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example site, its store in a private folder (created by the first command that needs it)."""
    folder = tmp_path_factory.mktemp("site")
    shutil.copy(EXAMPLE, folder / "siaga.yaml")
    return folder / "siaga.yaml"


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pg") / "siaga.yaml"
    path.write_text(f"site: {{name: Test}}\nstore: {{database_url: '{UNREACHABLE_DB}'}}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c))
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, ["--lang", "en", *command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


MISSING = "/nonexistent/siaga.yaml"

# {site}: the example site; {pg}: a site whose database cannot be reached; {tmp}: a fresh folder.
BAD_INPUTS: list[list[str]] = [
    ["--lang", "xx", "inventory", "--config", "{site}"],
    ["config", "check", MISSING],
    ["config", "docs", "-o", "/nonexistent/dir/config.md"],
    ["serve", "--config", MISSING],
    ["demo", "--dir", "/proc/siaga-demo"],
    ["inventory", "--config", MISSING],
    ["impact", "NOPE", "--config", "{site}"],
    ["audit", "--config", MISSING],
    ["init", "{site}"],
    ["uptime", "portal", "--month", "2026-13", "--config", "{site}"],
    ["uptime", "NOPE", "--config", "{site}"],
    ["restore", "NOPE", "--to", "{tmp}", "--config", "{site}"],
    ["readings", "NOPE", "--config", "{site}"],
    ["status", "--config", "{pg}"],
    ["cluster", "status", "--config", "{pg}"],
    ["db", "upgrade", "--config", "{pg}"],
    ["db", "current", "--config", "{pg}"],
    ["report", "incident", "999", "--config", "{site}"],
    ["report", "monthly", "--month", "2026-13", "--config", "{site}"],
    ["report", "monthly", "--month", "2026-07", "--config", "{pg}"],
    ["checks", "run", "NOPE", "--config", "{site}"],
    ["backup", "init", "NOPE", "--config", "{site}"],
    ["backup", "run", "NOPE", "--config", "{site}"],
    ["backup", "snapshots", "NOPE", "--config", "{site}"],
    ["backup", "forget", "NOPE", "--config", "{site}"],
    ["backup", "prune", "NOPE", "--config", "{site}"],
    ["backup", "check", "NOPE", "--config", "{site}"],
    ["backup", "drill", "NOPE", "--config", "{site}"],
    ["backup", "status", "--config", "{pg}"],
    ["backup", "sheet", "--config", MISSING],
    ["alerts", "list", "--state", "nope", "--config", "{site}"],
    ["peers", "--config", MISSING],
    ["peer-records", "room", "--config", MISSING],
    ["runbook", "list", "--config", MISSING],
    ["runbook", "plan", "NOPE", "--config", "{site}"],
    ["runbook", "run", "NOPE", "--config", "{site}"],
    ["runbook", "drill", "NOPE", "--config", "{site}"],
    ["standby", "status", "--config", MISSING],
    ["standby", "refresh", "NOPE", "--config", "{site}"],
    ["standby", "drill", "NOPE", "--config", "{site}"],
    ["alerts", "show", "999", "--config", "{site}"],
    ["alerts", "ack", "999", "--config", "{site}"],
    ["alerts", "resolve", "999", "--config", "{pg}"],
    ["alerts", "note", "999", "text", "--config", "{site}"],
    ["incidents", "show", "999", "--config", "{site}"],
    ["incidents", "note", "999", "text", "--config", "{site}"],
    ["incidents", "assign", "999", "--owner", "andi", "--config", "{site}"],
    ["user", "add", "x", "--password-file", "/nonexistent/pw", "--config", "{site}"],
    ["user", "list", "--config", "{pg}"],
    ["user", "passwd", "nobody", "--password-file", "/nonexistent/pw", "--config", "{site}"],
    ["user", "role", "nobody", "admin", "--config", "{site}"],
    ["user", "disable", "nobody", "--config", "{site}"],
    ["user", "enable", "nobody", "--config", "{site}"],
    ["token", "create", "t", "--scope", "nope", "--config", "{site}"],
    ["token", "list", "--config", "{pg}"],
    ["token", "revoke", "999", "--config", "{site}"],
    ["notify", "test", "nochannel", "--config", "{site}"],
    ["notify", "link", "nobody", "--config", "{site}"],
    ["notify", "timeline", "999", "--config", "{site}"],
    ["notify", "maintenance", "add", "w1", "--start", "2026-13-01T00:00", "--end", "2026-13-01T01:00", "--title", "t",
     "--config", "{site}"],
    ["notify", "maintenance", "list", "--config", "{pg}"],
    ["notify", "maintenance", "end", "nope", "--config", "{site}"],
    ["install-service", "--user", "Root Beer", "--root", "{tmp}"],
]


@pytest.mark.parametrize("argv", BAD_INPUTS, ids=lambda a: " ".join(a))
def test_a_bad_input_ends_in_one_line_and_an_exit_code(argv: list[str], site: Path, unreachable: Path,
                                                       tmp_path: Path) -> None:
    args = [a.format(site=site, pg=unreachable, tmp=tmp_path) for a in argv]
    if args[0] != "--lang":
        args = ["--lang", "en", *args]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0, result.output
    # handled: a SystemExit with a code, not an exception escaping to run()'s last-resort line
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert result.stdout.strip() == "", result.stdout
    if "{pg}" in argv:
        assert "127.0.0.1:1" in result.stderr  # the database that cannot be reached is named


def test_every_command_is_probed_with_a_bad_input() -> None:
    probed = {" ".join(a for a in argv if not a.startswith(("-", "{", "/")) and a[0].islower())
              for argv in BAD_INPUTS}
    missing = [" ".join(c) for c in _commands() if not any(p.startswith(" ".join(c)) for p in probed)]
    assert missing == []
