"""PostgreSQL stopped under a running siaga (checks + sensing + paging) and started again.

Before the crash-only runtime, `pg_ctl stop -m fast` ended `siaga serve` with exit code 0 within ~5 s:
the checks engine's failed write set siaga's own stop event. Now siaga keeps running, says in /healthz
that its store is unreachable, and recovers by itself when PostgreSQL is back: what was sensed meanwhile
is stored and paged.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from siaga.checks.tables import check_states
from siaga.readings.tables import readings
from siaga.store import create_engine_for

from .conftest import Peer, paging, running_siaga

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def site(tmp_path: Path, peer: Peer, database_url: str) -> Path:
    (tmp_path / "gw.token").write_text("gateway-token\n", encoding="utf-8")
    path = tmp_path / "siaga.yaml"
    path.write_text(f"""
site: {{name: Uji Gangguan, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state, database_url: "{database_url}"}}
runtime: {{degraded_page_after: 1s, healthy_after: 1s, restart_max_pause: 2s}}
rooms: [{{id: ruang, name: Ruang Server}}]
racks: [{{id: R1, room: ruang}}]
services: [{{id: portal, name: Portal, url: "{peer.url}/up"}}]
sensors:
  - {{id: suhu-r1, kind: temperature, rack: R1, source: {{type: http, gateway: gw}}}}
  - {{id: bocor-r1, kind: leak, rack: R1, source: {{type: http, gateway: gw}}}}
http_push: {{gateways: [{{id: gw, token_file: gw.token}}]}}
checks:
  - {{service: portal, type: http, url: "{peer.url}/up", keyword: portal, interval_s: 1}}
""" + paging(peer), encoding="utf-8")
    return path


def push(port: int, sensor: str, value: object) -> None:
    r = httpx.post(f"http://127.0.0.1:{port}/api/v1/readings", headers={"Authorization": "Bearer gateway-token"},
                   json={"readings": [{"sensor": sensor, "value": value}]}, timeout=5)
    assert r.status_code == 200, r.text


def test_siaga_survives_a_postgresql_restart_and_catches_up(
    tmp_path: Path, peer: Peer, own_postgres: Any, free_port: int
) -> None:
    pg = own_postgres
    url = pg.url.replace("postgresql+psycopg://", "postgresql://")
    config = site(tmp_path, peer, url)
    argv = ["-m", "siaga", "serve", "--config", str(config), "--port", str(free_port)]
    with running_siaga(argv, free_port, tmp_path / "siaga.log") as siaga:
        siaga.wait_health(lambda code, b: code == 200 and b["components"].get("checks") == "running", "checks running")
        push(free_port, "suhu-r1", 24.0)

        pg.stop("fast")
        stopped_at = time.monotonic()
        down = siaga.wait_health(
            lambda code, b: code == 503 and {"reason": "store.unreachable"} in b["reasons"], "the store unreachable"
        )
        assert down["db"] is False and down["status"] == "degraded"
        push(free_port, "bocor-r1", True)  # water while the store is down
        push(free_port, "suhu-r1", 25.5)
        # longer than the ~5 s after which siaga used to exit 0, and than two of the status page's looks at the
        # store (every 10 s): each fails, and says so once a minute, not a traceback each
        while time.monotonic() - stopped_at < 22:
            siaga.alive()
            time.sleep(0.5)
        said = siaga.log_text().count("status page: rebuilding the snapshot failed")
        assert said == 1, siaga.log_text()[-4000:]
        assert "keep_fresh" not in siaga.log_text()  # its keeper never died (a checks restart meanwhile too)

        pg.start()
        back_at = dt.datetime.now(dt.UTC)
        siaga.wait_health(lambda code, b: code == 200 and b["reasons"] == [], "recovery")
        page = peer.wait_page("Kebocoran air")  # the leak sensed while the store was down is paged
        assert "R1" in page["message"]

        engine = create_engine_for(url)
        try:
            deadline = time.monotonic() + 20
            while True:
                with engine.connect() as conn:
                    stored = dict(conn.execute(
                        select(readings.c.sensor, func.count()).group_by(readings.c.sensor)).all())
                    last_check = conn.execute(
                        select(check_states.c.last_at).where(check_states.c.service == "portal")).scalar()
                if (stored.get("bocor-r1") and stored.get("suhu-r1") == 2 and last_check is not None
                        and last_check > back_at) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            engine.dispose()
        assert stored.get("bocor-r1") == 1 and stored.get("suhu-r1") == 2, stored  # nothing lost meanwhile
        assert last_check is not None and last_check > back_at  # the checks write again

        code, log = siaga.terminate()
    assert code == 0, log[-4000:]
