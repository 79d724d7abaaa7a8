"""The Bontang portal brought up at the colocation: time from "the room is gone" to the portal answering its
checks from the standby, with the standby kept warm vs restored cold.

Run by hand (never as a test):  python bench/failover_drill.py [--small] [--dir /var/tmp/siaga-failover]

Real parts: a local restic repository (the colocation's), nginx on a loopback port serving the standby web
root, a PostgreSQL server of its own (``siaga.store.testserver``) for the production and the standby database.
The portal: a web root of random (incompressible) files, >= 500 MB (``--small``: 20 MB), and a database whose
plain dump is >= 200 MB (``--small``: 5 MB). Both jobs are backed up and drilled (verified), then:

- warm: the standby is refreshed beforehand (the schedule's work); the clock starts at the trigger and stops
  when the portal answers its http check from the standby (``siaga standby drill``: reload, then checks);
- cold: web root, releases and standby database removed; the clock starts at the trigger and stops when the
  portal answers after a full restore of both snapshots (``siaga standby drill --cold``).

- warm runbook: the failover runbook as people write it, run the way a trigger in ``siaga serve`` runs it
  (plan, then ``run_plan``): the ``standby`` step for the portal, then a ``dns`` step pointing the portal's name
  at the standby through a real BIND 9 on loopback (TSIG-signed RFC 2136 update, ``bench_bind.py``). The clock
  starts when the runbook is started and stops when the name resolves to the standby at the authoritative
  server AND the portal answers its check from the standby (``warm_runbook_rto_s``).

``data_age_s``: age of the restored data at the warm switch (snapshot time to trigger). ``dns_ttl_s``: the TTL
the portal's old record had (what a client's resolver may still hold after the update): a real client may see
the standby up to that much later; it is not in the figures. Prints one JSON object.
"""

# ruff: noqa: ASYNC240 - a benchmark run step by step: its blocking file work is part of the setup, not timed
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from bench_bind import authoritative

from siaga.backup.manager import BackupManager
from siaga.config import parse_config
from siaga.inventory import Inventory
from siaga.runbooks.drill import name_answers
from siaga.runbooks.engine import run_plan
from siaga.runbooks.plan import plan
from siaga.runbooks.steps import StepContext
from siaga.runbooks.steps.standby import activator
from siaga.standby.actions import answers, drill, refresh
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.testserver import PostgresServer, pg_bindir

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
ZONE = "bontang.test."
DNS_TTL = 300
"""The TTL of the portal's record before the failover (a common choice for a name that may move)."""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_web_root(root: Path, mb: int) -> int:
    (root / "uploads").mkdir(parents=True)
    (root / "index.html").write_text("<h1>Portal Resmi Pemerintah Kota Bontang</h1>\n")
    size = 0
    for i in range(mb):
        data = os.urandom(1 << 20)
        (root / "uploads" / f"dokumen-{i:05d}.pdf").write_bytes(data)
        size += len(data)
    for i in range(2000):
        page = f"<p>berita {i}</p>\n" * 20
        (root / f"berita-{i}.html").write_text(page)
        size += len(page)
    return size


def make_database(dsn: str, name: str, mb: int) -> None:
    import psycopg

    with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    rows = mb * 1024 * 1024 // 110  # ~115 bytes a row in the plain dump
    with psycopg.connect(f"{dsn}/{name}", autocommit=True) as conn:
        conn.execute("CREATE TABLE berita (id bigserial PRIMARY KEY, judul text, isi text)")
        conn.execute(
            "INSERT INTO berita (judul, isi) SELECT 'berita ' || g, md5(g::text) || md5((g * 7)::text) || "
            "md5((g * 13)::text) FROM generate_series(1, %s) g",
            (rows,),
        )


def start_nginx(run: Path, web_root: Path, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    run.mkdir(parents=True)
    temps = "\n".join(f"  {k}_temp_path {run / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = run / "nginx.conf"
    conf.write_text(
        f"user root;\nworker_processes 1;\npid {run / 'nginx.pid'};\nerror_log {run / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temps}\n"
        f"  server {{ listen 127.0.0.1:{port}; root {web_root}; location / {{ }} }}\n}}\n"
    )
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            time.sleep(0.05)
    return proc, conf


def dump_size(dsn: str, name: str, bindir: Path) -> int:
    out = subprocess.run([str(bindir / "pg_dump"), "--dbname", f"{dsn}/{name}"], capture_output=True, check=True)
    return len(out.stdout)


async def run_failover(cfg: Any, mgr: BackupManager, book: Any) -> tuple[float, int | None, dict[str, float]]:
    """Run the failover runbook from its start to the portal's name resolving to the standby at the authoritative
    server and the portal answering its check from the standby: (seconds, the old record's TTL, each step's
    seconds)."""
    begin = time.monotonic()  # what siaga.runbooks.component.execute does when a trigger starts the runbook
    p = plan(book, Inventory.from_config(cfg), cfg.runbooks, dt.datetime.now(dt.UTC))
    result = await run_plan(p, StepContext(standby=activator(mgr)))
    assert result.status == "done", result.as_json()
    dns_action = next(a for a in p.actions if a.kind == "dns")
    deadline = begin + 120
    while True:
        named, (serving, detail) = await asyncio.gather(name_answers(dns_action), answers(mgr, "portal"))
        if named.ok and serving:
            took = time.monotonic() - begin
            break
        assert time.monotonic() < deadline, (named.output, detail)
        await asyncio.sleep(0.01)
    ttl = next(s.outcome.facts.get("old_ttl") for s in result.steps if s.action.kind == "dns")
    steps = {f"{s.action.kind}": round(s.duration_s, 3) for s in result.steps}
    return took, ttl, steps


async def main() -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="20 MB web root, 5 MB dump: a quick run")
    ap.add_argument("--dir", default="/var/tmp/siaga-failover", help="scratch folder (emptied first)")
    args = ap.parse_args()
    web_mb, db_mb = (20, 5) if args.small else (500, 200)
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    bindir = pg_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries (apt-get install postgresql)")
    pg = PostgresServer(bindir).start()
    nginx: subprocess.Popen[bytes] | None = None
    stack = contextlib.ExitStack()
    try:
        bind = stack.enter_context(authoritative(base / "bind", ZONE, f"portal {DNS_TTL} IN A 10.0.0.10\n"))
        dsn = f"postgresql://postgres@127.0.0.1:{pg.port}"
        src = base / "room" / "www"
        web_bytes = make_web_root(src, web_mb)
        make_database(dsn, "portal", db_mb)
        port = free_port()
        web_root = base / "colo" / "www"
        web_root.parent.mkdir(parents=True)
        nginx, conf = start_nginx(base / "nginx", web_root, port)
        (base / "pw").write_text("bontang\n")
        doc = {
            "site": {"name": "Bontang", "timezone": "Asia/Makassar"},
            "services": [{"id": "portal", "name": "Portal Bontang"}],
            "targets": [{"id": "colo", "type": "local", "path": str(base / "repo"), "password_file": str(base / "pw"),
                         "offsite": True}],
            "backups": [
                {"id": "portal-files", "target": "colo", "services": ["portal"], "paths": [str(src)], "rpo": "6h"},
                {"id": "portal-db", "target": "colo", "services": ["portal"], "rpo": "6h",
                 "database": {"type": "postgresql", "name": "portal", "host": "127.0.0.1", "port": pg.port,
                              "user": "postgres"},
                 "drill": {"scratch_database_url": f"{dsn}/postgres"}},
            ],
            "checks": [{"type": "http", "service": "portal", "url": "https://bontangkota.go.id/",
                        "keyword": "Kota Bontang", "timeout_s": 5}],
            "standbys": [{"service": "portal", "web_root": str(web_root), "database_url": f"{dsn}/portal_standby",
                          "command": [NGINX, "-c", str(conf), "-s", "reload"],
                          "check_url": f"http://127.0.0.1:{port}", "answer_within_s": 120}],
            "runbooks": {
                "dns": [{"id": "ns", "address": "127.0.0.1", "port": bind.port, "zone": ZONE,
                         "tsig_name": bind.key_name, "tsig_secret_file": bind.secret_file}],
                "books": [{"id": "failover-portal", "mode": "auto", "trigger": {"rule": "peer.silent"}, "steps": [
                    {"kind": "standby", "service": "portal"},
                    {"kind": "dns", "server": "ns", "name": "portal", "address": "127.0.0.1"},
                ]}],
            },
        }
        cfg = parse_config(yaml.safe_dump(doc), str(base / "siaga.yaml"))
        engine = create_engine_for(sqlite_url(base / "siaga.db"))
        upgrade(engine)
        mgr = BackupManager(cfg, engine=engine, base_dir=base)
        await mgr.init_target("colo")
        for job in ("portal-files", "portal-db"):
            ran = await mgr.run_job(job)
            assert ran.ok, ran.error
            drilled = await mgr.drill(job)
            assert drilled.ok, drilled.error
        db_bytes = dump_size(dsn, "portal", bindir)

        # Warm: the scheduled refresh happened before the room went; the clock starts at the trigger.
        warmed = await refresh(mgr, "portal")
        assert warmed.ok and warmed.checks_ok, warmed.error
        warm = await drill(mgr, "portal")
        assert warm.ok, warm.error
        data_age = (warm.started_at - warm.data_at).total_seconds() if warm.data_at else None

        # Warm, the whole runbook: started as a trigger in `siaga serve` starts it (plan, then run the plan).
        book = cfg.runbooks.books[0]
        runbook_rto, dns_ttl, step_s = await run_failover(cfg, mgr, book)

        # Cold: nothing at the colocation but the repository.
        web_root.unlink()
        shutil.rmtree(web_root.parent / f".{web_root.name}.releases")
        import psycopg

        with psycopg.connect(f"{dsn}/postgres", autocommit=True) as conn:
            conn.execute('DROP DATABASE "portal_standby" WITH (FORCE)')
        cold = await drill(mgr, "portal", cold=True)
        assert cold.ok, cold.error
        return {
            "variant": "small" if args.small else "full",
            "web_root_bytes": web_bytes,
            "dump_bytes": db_bytes,
            "warm_rto_s": round(warm.took_s or 0, 3),
            "warm_runbook_rto_s": round(runbook_rto, 3),
            "runbook_steps_s": step_s,
            "dns_ttl_s": dns_ttl,
            "cold_rto_s": round(cold.took_s or 0, 2),
            "data_age_s": round(data_age, 1) if data_age is not None else None,
            "refresh_s": round(warmed.took_s or 0, 2),
            "target_warm_rto_s": 60,
            "target_cold_rto_s": 900,
            "cpus": os.cpu_count(),
        }
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)
        stack.close()
        pg.remove()


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main()), indent=2))
