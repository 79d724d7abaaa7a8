"""``siaga demo``: siaga on the embedded Bontang example, in a folder of its own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from siaga.cli.common import fail, load_or_exit
from siaga.cli.serve_cmd import LogFormat, LogLevel, start, with_web
from siaga.i18n import _

DEMO_DIR = "siaga-demo"


def example_text() -> str:
    """The embedded example site (examples/bontang.yaml) as shipped in the package."""
    return (resources.files("siaga") / "examples" / "bontang.yaml").read_text(encoding="utf-8")


def _has_command(name: str) -> bool:
    from siaga.cli.main import app

    return any(c.name == name for c in app.registered_commands)


def banner(config_path: Path, site_name: str, url: str, store: str, duration: float | None) -> str:
    """What the demo prints before it starts: where things are and what to look at."""
    lines = [
        _("siaga demo: {site} (the example site, examples/bontang.yaml)").format(site=site_name),
        "  " + _("config  {path}   (rewritten from the example at every start)").format(path=config_path),
        "  " + _("store   {url}").format(url=store),
        "  " + _("health  {url}").format(url=f"{url}/healthz"),
        "  " + _("API     {url}").format(url=f"{url}/api/docs"),
    ]
    for command in ("inventory", "impact R1"):
        if _has_command(command.split()[0]):
            lines.append("  " + _("try     {command}").format(command=f"siaga {command} --config {config_path}"))
    if duration is None:
        lines.append(_("Stop with Ctrl-C."))
    else:
        lines.append(_("Stops by itself after {seconds} s.").format(seconds=f"{duration:g}"))
    return "\n".join(lines)


def demo(
    directory: Path = typer.Option(Path(DEMO_DIR), "--dir", help=_("Folder for the demo's config and data.")),
    host: str | None = typer.Option(None, "--host", help=_("Address to listen on (default: the example's).")),
    port: int | None = typer.Option(
        None, "--port", min=0, max=65535, help=_("TCP port (default: the example's).")
    ),
    duration: float | None = typer.Option(
        None, "--duration", min=0, help=_("Stop by itself after this many seconds.")
    ),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help=_("json lines or text, to stderr.")),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", help=_("Least important level logged.")),
) -> None:
    from siaga import netguard
    from siaga.store import database_url, describe_url

    netguard.install(force=True)  # the demo never sends anything off this machine
    config_path = directory / "siaga.yaml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config_path.write_text(example_text(), encoding="utf-8")
    except OSError as exc:
        fail(_("cannot write the demo config {path}: {reason}").format(path=config_path, reason=exc.strerror or exc))
    loaded = with_web(load_or_exit(config_path), host, port)
    web = loaded.config.web
    url = f"http://{web.host}:{web.port}"
    typer.echo(banner(config_path, loaded.config.site.name, url, describe_url(database_url(loaded)), duration))
    start(
        loaded, log_format=log_format.value, log_level=log_level.value, duration=duration, demo=True,
        host=host, port=port,
    )


def register(app: typer.Typer) -> None:
    app.command("demo", help=_("Run siaga on the Bontang example site (SQLite in --dir); Ctrl-C stops it."))(demo)
