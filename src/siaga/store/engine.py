"""Which database, and an engine tuned for it: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from siaga.config import LoadedConfig
from siaga.config.secrets import SecretError, expand
from siaga.errors import SiagaError
from siaga.i18n import _

T = TypeVar("T")


class RunsDb(Protocol):
    """What runs ``work(conn)`` in one transaction off the event loop (``RuntimeContext.run_db``)."""

    async def run_db(self, work: Callable[[Connection], T]) -> T: ...


DB_FILENAME = "siaga.db"
SQLITE_BUSY_TIMEOUT_MS = 5000


class StoreError(SiagaError):
    """The store cannot be used: the message is one line a person can act on."""


def database_url(loaded: LoadedConfig) -> str:
    """The SQLAlchemy URL of the site's store.

    ``store.database_url`` (with ``${ENV}`` references expanded) when set, else a SQLite file
    ``<data_dir>/siaga.db``, ``data_dir`` being relative to the config file's folder.
    """
    store = loaded.config.store
    if store.database_url:
        try:
            url = expand(store.database_url.strip())
        except SecretError as exc:
            raise StoreError(f"{loaded.path}: store.database_url: {exc}") from None
        return normalise_url(url)
    return sqlite_url(data_dir(loaded) / DB_FILENAME)


def data_dir(loaded: LoadedConfig) -> Path:
    """``store.data_dir``, relative to the config file's folder."""
    d = Path(loaded.config.store.data_dir).expanduser()
    return d if d.is_absolute() else loaded.base_dir / d


def spool_dir(loaded: LoadedConfig) -> Path:
    """``store.spool_dir`` (relative to the config file's folder), else the default outside the data dir."""
    from siaga.store.spool import default_spool_dir

    configured = loaded.config.store.spool_dir
    if not configured:
        return default_spool_dir(data_dir(loaded))
    d = Path(configured).expanduser()
    return d if d.is_absolute() else loaded.base_dir / d


def sqlite_url(path: Path) -> str:
    """The URL of a SQLite file (absolute)."""
    return f"sqlite:///{path.absolute()}"


def normalise_url(url: str) -> str:
    """Pick our drivers: ``postgres://`` and ``postgresql://`` become ``postgresql+psycopg://``."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def describe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def libpq_dsn(engine: Engine) -> str:
    """A PostgreSQL engine's URL as a libpq connection string (for a connection of a thread's own, outside the
    engine's pool: the readings hand-off, LISTEN, the readings writer)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, synchronous=NORMAL, a busy timeout and foreign keys.

    The SQLite file's folder is created when missing. Raises :class:`StoreError` for a URL siaga
    cannot use.
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(_("not a database URL: {url}").format(url=repr(describe_url(url)))) from None
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            database = parsed.database or ""
            if database and database != ":memory:" and not database.startswith("file:"):
                folder = Path(database).parent
                try:
                    folder.mkdir(mode=0o700, parents=True, exist_ok=True)  # the store is nobody else's
                except OSError as exc:
                    reason = exc.strerror or exc
                    raise StoreError(
                        _("cannot create the data folder {folder}: {reason}").format(folder=folder, reason=reason)
                    ) from None
            connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
            engine = create_engine(url, connect_args=connect_args, **kwargs)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        if backend == "postgresql":
            kwargs.setdefault("pool_pre_ping", True)
            connect_args = {"connect_timeout": 5, **kwargs.pop("connect_args", {})}
            return create_engine(url, connect_args=connect_args, **kwargs)
    except NoSuchModuleError as exc:
        raise StoreError(_("no driver for {url}: {reason}").format(url=describe_url(url), reason=exc)) from None
    raise StoreError(
        _("unsupported database {backend} in {url}: use sqlite or postgresql").format(
            backend=repr(backend), url=describe_url(url)
        )
    )


def check_connection(engine: Engine) -> None:
    """Connect once and run ``SELECT 1``; raise :class:`StoreError` with one line when it fails."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except (DBAPIError, sqlite3.Error, OSError) as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise StoreError(
            _("cannot reach the database {url}: {reason}").format(url=where, reason=first_error_line(exc))
        ) from None


def first_error_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(orig).__name__
