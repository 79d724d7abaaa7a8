"""The ``siaga`` command: every command group is registered in COMMAND_GROUPS, in one place."""

from __future__ import annotations

import importlib

import typer

from siaga import __version__

# (name, module holding a `app: typer.Typer`, or a `register(app)` function). Add new groups here.
COMMAND_GROUPS: list[tuple[str, str]] = [
    ("config", "siaga.cli.config_cmd"),
    ("db", "siaga.cli.db_cmd"),
    ("serve", "siaga.cli.serve_cmd"),
    ("demo", "siaga.cli.demo_cmd"),
]

app = typer.Typer(
    name="siaga",
    help="siaga keeps small data centres safe: it senses the room, knows what is at stake, and tells people.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"siaga {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """siaga keeps small data centres safe."""


def _register() -> None:
    for name, module_name in COMMAND_GROUPS:
        module = importlib.import_module(module_name)
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=name)


_register()


def run() -> None:
    """Entry point: every failure ends in one line and an exit code; SIAGA_DEBUG=1 shows tracebacks."""
    import os
    import sys

    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if os.environ.get("SIAGA_DEBUG"):
            raise
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"siaga: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("SIAGA_DEBUG"):
            raise
        print(f"siaga: internal error: {type(exc).__name__}: {exc} (SIAGA_DEBUG=1 shows where)", file=sys.stderr)
        sys.exit(1)
