"""``siaga init [PATH]``: write a starter siaga.yaml from the embedded example site."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from siaga.cli.common import DEFAULT_CONFIG, ExitCode, fail
from siaga.i18n import _


def example_text() -> str:
    """The embedded example: the Bontang server room of July 2025."""
    return (resources.files("siaga.examples") / "bontang.yaml").read_text(encoding="utf-8")


def init_command(
    path: Path = typer.Argument(
        Path(DEFAULT_CONFIG), help=_("Where to write it (a file, or a folder for siaga.yaml).")
    ),
    force: bool = typer.Option(False, "--force", help=_("Overwrite an existing file.")),
) -> None:
    """Write a starter siaga.yaml (the Bontang example) to describe your own room in."""
    target = path / DEFAULT_CONFIG if path.is_dir() else path
    if not target.parent.is_dir():
        fail(_("{folder}: no such folder").format(folder=target.parent), ExitCode.USAGE)
    try:
        with target.open("w" if force else "x", encoding="utf-8") as fh:
            fh.write(example_text())
    except FileExistsError:
        fail(_("{path} exists already: keep it, or overwrite it with --force").format(path=target), ExitCode.USAGE)
    typer.echo(
        _("Wrote {path}: the Bontang server room as an example. Describe your own room in it, "
          "then run: siaga config check {path}").format(path=target)
    )


def register(app: typer.Typer) -> None:
    app.command("init", help=_("Write a starter siaga.yaml (the Bontang example) to describe your own room in."))(
        init_command
    )
