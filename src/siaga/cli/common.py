"""What every command shares: loading the config, failing with one clear line and an exit code."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import typer
from sqlalchemy import Engine

from siaga.config import ConfigError, LoadedConfig, load_config
from siaga.i18n import UnknownLanguage, get_language, set_language

DEFAULT_CONFIG = "siaga.yaml"

ConfigOption = typer.Option(
    DEFAULT_CONFIG, "--config", "-c", envvar="SIAGA_CONFIG", help="Path of siaga.yaml.", show_default=True
)

LangOption = typer.Option(
    None, "--lang", metavar="id|en", help="Language of the output: id or en (default: the config's site.language)."
)
JsonOption = typer.Option(False, "--json", help="Print JSON (for machines) instead of text.")


class ExitCode:
    OK = 0
    FAILURE = 1
    USAGE = 2  # bad config, bad arguments: the user can fix it


def fail(message: str, code: int = ExitCode.FAILURE) -> NoReturn:
    """Print one line to stderr and exit with ``code``."""
    typer.echo(f"siaga: {message}", err=True)
    raise typer.Exit(code)


_chosen_language: str | None = None
"""The root ``--lang`` (or SIAGA_LANG) of this run; None when the config's language applies."""


def choose_language(lang: str | None) -> None:
    """The root ``--lang``: speak it from now on; without it, Indonesian until a config says otherwise."""
    global _chosen_language
    _chosen_language = None
    code = use_language(lang) if lang else set_language(None)
    _chosen_language = code if lang else None


def use_language(lang: str | None, config: LoadedConfig | None = None) -> str:
    """Speak, in order: ``lang`` (a command's own --lang), the root --lang, the config's site.language, id."""
    wanted = lang or _chosen_language or (config.config.site.language.value if config is not None else None)
    try:
        return set_language(wanted)
    except UnknownLanguage as exc:
        fail(str(exc), ExitCode.USAGE)


def load_or_exit(path: str | Path) -> LoadedConfig:
    """Load the config or end with every problem on its own line and exit code 2.

    Speaks the config's language from then on, unless --lang chose another.
    """
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        if _chosen_language is None and exc.language is not None:
            set_language(exc.language)  # no --lang: the problems in the language the file gives its site
        for problem in exc.problems:
            typer.echo(problem.worded(get_language()), err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    use_language(None, loaded)
    return loaded


def engine_or_exit(loaded: LoadedConfig, *, migrate: bool = False) -> Engine:
    """The store's engine, checked (and migrated when asked), or one line naming the store and exit 1."""
    from siaga.store import StoreError, check_connection, create_engine_for, database_url, upgrade

    try:
        engine = create_engine_for(database_url(loaded))
        check_connection(engine)
        if migrate:
            upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    return engine
