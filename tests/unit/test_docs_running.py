"""docs/running.md names every option of serve, demo and db, and the signals serve handles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from siaga.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "running.md"


def _options(command: Any) -> set[str]:
    out: set[str] = set()
    for param in command.params:
        if getattr(param, "param_type_name", "") == "option":
            out.update(o for o in param.opts if o.startswith("--"))
    return out - {"--help"}


def test_every_option_of_serve_demo_and_db_is_documented() -> None:
    root: Any = typer.main.get_command(app)
    text = DOC.read_text(encoding="utf-8")
    db = root.commands["db"]
    commands = {
        "serve": root.commands["serve"],
        "demo": root.commands["demo"],
        "db upgrade": db.commands["upgrade"],
        "db current": db.commands["current"],
    }
    found = {name: _options(cmd) for name, cmd in commands.items()}
    assert "--port" in found["serve"] and "--duration" in found["demo"]  # the walk finds options at all
    missing = [
        f"{name} {opt}" for name, opts in found.items() for opt in sorted(opts) if f"`{opt}" not in text
        and f"{opt} " not in text
    ]
    assert not missing, f"undocumented in docs/running.md: {missing}"
    for name in commands:
        assert f"siaga {name}" in text


def test_the_signals_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for sig in ("SIGINT", "SIGTERM", "SIGHUP"):
        assert f"**{sig}**" in text
