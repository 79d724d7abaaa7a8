"""Database dumps streamed into restic: PostgreSQL and MariaDB, drills into scratch databases on real servers,
a dump killed half-way that leaves no snapshot, restores that never overwrite."""

from __future__ import annotations

import os
import signal
import subprocess
from typing import TYPE_CHECKING

import psycopg
import pymysql
import pytest
from sqlalchemy.engine import make_url

from siaga.backup.manifest import DatabaseManifest
from siaga.backup.records import manifest_for
from siaga.backup.site import in_english

if TYPE_CHECKING:
    from conftest import MariaDB, Site

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _pg(admin_url: str) -> tuple[str, str, int]:
    url = make_url(admin_url)
    return url.render_as_string(hide_password=False).replace("+psycopg", ""), str(url.host), int(url.port or 5432)


def _make_pg_db(admin_url: str, name: str, rows: int) -> None:
    dsn, _, _ = _pg(admin_url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(dsn.rsplit("/", 1)[0] + f"/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE pegawai (id serial PRIMARY KEY, nama text, catatan text)")
        conn.execute("CREATE TABLE absensi (id bigint, hadir boolean)")
        conn.execute("CREATE TABLE kosong (id int)")
        conn.execute(
            "INSERT INTO pegawai (nama, catatan) SELECT 'pegawai ' || g, repeat(md5(g::text), 8) "
            "FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("INSERT INTO absensi SELECT g, g % 3 = 0 FROM generate_series(1, 500) g")


def _pg_job(admin_url: str, name: str) -> dict[str, object]:
    _, host, port = _pg(admin_url)
    return {
        "id": "db-utama",
        "target": "colo",
        "services": ["db-utama"],
        "database": {"type": "postgresql", "name": name, "host": host, "port": port, "user": "postgres"},
        "drill": {"scratch_database_url": f"postgresql://postgres@{host}:{port}/postgres"},
        "rpo": "1h",
        "rto": "1h",
    }


def _target(site: Site) -> list[dict[str, object]]:
    return [{"id": "colo", "type": "local", "path": str(site.tmp / "repo"), "password_file": site.password()}]


async def test_postgres_dump_is_streamed_counted_and_drilled_into_a_scratch_database(
    site: Site, postgres_admin_url: str
) -> None:
    _make_pg_db(postgres_admin_url, "bontang_a", 2000)
    mgr = site.manager(_target(site), [_pg_job(postgres_admin_url, "bontang_a")])
    await mgr.init_target("colo")
    result = await mgr.run_job("db-utama")
    assert result.ok, result.error
    manifest = manifest_for(site.engine, str(result.run_tag))
    assert isinstance(manifest, DatabaseManifest)
    assert manifest.tables == {"public.pegawai": 2000, "public.absensi": 500, "public.kosong": 0}

    drill = await mgr.drill("db-utama")
    assert drill.ok, (drill.error, drill.problems)
    assert drill.checked == 3 and drill.rto_s is not None and drill.bytes_restored == manifest.size

    # Restore for the bad day: into a new database, then refuse to overwrite it.
    dsn, host, port = _pg(postgres_admin_url)
    url = f"postgresql://postgres@{host}:{port}/bontang_pulih"
    _snap, _took = await mgr.restore("db-utama", to_database=url)
    with psycopg.connect(dsn.rsplit("/", 1)[0] + "/bontang_pulih") as conn:
        assert conn.execute("SELECT count(*) FROM pegawai").fetchone() == (2000,)
    from siaga.backup.manager import BackupError

    with pytest.raises(BackupError, match="never overwrites"):
        await mgr.restore("db-utama", to_database=url)


async def test_a_dump_killed_half_way_leaves_no_snapshot(site: Site, postgres_admin_url: str) -> None:
    _make_pg_db(postgres_admin_url, "bontang_b", 60000)
    mgr = site.manager(_target(site), [_pg_job(postgres_admin_url, "bontang_b")])
    await mgr.init_target("colo")
    killed: list[int] = []

    def kill_dump(pid: int, sent: int) -> None:
        if not killed:
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    result = await mgr.run_job("db-utama", on_dump_chunk=kill_dump)
    assert killed
    assert not result.ok and result.error_kind == "source_failed"
    assert "no snapshot was kept" in in_english(result.error)
    assert await mgr.snapshots("colo") == []
    assert "backup.failed" in site.sink.active("db-utama")


async def test_mariadb_dump_single_transaction_and_drill(site: Site, mariadb: MariaDB) -> None:
    conn = pymysql.connect(host=mariadb.host, port=mariadb.port, user=mariadb.user, autocommit=True)
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS simpeg")
        cur.execute("CREATE DATABASE simpeg")
        cur.execute("CREATE TABLE simpeg.pegawai (id INT PRIMARY KEY, nama VARCHAR(100)) ENGINE=InnoDB")
        values = ",".join(f"({i}, 'Pegawai ''{i}'', (Bontang), ke-{i}')" for i in range(1, 1201))
        cur.execute(f"INSERT INTO simpeg.pegawai VALUES {values}")
        cur.execute("CREATE TABLE simpeg.kosong (id INT) ENGINE=InnoDB")
    conn.close()
    job = {
        "id": "simpeg",
        "target": "colo",
        "database": {
            "type": "mariadb",
            "name": "simpeg",
            "host": mariadb.host,
            "port": mariadb.port,
            "user": mariadb.user,
        },
        "drill": {"scratch_database_url": mariadb.url},
    }
    mgr = site.manager(_target(site), [job])
    await mgr.init_target("colo")
    result = await mgr.run_job("simpeg")
    assert result.ok, result.error
    manifest = manifest_for(site.engine, str(result.run_tag))
    assert isinstance(manifest, DatabaseManifest)
    assert manifest.tables == {"pegawai": 1200, "kosong": 0}
    drill = await mgr.drill("simpeg")
    assert drill.ok, (drill.error, drill.problems)


def test_pg_dump_is_plain_sql(postgres_admin_url: str) -> None:
    from siaga.backup.dumps import dump_invocation
    from siaga.config.backup import DatabaseDump

    _, host, port = _pg(postgres_admin_url)
    inv = dump_invocation(DatabaseDump(type="postgresql", name="postgres", host=host, port=port, user="postgres"))
    out = subprocess.run(inv.args, capture_output=True, check=True).stdout
    assert out.startswith(b"--\n-- PostgreSQL database dump")
