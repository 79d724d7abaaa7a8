"""``siaga serve``: run every component (HTTP app, heartbeat, and what features add) in one process."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from enum import StrEnum

import typer

from siaga.cli.common import ConfigOption, ExitCode, fail, load_or_exit
from siaga.config import ConfigError, LoadedConfig, load_config
from siaga.i18n import _, get_language

# The runtime (SQLAlchemy, FastAPI, uvicorn) is imported inside `start`: other commands start faster.


class LogFormat(StrEnum):
    json = "json"
    text = "text"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def with_web(loaded: LoadedConfig, host: str | None, port: int | None) -> LoadedConfig:
    """The config with ``web.host``/``web.port`` overridden by the command line."""
    web = loaded.config.web
    update = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if not update:
        return loaded
    cfg = loaded.config.model_copy(update={"web": web.model_copy(update=update)})
    return dataclasses.replace(loaded, config=cfg)


def require_runnable(loaded: LoadedConfig) -> None:
    """End with one line per secret this machine does not have, or part only the demo runs (file:line: field:
    what), and exit 2."""
    missing = loaded.start_problems()
    for problem in missing:
        typer.echo(_("siaga: not starting: {problem}").format(problem=problem.worded(get_language())), err=True)
    if missing:
        raise typer.Exit(ExitCode.USAGE)


def start(
    loaded: LoadedConfig,
    *,
    log_format: str,
    log_level: str,
    duration: float | None = None,
    demo: bool = False,
    host: str | None = None,
    port: int | None = None,
) -> None:
    """Migrate the store, run siaga until stopped; exit 0 after a clean stop (SIGINT, SIGTERM, ``duration``),
    1 with one line when it cannot start or ends for any other reason.

    SIGHUP reads the config file again (``host``/``port`` from the command line still win).
    """
    from siaga.cluster.single import AlreadyServing, hold_single_process_lock
    from siaga.runtime.components import ComponentError
    from siaga.runtime.context import RuntimeContext
    from siaga.runtime.heap import settle_heap
    from siaga.runtime.logs import configure_logging
    from siaga.runtime.serve import build_components, run_siaga
    from siaga.runtime.stalls import STALLS
    from siaga.store import (
        StoreError,
        check_connection,
        create_engine_for,
        current,
        database_url,
        describe_url,
        upgrade,
    )

    configure_logging(log_format, log_level)
    try:
        url = database_url(loaded)
    except StoreError as exc:
        fail(str(exc))
    try:
        lock = hold_single_process_lock(url)  # SQLite: one process; held until this one ends
    except AlreadyServing as exc:
        fail(str(exc), ExitCode.USAGE)
    except OSError as exc:
        fail(_("cannot lock the store: {error}").format(error=exc))
    try:
        engine = create_engine_for(url)
        check_connection(engine)
        before = current(engine)
        after = upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    if before != after:
        logging.getLogger("siaga.store").info(
            "store migrated",
            extra={"from": sorted(before), "to": sorted(after), "url": describe_url(str(engine.url))},
        )
    ctx = RuntimeContext(
        loaded=loaded, engine=engine, host=loaded.config.web.host, port=loaded.config.web.port, demo=demo
    )
    try:
        components = build_components(ctx)
        settle_heap()  # what start-up built stays: full GC passes later skip it (short pauses)
        STALLS.install()  # ... and each pass is timed (/metrics, the cluster's shares)

        def reload_config() -> LoadedConfig:
            fresh = load_config(loaded.path)
            missing = [] if demo else fresh.start_problems()
            if missing:
                raise ConfigError(missing)
            return with_web(fresh, host, port)

        failure = asyncio.run(run_siaga(ctx, components, duration=duration, reload_config=reload_config))
    except (ComponentError, StoreError) as exc:
        fail(str(exc))
    except Exception as exc:  # a bug: the trace goes to the log, the person gets one line and exit 1
        logging.getLogger("siaga.runtime").exception("siaga ended by an unexpected error")
        fail(_("stopped by an unexpected error: {error}").format(error=f"{type(exc).__name__}: {exc}"))
    finally:
        engine.dispose()
        if lock is not None:
            lock.close()
    if failure:
        fail(failure)
    raise typer.Exit(ExitCode.OK)  # only after SIGINT/SIGTERM or --duration: anything else ends above, non-zero


def serve(
    config: str = ConfigOption,
    host: str | None = typer.Option(None, "--host", help=_("Address to listen on (default: web.host).")),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help=_("TCP port (default: web.port).")),
    log_format: LogFormat = typer.Option(LogFormat.json, "--log-format", help=_("json lines or text, to stderr.")),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", help=_("Least important level logged.")),
    duration: float | None = typer.Option(
        None, "--duration", min=0, help=_("Stop by itself after this many seconds.")
    ),
) -> None:
    loaded = with_web(load_or_exit(config), host, port)
    require_runnable(loaded)
    start(loaded, log_format=log_format.value, log_level=log_level.value, duration=duration, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command(
        "serve",
        help=_(
            "Run siaga: apply pending migrations, start every component, stop cleanly on SIGINT/SIGTERM; "
            "SIGHUP reloads the config."
        ),
    )(serve)
