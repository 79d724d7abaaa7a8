"""docs/backup.md names every backup command and every one of their options."""

from __future__ import annotations

from pathlib import Path

import typer.main

from siaga.cli.main import app

DOCS = (Path(__file__).resolve().parents[3] / "docs" / "backup.md").read_text(encoding="utf-8")


def test_docs_name_every_backup_command_and_option() -> None:
    root = typer.main.get_command(app)
    commands = root.commands  # type: ignore[attr-defined]
    backup = commands["backup"].commands
    checked = [(f"siaga backup {name}", cmd) for name, cmd in backup.items()]
    checked.append(("siaga restore", commands["restore"]))
    for title, cmd in checked:
        assert title in DOCS, f"docs/backup.md does not mention `{title}`"
        for param in cmd.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--config", "--restic"):
                    assert opt in DOCS, f"docs/backup.md does not mention {title} {opt}"
