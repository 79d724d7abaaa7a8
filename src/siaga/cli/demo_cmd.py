"""``siaga demo``: siaga on the embedded Bontang example, in a folder of its own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer

from siaga.cli.common import fail, load_or_exit
from siaga.cli.serve_cmd import LogFormat, LogLevel, start, with_web
from siaga.store import database_url, describe_url

DEMO_DIR = "siaga-demo"


def example_text() -> str:
    """The embedded example site (examples/bontang.yaml) as shipped in the package."""
    return (resources.files("siaga") / "examples" / "bontang.yaml").read_text(encoding="utf-8")


def demo(
    directory: Path = typer.Option(Path(DEMO_DIR), "--dir", help="Folder for the demo's config and data."),
    host: str | None = typer.Option(None, "--host", help="Address to listen on (default: the example's)."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="TCP port (default: the example's)."),
    duration: float | None = typer.Option(None, "--duration", min=0, help="Stop by itself after this many seconds."),
    log_format: LogFormat = typer.Option(LogFormat.text, "--log-format", help="json lines or text, to stderr."),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", help="Least important level logged."),
) -> None:
    """Run siaga on the Bontang example site (SQLite in --dir); Ctrl-C stops it."""
    config_path = directory / "siaga.yaml"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        config_path.write_text(example_text(), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the demo config {config_path}: {exc.strerror or exc}")
    loaded = with_web(load_or_exit(config_path), host, port)
    web = loaded.config.web
    url = f"http://{web.host}:{web.port}"
    lines = [
        f"siaga demo: {loaded.config.site.name} (the example site, examples/bontang.yaml)",
        f"  config  {config_path}   (rewritten from the example at every start)",
        f"  store   {describe_url(database_url(loaded))}",
        f"  health  {url}/healthz",
        f"  API     {url}/api/docs",
        f"  try     siaga impact R1 --config {config_path}",
        "Stop with Ctrl-C." if duration is None else f"Stops by itself after {duration:g} s.",
    ]
    typer.echo("\n".join(lines))
    start(loaded, log_format=log_format.value, log_level=log_level.value, duration=duration, demo=True)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
