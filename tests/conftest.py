"""Fixtures every part of siaga may use: free loopback ports and the store on SQLite and PostgreSQL.

``database_url`` runs a test twice: on a fresh SQLite file and on a fresh PostgreSQL database. The
PostgreSQL server is ``SIAGA_TEST_DATABASE_URL`` when set (its user needs CREATEDB), else one this
session starts itself (initdb + pg_ctl on a free loopback port, as the ``postgres`` user when we run
as root). Each test gets its own database. ``db_engine`` is the same, already migrated.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
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


# --- sshd: the colocation server (backup), the servers a runbook stops ---------------------------------


@dataclass
class SftpServer:
    port: int
    user: str
    identity_file: str
    known_hosts_file: str
    root: Path


@pytest.fixture(scope="session")
def sshd() -> Iterator[SftpServer]:
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(binary) or os.geteuid() != 0:
        pytest.skip("needs openssh-server's sshd and root")
    root = Path(tempfile.mkdtemp(prefix="siaga-sshd-"))
    os.chmod(root, 0o755)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "host_key")], check=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(root / "user_key")], check=True)
    (root / "authorized_keys").write_text((root / "user_key.pub").read_text())
    os.chmod(root / "authorized_keys", 0o600)
    port = find_free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root / 'host_key'}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
        "PermitRootLogin prohibit-password\nStrictModes no\nUsePAM no\n"
        "Subsystem sftp internal-sftp\nLogLevel ERROR\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)
    host_pub = (root / "host_key.pub").read_text().split()
    (root / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"sshd died: {proc.stderr.read() if proc.stderr else ''!r}") from None
            time.sleep(0.05)
    (root / "repos").mkdir()
    try:
        yield SftpServer(port, "root", str(root / "user_key"), str(root / "known_hosts"), root / "repos")
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
