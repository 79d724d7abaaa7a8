"""Real peers for the backup tests: restic, an sshd on a free loopback port as the colocation SFTP target,
PostgreSQL (the shared fixture) and a MariaDB started here (or SIAGA_TEST_MYSQL_URL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from siaga.alerts.model import Condition
from siaga.backup.manager import BackupManager
from siaga.backup.restic.binary import ResticBinary, find_restic
from siaga.backup.restic.errors import ResticError
from siaga.config import parse_config
from siaga.store import create_engine_for, sqlite_url, upgrade


def find_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def restic_bin() -> ResticBinary:
    try:
        return find_restic()
    except ResticError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(engine)
    yield engine
    engine.dispose()


class Sink:
    def __init__(self) -> None:
        self.conditions: list[Condition] = []

    def submit(self, condition: Condition) -> None:
        self.conditions.append(condition)

    def active(self, job: str) -> set[str]:
        latest: dict[str, Condition] = {}
        for cond in self.conditions:
            if cond.subject == job:
                latest[cond.rule] = cond
        return {rule for rule, cond in latest.items() if cond.active}


@pytest.fixture
def sink() -> Sink:
    return Sink()


@dataclass
class Site:
    tmp: Path
    engine: Engine
    restic: ResticBinary
    sink: Sink

    def manager(self, targets: list[dict[str, Any]], backups: list[dict[str, Any]], **kw: Any) -> BackupManager:
        doc = {
            "site": {"name": "Test", "timezone": "Asia/Makassar"},
            "services": [{"id": "portal", "name": "Portal"}, {"id": "db-utama", "name": "DB"}],
            "targets": targets,
            "backups": backups,
        }
        cfg = parse_config(yaml.safe_dump(doc), str(self.tmp / "siaga.yaml"))
        return BackupManager(cfg, engine=self.engine, base_dir=self.tmp, restic=self.restic, sink=self.sink, **kw)

    def password(self, name: str = "pw", value: str = "correct horse battery staple") -> str:
        path = self.tmp / name
        path.write_text(value + "\n")
        path.chmod(0o600)
        return str(path)


@pytest.fixture
def site(tmp_path: Path, store: Engine, restic_bin: ResticBinary, sink: Sink) -> Site:
    return Site(tmp_path, store, restic_bin, sink)


# --- MariaDB ---------------------------------------------------------------------------------------


@dataclass
class MariaDB:
    url: str  # mysql://root@127.0.0.1:PORT/
    host: str
    port: int
    user: str


@pytest.fixture(scope="session")
def mariadb() -> Iterator[MariaDB]:
    given = os.environ.get("SIAGA_TEST_MYSQL_URL")
    if given:
        from siaga.backup.dumps import parse_server_url

        server = parse_server_url(given)
        yield MariaDB(given, server.host or "127.0.0.1", server.port or 3306, server.user or "root")
        return
    install = shutil.which("mariadb-install-db")
    daemon = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
    if install is None or not os.path.exists(daemon):
        pytest.skip("no MariaDB server binaries (apt-get install mariadb-server) and no SIAGA_TEST_MYSQL_URL")
    root = Path(tempfile.mkdtemp(prefix="siaga-mariadb-"))
    data = root / "data"
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--skip-test-db",
            "--auth-root-authentication-method=normal",
            *user,
        ],
        check=True,
        capture_output=True,
    )
    port = find_free_port()
    proc = subprocess.Popen(
        [
            daemon,
            "--no-defaults",
            f"--datadir={data}",
            f"--socket={root / 'sock'}",
            f"--port={port}",
            "--bind-address=127.0.0.1",
            "--skip-grant-tables",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            f"--pid-file={root / 'pid'}",
            f"--log-error={root / 'err.log'}",
            *user,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import pymysql

    deadline = time.monotonic() + 30
    while True:
        try:
            pymysql.connect(host="127.0.0.1", port=port, user="root").close()
            break
        except pymysql.err.OperationalError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("mariadbd did not start: " + (root / "err.log").read_text()[-500:]) from None
            time.sleep(0.1)
    try:
        yield MariaDB(f"mysql://root@127.0.0.1:{port}/", "127.0.0.1", port, "root")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(root, ignore_errors=True)
