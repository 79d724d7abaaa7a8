"""The engine end to end: real HTTP peers, the scheduler, confirmation, alert conditions, the store."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from siaga.alerts.model import Condition
from siaga.checks import records
from siaga.checks.engine import ChecksEngine
from siaga.checks.tables import check_changes, check_states
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext

pytestmark = pytest.mark.integration


class Sink:
    def __init__(self) -> None:
        self.got: list[Condition] = []

    def submit(self, condition: Condition) -> None:
        self.got.append(condition)


def site(base: str) -> LoadedConfig:
    text = f"""
site: {{name: Test}}
services:
  - {{id: portal, name: Portal, criticality: vital}}
  - {{id: berita, name: Berita, criticality: medium}}
checks:
  - {{service: portal, type: http, url: "{base}/down", interval_s: 1, retry_interval_s: 0.1, timeout_s: 2}}
  - {{service: berita, type: http, url: "{base}/healthy", interval_s: 1, keyword: Bontang}}
"""
    return LoadedConfig(parse_config(text, "siaga.yaml"), Path("siaga.yaml").absolute())


async def test_a_down_site_is_confirmed_alerted_and_stored(http_peer, db_engine: Engine) -> None:
    loaded = site(http_peer.base)
    sink = Sink()
    rt = RuntimeContext(loaded=loaded, engine=db_engine)
    rt.services.alerts = sink  # a plain sink in the hub's place
    engine = ChecksEngine(loaded.config, base_dir=Path.cwd(), flush_s=0.2)
    from siaga.checks.component import _alert_hooks

    engine.monitor.sink, engine.monitor.active_alerts = _alert_hooks(rt)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(rt, stop))
    for _ in range(100):
        await asyncio.sleep(0.05)
        if sink.got and engine.monitor.states["berita-http"].status.value == "up":
            break
    stop.set()
    await task
    assert [(c.rule, c.subject, c.active, c.severity.value) for c in sink.got] == [
        ("service.down", "portal", True, "critical")
    ]
    assert engine.monitor.states["portal-http"].fails >= 3
    with db_engine.connect() as conn:
        changes = conn.execute(select(check_changes.c.check_id, check_changes.c.status)).all()
        states = dict(conn.execute(select(check_states.c.check_id, check_states.c.status)).all())
    assert ("portal-http", "down") in changes and ("berita-http", "up") in changes
    assert states == {"portal-http": "down", "berita-http": "up"}


async def test_states_survive_a_restart(http_peer, db_engine: Engine) -> None:
    loaded = site(http_peer.base)
    rt = RuntimeContext(loaded=loaded, engine=db_engine)
    first = ChecksEngine(loaded.config, base_dir=Path.cwd())
    t = dt.datetime.now(dt.UTC)
    from siaga.checks.base import CheckResult

    for i in range(3):
        first.on_result(CheckResult("portal-http", "portal", t + dt.timedelta(seconds=i), False, None, "HTTP 503"))
    await rt.run_db(first.flush)
    second = ChecksEngine(loaded.config, base_dir=Path.cwd())
    await rt.run_db(second.restore)
    assert second.monitor.service_status["portal"].value == "down"
    assert second.monitor.states["portal-http"].since == t


def test_daily_tallies_come_from_changes_and_sessions(db_engine: Engine) -> None:
    from zoneinfo import ZoneInfo

    from siaga.checks.confirm import Change, Status
    from siaga.checks.monitor import RecordedChange
    from siaga.store.sessions import start_session, stop_session

    zone = ZoneInfo("Asia/Makassar")
    day = dt.date(2025, 7, 16)
    start = dt.datetime(2025, 7, 15, 16, tzinfo=dt.UTC)  # 00:00 WITA
    with db_engine.begin() as conn:
        sid = start_session(conn, start)
        stop_session(conn, sid, start + dt.timedelta(hours=20))  # siaga ran 20 of 24 hours
        records.write_batch(conn, [
            RecordedChange("portal-http", "portal", Change(Status.unknown, Status.up, start, start, "")),
            RecordedChange("portal-http", "portal", Change(
                Status.up, Status.down, start + dt.timedelta(hours=10), start + dt.timedelta(hours=10), "503")),
        ], [])
        n = records.recompute_days(
            conn, [day], zone, start + dt.timedelta(days=2), checks_of={"portal": ["portal-http"]},
            maintenance={"portal": [(start + dt.timedelta(hours=1), start + dt.timedelta(hours=2))]},
        )
        assert n == 1
        got = records.read_daily(conn, day, day)["portal"][day]
    assert got.up_s == 9 * 3600 and got.maintenance_s == 3600
    assert got.down_s == 10 * 3600 and got.unknown_s == 4 * 3600
