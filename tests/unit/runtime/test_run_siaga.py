"""run_siaga: the session record around the components, heartbeats, events."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from siaga.config import LoadedConfig, parse_config
from siaga.runtime import Component, RuntimeContext
from siaga.runtime.heartbeat import component as heartbeat_component
from siaga.runtime.serve import run_siaga
from siaga.store import create_engine_for, events, runtime_sessions, sqlite_url, upgrade
from siaga.store.sessions import start_session


class FakeClock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


def _ctx(tmp_path: Path) -> RuntimeContext:
    loaded = LoadedConfig(parse_config("site: {name: Test}\n", "t.yaml"), tmp_path / "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "t.db"))
    upgrade(engine)
    return RuntimeContext(loaded=loaded, engine=engine, clock=FakeClock(), heartbeat_seconds=0.02)


async def test_a_run_records_its_session_heartbeats_and_events(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    seen_session: list[int | None] = []

    async def probe(c: RuntimeContext, stop: asyncio.Event) -> None:
        seen_session.append(c.session_id)
        await stop.wait()

    failure = await run_siaga(ctx, [heartbeat_component, Component("probe", probe)], duration=0.2, grace=1)
    assert failure is None
    with ctx.engine.connect() as conn:
        [session] = conn.execute(select(runtime_sessions)).all()
        kinds = [r.kind for r in conn.execute(select(events).order_by(events.c.id))]
    assert seen_session == [session.id]
    assert session.started_at == dt.datetime(2026, 1, 1, 0, 0, 1, tzinfo=dt.UTC)
    # several heartbeats moved last_seen_at on; the stop is the clock's last reading
    assert session.stopped_at == session.last_seen_at
    assert session.stopped_at - session.started_at >= dt.timedelta(seconds=3)
    assert kinds == ["siaga.started", "siaga.stopped"]


async def test_a_second_run_warns_about_an_unclean_first_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _ctx(tmp_path)
    with ctx.engine.begin() as conn:
        start_session(conn, dt.datetime(2025, 12, 31, tzinfo=dt.UTC))  # never stopped: a crash
    with caplog.at_level(logging.WARNING, logger="siaga.runtime"):
        await run_siaga(ctx, [], duration=0.01, grace=1)
    assert "the previous run did not stop cleanly" in caplog.text


async def test_reload_restarts_the_components_with_the_new_config(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    seen: list[str] = []
    reload = asyncio.Event()
    stop = asyncio.Event()
    gone = FileNotFoundError(2, "No such file or directory", "siaga.yaml")
    configs = iter(["site: {name: Second}\n", "site: {name: [not, valid]}\n", gone, "site: {name: Third}\n"])

    def reload_config() -> LoadedConfig:
        text = next(configs)
        if isinstance(text, Exception):
            raise text
        return LoadedConfig(parse_config(text, "t.yaml"), tmp_path / "siaga.yaml")

    async def probe(c: RuntimeContext, stop_cycle: asyncio.Event) -> None:
        seen.append(c.config.site.name)
        await stop_cycle.wait()

    async def driver() -> None:
        for _ in range(4):
            await asyncio.sleep(0.05)
            reload.set()
        await asyncio.sleep(0.1)
        stop.set()

    task = asyncio.create_task(driver())
    failure = await asyncio.wait_for(run_siaga(  # bounded: a reload watch that died once left siaga unstoppable
        ctx, [Component("probe", probe)], stop=stop, reload=reload, reload_config=reload_config, grace=1,
        build=lambda c: [Component("probe", probe)],
    ), 20)
    await task
    assert failure is None
    assert seen == ["Test", "Second", "Third"]  # the invalid config and the missing file changed nothing
    with ctx.engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(events).order_by(events.c.id))]
        assert len(conn.execute(select(runtime_sessions)).all()) == 1
    assert kinds == ["siaga.started", "siaga.reloaded", "siaga.reloaded", "siaga.stopped"]


async def test_a_heartbeat_the_store_refuses_is_said_once_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = _ctx(tmp_path)
    ctx.session_id = 1
    ctx.engine = create_engine_for("postgresql+psycopg://nobody@127.0.0.1:1/none")  # nothing listens there
    stop = asyncio.Event()
    with caplog.at_level(logging.INFO, logger="siaga.runtime"):
        beating = asyncio.create_task(heartbeat_component.run(ctx, stop))
        async with asyncio.timeout(10):
            while sum("heartbeat" in r.getMessage() for r in caplog.records) < 1:  # noqa: ASYNC110 - a log, no event
                await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # several more beats, refused too
        assert not beating.done()  # the heartbeat goes on: no restart, no "siaga degraded" for a store hiccup
        stop.set()
        await asyncio.wait_for(beating, 5)
    refused = [r for r in caplog.records if r.getMessage().startswith("heartbeat: the store refuses it")]
    assert len(refused) == 1
