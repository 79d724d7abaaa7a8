"""Database dump and load commands built as data (pg_dump/psql, mysqldump/mysql), and scratch databases.

Dumps are plain SQL: pg_dump's plain format is uncompressed so restic can deduplicate it; mysqldump runs
with ``--single-transaction`` for a consistent snapshot of InnoDB tables without locking them.
Passwords go through the environment (PGPASSWORD, MYSQL_PWD), never on the command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from siaga.config.backup import DatabaseDump, DatabaseType
from siaga.config.secrets import expand


@dataclass(frozen=True)
class Invocation:
    args: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)  # secret: never logged


def dump_filename(job_id: str, db: DatabaseDump) -> str:
    return f"{job_id}.sql"


def dump_invocation(
    db: DatabaseDump, *, base_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> Invocation:
    """The dump command for ``db`` and its secret environment."""
    password = db.read_secret("password", base_dir, environ)
    if db.type is DatabaseType.postgresql:
        args = ["pg_dump", "--format=plain", "--no-password"]
        host = db.socket or db.host
        if host:
            args += ["--host", host]
        if db.port:
            args += ["--port", str(db.port)]
        if db.user:
            args += ["--username", db.user]
        args += [*db.options, "--dbname", db.name]
        return Invocation(tuple(args), {"PGPASSWORD": password} if password else {})
    args = ["mysqldump", "--single-transaction", "--hex-blob", "--triggers", "--no-tablespaces"]
    args += _mysql_conn(db.host, db.port, db.socket, db.user)
    args += [*db.options, "--", db.name]
    return Invocation(tuple(args), {"MYSQL_PWD": password} if password else {})


def _mysql_conn(host: str | None, port: int | None, socket: str | None, user: str | None) -> list[str]:
    args: list[str] = []
    if socket:
        args += ["--socket", socket]
    if host:
        args += ["--host", host, "--protocol", "TCP"]
    if port:
        args += ["--port", str(port)]
    if user:
        args += ["--user", user]
    return args


@dataclass(frozen=True)
class ServerURL:
    """A database server named by URL: postgresql://user:pw@host:port/db or mysql://user:pw@host:port/db."""

    type: DatabaseType
    host: str | None
    port: int | None
    user: str | None
    password: str | None
    database: str | None
    socket: str | None = None

    def with_database(self, name: str | None) -> ServerURL:
        return ServerURL(self.type, self.host, self.port, self.user, self.password, name, self.socket)

    @property
    def display(self) -> str:
        auth = f"{self.user}@" if self.user else ""
        where = self.socket or f"{self.host}:{self.port or ''}"
        return f"{self.type.value}://{auth}{where}/{self.database or ''}"


_SCHEMES = {
    "postgresql": DatabaseType.postgresql,
    "postgres": DatabaseType.postgresql,
    "postgresql+psycopg": DatabaseType.postgresql,
    "mysql": DatabaseType.mysql,
    "mariadb": DatabaseType.mariadb,
    "mysql+pymysql": DatabaseType.mysql,
}


def parse_server_url(url: str, environ: Mapping[str, str] | None = None) -> ServerURL:
    """Parse a scratch/restore server URL (``${ENV}`` references expanded)."""
    text = expand(url, environ)
    parts = urlsplit(text)
    kind = _SCHEMES.get(parts.scheme.lower())
    if kind is None:
        raise ValueError(f"not a database URL: {parts.scheme}:// (use postgresql:// or mysql://)")
    from urllib.parse import parse_qs

    query = parse_qs(parts.query)
    sockets = query.get("host") or query.get("unix_socket") or query.get("socket") or []
    socket = sockets[0] if sockets else None
    database = unquote(parts.path.lstrip("/")) or None
    return ServerURL(
        kind,
        parts.hostname,
        parts.port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
        database,
        socket,
    )


def load_invocation(server: ServerURL) -> Invocation:
    """A client that reads SQL from stdin into ``server.database``."""
    if server.type is DatabaseType.postgresql:
        args = ["psql", "--no-psqlrc", "--quiet", "--no-password", "--set", "ON_ERROR_STOP=0"]
        host = server.socket or server.host
        if host:
            args += ["--host", host]
        if server.port:
            args += ["--port", str(server.port)]
        if server.user:
            args += ["--username", server.user]
        args += ["--dbname", str(server.database)]
        return Invocation(tuple(args), {"PGPASSWORD": server.password} if server.password else {})
    args = ["mysql", "--batch", *_mysql_conn(server.host, server.port, server.socket, server.user)]
    args += ["--", str(server.database)]
    return Invocation(tuple(args), {"MYSQL_PWD": server.password} if server.password else {})


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def scratch_name(job_id: str, stamp: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", f"siaga_drill_{job_id}_{stamp}").lower()
    return name[:60]


# --- a few statements against a server, through the Python drivers ----------------------------------


def _pg_connect(server: ServerURL, database: str | None = None):  # type: ignore[no-untyped-def]
    import psycopg

    kwargs: dict[str, object] = {"dbname": database or server.database or "postgres", "autocommit": True}
    if server.socket or server.host:
        kwargs["host"] = server.socket or server.host
    if server.port:
        kwargs["port"] = server.port
    if server.user:
        kwargs["user"] = server.user
    if server.password:
        kwargs["password"] = server.password
    return psycopg.connect(**kwargs)  # type: ignore[arg-type]


def _my_connect(server: ServerURL, database: str | None = None):  # type: ignore[no-untyped-def]
    import pymysql

    kwargs: dict[str, object] = {"autocommit": True}
    if server.socket:
        kwargs["unix_socket"] = server.socket
    else:
        kwargs["host"] = server.host or "localhost"
        kwargs["port"] = server.port or 3306
    if server.user:
        kwargs["user"] = server.user
    if server.password:
        kwargs["password"] = server.password
    if database:
        kwargs["database"] = database
    return pymysql.connect(**kwargs)


def create_database(server: ServerURL, name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    if server.type is DatabaseType.postgresql:
        with _pg_connect(server) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        conn = _my_connect(server)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}`")
        finally:
            conn.close()


def drop_database(server: ServerURL, name: str) -> None:
    if not _SAFE_NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    if server.type is DatabaseType.postgresql:
        with _pg_connect(server) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        conn = _my_connect(server)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def database_state(server: ServerURL, name: str) -> int | None:
    """None when database ``name`` does not exist, else how many tables it has."""
    if server.type is DatabaseType.postgresql:
        with _pg_connect(server) as conn:
            row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row is None:
                return None
        with _pg_connect(server, name) as conn:
            count = conn.execute(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            ).fetchone()
            return int(count[0]) if count else 0
    conn = _my_connect(server)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s", (name,))
            row = cur.fetchone()
            if not row or not row[0]:
                return None
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (name,))
            row = cur.fetchone()
            return int(row[0]) if row else 0
    finally:
        conn.close()


def count_rows(server: ServerURL, name: str, tables: list[str]) -> dict[str, int | None]:
    """Rows per table in database ``name`` (None for a table that is not there)."""
    out: dict[str, int | None] = {}
    if server.type is DatabaseType.postgresql:
        with _pg_connect(server, name) as conn:
            for table in tables:
                schema, _, bare = table.rpartition(".")
                ident = f'"{schema}"."{bare}"' if schema else f'"{bare}"'
                try:
                    row = conn.execute(f"SELECT count(*) FROM {ident}").fetchone()
                    out[table] = int(row[0]) if row else 0
                except Exception:
                    out[table] = None
        return out
    conn = _my_connect(server, name)
    try:
        with conn.cursor() as cur:
            for table in tables:
                try:
                    cur.execute(f"SELECT count(*) FROM `{table.replace('`', '``')}`")
                    row = cur.fetchone()
                    out[table] = int(row[0]) if row else 0
                except Exception:
                    out[table] = None
    finally:
        conn.close()
    return out


def swap_database(server: ServerURL, fresh: str, name: str) -> None:
    """Put database ``fresh`` in the place of ``name`` (PostgreSQL): the old one's sessions are ended, it is
    renamed aside and dropped; a reader sees the old database or the new one, never a half-loaded one."""
    for each in (fresh, name):
        if not _SAFE_NAME.match(each):
            raise ValueError(f"unsafe database name {each!r}")
    if server.type is not DatabaseType.postgresql:
        raise ValueError("a standby database is switched by renaming: PostgreSQL only")
    old = f"{name}_siaga_old"[:63]
    with _pg_connect(server.with_database("postgres")) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{old}"')
        conn.execute(f'ALTER DATABASE "{fresh}" RENAME TO "{name}"')
        conn.execute(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)')
