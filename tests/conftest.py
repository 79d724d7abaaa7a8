"""Fixtures every part of siaga may use: free loopback ports and the store on SQLite and PostgreSQL.

``database_url`` runs a test twice: on a fresh SQLite file and on a fresh PostgreSQL database. The
PostgreSQL server is ``SIAGA_TEST_DATABASE_URL`` when set (its user needs CREATEDB), else one this
session starts itself (initdb + pg_ctl on a free loopback port, as the ``postgres`` user when we run
as root). Each test gets its own database. ``db_engine`` is the same, already migrated.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from siaga import netguard
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.engine import normalise_url
from siaga.store.testserver import PostgresServer, pg_bindir

# Nothing a test starts may send traffic off this machine: the example site names real hosts.
os.environ["SIAGA_LOOPBACK_ONLY"] = "1"
netguard.install()


def find_free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    return find_free_port()


def _start_postgres(bindir: Path) -> PostgresServer:
    """Start a throwaway PostgreSQL (its ``url`` is the admin URL of its maintenance database)."""
    return PostgresServer(bindir).start()


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, started: stop it and start it again at will."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql)")
    server = _start_postgres(bindir)
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """URL of a PostgreSQL server's maintenance database (whose user can create databases)."""
    given = os.environ.get("SIAGA_TEST_DATABASE_URL")
    if given:
        yield normalise_url(given)
        return
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (apt-get install postgresql) and no SIAGA_TEST_DATABASE_URL")
    server = _start_postgres(bindir)
    try:
        yield server.url
    finally:
        server.remove()


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the admin URL's server, dropped afterwards."""
    import psycopg

    admin = make_url(admin_url)
    name = f"siaga_test_{uuid.uuid4().hex[:12]}"
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "siaga-test.db")
        return
    with fresh_postgres_database(request.getfixturevalue("postgres_admin_url")) as url:
        yield url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A URL of a fresh, empty PostgreSQL database (PostgreSQL only; mark the test ``postgres``)."""
    with fresh_postgres_database(postgres_admin_url) as url:
        yield url


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh, fully migrated database (both backends)."""
    engine = create_engine_for(database_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()
