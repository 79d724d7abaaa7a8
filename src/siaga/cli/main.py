"""The ``siaga`` command: every command group is registered in COMMAND_GROUPS, in one place."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from siaga import __version__
from siaga.cli.common import choose_language
from siaga.i18n import UnknownLanguage, normalize_language, using_language

# (name, module holding a `app: typer.Typer`, or a `register(app)` function). Add new groups here.
COMMAND_GROUPS: list[tuple[str, str]] = [
    ("config", "siaga.cli.config_cmd"),
    ("db", "siaga.cli.db_cmd"),
    ("serve", "siaga.cli.serve_cmd"),
    ("demo", "siaga.cli.demo_cmd"),
    ("inventory", "siaga.cli.inventory_cmd"),
    ("impact", "siaga.cli.impact_cmd"),
    ("audit", "siaga.cli.audit_cmd"),
    ("report", "siaga.cli.report_cmd"),
    ("init", "siaga.cli.init_cmd"),
    ("checks", "siaga.cli.checks_cmd"),
    ("backup", "siaga.cli.backup_cmd"),
    ("readings", "siaga.cli.readings_cmd"),
    ("status", "siaga.cli.status_cmd"),
    ("alerts", "siaga.cli.alerts_cmd"),
    ("incidents", "siaga.cli.incidents_cmd"),
    ("user", "siaga.cli.user_cmd"),  # also `siaga token`
    ("notify", "siaga.cli.notify_cmd"),
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
    lang: str | None = typer.Option(
        None, "--lang", envvar="SIAGA_LANG", metavar="id|en",
        help="Language of messages: id (Bahasa Indonesia) or en. Default: the config's site.language, else id.",
    ),
) -> None:
    """siaga keeps small data centres safe."""
    choose_language(lang)


def _help_language(argv: list[str]) -> str:
    """Help texts are translated when the commands are built: in the --lang of the command line
    (or SIAGA_LANG), English when none is given."""
    wanted = os.environ.get("SIAGA_LANG") or "en"
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            wanted = argv[i + 1]
        elif arg.startswith("--lang="):
            wanted = arg.split("=", 1)[1]
    try:
        return normalize_language(wanted)
    except UnknownLanguage:  # the root callback says so
        return "en"


def _register() -> None:
    for name, module_name in COMMAND_GROUPS:
        module = importlib.import_module(module_name)
        if hasattr(module, "register"):
            module.register(app)
        else:
            app.add_typer(module.app, name=name)


with using_language(_help_language(sys.argv[1:])):
    _register()


def run() -> None:
    """Entry point: every failure ends in one line and an exit code; SIAGA_DEBUG=1 shows tracebacks."""
    import os
    import sys

    from siaga import netguard

    netguard.install()
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
