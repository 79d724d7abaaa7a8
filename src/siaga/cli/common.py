"""What every command shares: loading the config, failing with one clear line and an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer

from siaga.config import ConfigError, LoadedConfig, load_config

DEFAULT_CONFIG = "siaga.yaml"

ConfigOption = typer.Option(
    DEFAULT_CONFIG, "--config", "-c", envvar="SIAGA_CONFIG", help="Path of siaga.yaml.", show_default=True
)


class ExitCode:
    OK = 0
    FAILURE = 1
    USAGE = 2  # bad config, bad arguments: the user can fix it


def fail(message: str, code: int = ExitCode.FAILURE) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    typer.echo(f"siaga: {message}", err=True)
    raise typer.Exit(code)


def load_or_exit(path: str | Path) -> LoadedConfig:
    """Load the config or end with every problem on its own line and exit code 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(ExitCode.USAGE) from None
