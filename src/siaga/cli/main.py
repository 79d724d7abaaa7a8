"""The ``siaga`` command: every command group is registered in COMMAND_GROUPS, in one place."""

from __future__ import annotations

import importlib
import os
import sys

import typer

from siaga import __version__
from siaga.cli.common import choose_language
from siaga.i18n import UnknownLanguage, normalize_language, using_language

# (the top-level commands it adds, module holding a `app: typer.Typer` or a `register(app)` function).
# Add new groups here. The installed `siaga` imports only the module of the command it runs.
COMMAND_GROUPS: list[tuple[tuple[str, ...], str]] = [
    (("config",), "siaga.cli.config_cmd"),
    (("db",), "siaga.cli.db_cmd"),
    (("serve",), "siaga.cli.serve_cmd"),
    (("demo",), "siaga.cli.demo_cmd"),
    (("inventory",), "siaga.cli.inventory_cmd"),
    (("impact",), "siaga.cli.impact_cmd"),
    (("audit",), "siaga.cli.audit_cmd"),
    (("report",), "siaga.cli.report_cmd"),
    (("init",), "siaga.cli.init_cmd"),
    (("checks", "uptime"), "siaga.cli.checks_cmd"),
    (("backup", "restore"), "siaga.cli.backup_cmd"),
    (("readings",), "siaga.cli.readings_cmd"),
    (("status",), "siaga.cli.status_cmd"),
    (("alerts",), "siaga.cli.alerts_cmd"),
    (("incidents",), "siaga.cli.incidents_cmd"),
    (("user", "token"), "siaga.cli.user_cmd"),
    (("notify",), "siaga.cli.notify_cmd"),
    (("peers",), "siaga.cli.peers_cmd"),
    (("peer-records",), "siaga.cli.records_cmd"),
    (("runbook",), "siaga.cli.runbook_cmd"),
    (("install-service",), "siaga.cli.install_cmd"),
    (("standby",), "siaga.cli.standby_cmd"),
    (("cluster",), "siaga.cli.cluster_cmd"),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"siaga {__version__}")
        raise typer.Exit()


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


def invoked_command(argv: list[str]) -> str | None:
    """The top-level command ``argv`` runs (None for the root's own options, e.g. --help, or nothing)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--lang":
            skip = True
        elif not arg.startswith("-"):
            return arg
        elif not arg.startswith("--lang="):
            return None  # --help, --version or an unknown option: the full command answers
    return None


def build_app(command: str | None = None) -> typer.Typer:
    """The ``siaga`` command: every group, or, when ``command`` names one, only the group that adds it (so
    ``siaga backup run`` does not import the web server, the checks engine and the rest)."""
    root = typer.Typer(
        name="siaga",
        help="siaga keeps small data centres safe: it senses the room, knows what is at stake, and tells people.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    root.callback()(_root)
    groups = [g for g in COMMAND_GROUPS if command in g[0]] or COMMAND_GROUPS
    with using_language(_help_language(sys.argv[1:])):
        for names, module_name in groups:
            module = importlib.import_module(module_name)
            if hasattr(module, "register"):
                module.register(root)
            else:
                root.add_typer(module.app, name=names[0])
    return root


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> typer.Typer:
    """``siaga.cli.main.app``: the command with every group, built on first use."""
    global _full_app
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _full_app is None:
        _full_app = build_app()
    return _full_app


def run() -> None:
    """Entry point: every failure ends in one line and an exit code; SIAGA_DEBUG=1 shows tracebacks."""
    import os
    import sys

    from siaga import netguard

    netguard.install()
    try:
        build_app(invoked_command(sys.argv[1:]))(standalone_mode=True)
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
