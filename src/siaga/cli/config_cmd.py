"""``siaga config``: check a config file, print the reference documentation."""

from __future__ import annotations

import typer

from siaga.cli.common import ConfigOption, ExitCode, fail, load_or_exit
from siaga.i18n import _, get_language, ngettext

app = typer.Typer(help="Check and document siaga.yaml.", no_args_is_help=True)


@app.command("check")
def check(
    path: str = typer.Argument(None, help="Config file (default: --config)."),
    config: str = ConfigOption,
    strict: bool = typer.Option(
        False, "--strict", help="A secret file or ${ENV} this machine does not have is an error (exit 2)."
    ),
) -> None:
    """Validate a config file: exit 0 when it is good, 2 with file:line: field: problem lines when not.

    Every *_file and ${ENV} reference is looked up on this machine: a warning when it is missing (an error
    with --strict; `siaga serve` refuses to start without them)."""
    loaded = load_or_exit(path or config)
    missing = loaded.start_problems()
    for problem in missing:
        typer.echo(_("warning: {problem}").format(problem=problem.worded(get_language())), err=True)
    if missing and strict:
        raise typer.Exit(ExitCode.USAGE)
    cfg = loaded.config
    counts = [
        ngettext("{count} room", "{count} rooms", len(cfg.rooms)).format(count=len(cfg.rooms)),
        ngettext("{count} rack", "{count} racks", len(cfg.racks)).format(count=len(cfg.racks)),
        ngettext("{count} device", "{count} devices", len(cfg.devices)).format(count=len(cfg.devices)),
        ngettext("{count} service", "{count} services", len(cfg.services)).format(count=len(cfg.services)),
        ngettext("{count} sensor", "{count} sensors", len(cfg.sensors)).format(count=len(cfg.sensors)),
        ngettext("{count} person", "{count} people", len(cfg.people)).format(count=len(cfg.people)),
    ]
    typer.echo(_("{path}: ok — {counts}").format(path=loaded.path, counts=", ".join(counts)))


@app.command("docs")
def docs(
    output: str = typer.Option("-", "--output", "-o", help="Write to this file ('-': standard output)."),
) -> None:
    """Print the reference documentation of siaga.yaml (docs/config.md is made with this)."""
    from pathlib import Path

    from siaga.config.docs import render_markdown

    text = render_markdown()
    if output == "-":
        typer.echo(text, nl=False)
    else:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(_("cannot write {path}: {reason}").format(path=output, reason=exc.strerror or exc))
