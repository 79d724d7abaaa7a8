"""A component that keeps failing: 503 with the reason in /healthz, a "siaga degraded" alert, resolved when healthy."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import AlertState, Severity, SubjectKind
from siaga.alerts.tables import alerts
from siaga.config import LoadedConfig, parse_config
from siaga.i18n.messages import Message
from siaga.runtime import Component, RuntimeContext
from siaga.runtime.degraded import RULE, degraded_summary
from siaga.runtime.supervisor import Supervisor
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.app import create_app


def _ctx(tmp_path: Path, language: str = "en") -> RuntimeContext:
    text = f"site: {{name: Test, timezone: Asia/Makassar, language: {language}}}\n"
    loaded = LoadedConfig(parse_config(text, "t.yaml"), tmp_path / "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "t.db"))
    upgrade(engine)
    ctx = RuntimeContext(loaded=loaded, engine=engine)
    ctx.services.alerts = AlertManager(engine, clock=ctx.clock)
    return ctx


async def _until(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(5):
        while not predicate():  # noqa: ASYNC110 - the alert manager and the states offer nothing to await
            await asyncio.sleep(0.01)


async def test_a_component_failing_again_and_again_pages_and_resolves_when_healthy(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    manager = ctx.services.alerts
    assert isinstance(manager, AlertManager)
    healthy = asyncio.Event()
    stop = asyncio.Event()

    async def boom(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        if not healthy.is_set():
            raise OSError(28, "No space left on device")
        await own.wait()

    sup = Supervisor(ctx, [Component("checks", boom)], first_pause=0.01, max_pause=0.02, healthy_after=0.1,
                     page_after=0.1, grace=1)
    running = asyncio.create_task(sup.run(stop))
    await _until(lambda: manager.get(RULE, "checks") is not None)
    alert = manager.get(RULE, "checks")
    assert alert is not None
    assert alert.state is AlertState.firing and alert.severity is Severity.critical
    assert alert.subject_kind is SubjectKind.system
    status = ctx.component_status["checks"]
    assert alert.summary == Message("siaga.degraded", {"component": "checks", "since": status.since.isoformat()})
    shown = degraded_summary("checks", status.since, zone="Asia/Makassar", lang="en")
    assert shown.startswith("siaga degraded: checks, since ") and shown.endswith(" WITA")
    assert alert.params["error"] == "OSError: [Errno 28] No space left on device"

    # /healthz names it while it lasts
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://siaga") as client:
        resp = await client.get("/healthz")
    assert resp.status_code == 503
    [reason] = resp.json()["reasons"]
    assert reason["reason"] == "component.restarting" and reason["component"] == "checks"
    assert reason["last_error"].startswith("OSError") and reason["restarts"] >= 1
    assert dt.datetime.fromisoformat(reason["since"]) == status.since

    healthy.set()
    await _until(lambda: manager.get(RULE, "checks") is None)
    assert ctx.component_states["checks"] == "running"
    stop.set()
    await asyncio.wait_for(running, 5)
    with ctx.engine.connect() as conn:
        [row] = conn.execute(select(alerts.c.state, alerts.c.rule).where(alerts.c.subject == "checks")).all()
    assert tuple(row) == ("resolved", RULE)


async def test_a_short_trouble_pages_nobody(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    manager = ctx.services.alerts
    assert isinstance(manager, AlertManager)
    runs = 0
    stop = asyncio.Event()

    async def hiccup(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise RuntimeError("connection reset")
        await own.wait()

    sup = Supervisor(ctx, [Component("heartbeat", hiccup)], first_pause=0.01, healthy_after=0.05,
                     page_after=30, grace=1)
    running = asyncio.create_task(sup.run(stop))
    await _until(lambda: runs == 2 and ctx.component_states["heartbeat"] == "running")
    stop.set()
    await asyncio.wait_for(running, 5)
    assert manager.active() == []


@pytest.mark.parametrize(("lang", "expected"), [
    ("id", "siaga terganggu: checks, sejak 6 Des 2026 11:12 WITA"),
    ("en", "siaga degraded: checks, since 6 Dec 2026 11:12 WITA"),
])
def test_the_degraded_text_is_in_the_sites_language_and_local_time(lang: str, expected: str) -> None:
    since = dt.datetime(2026, 12, 6, 3, 12, tzinfo=dt.UTC)
    assert degraded_summary("checks", since, zone="Asia/Makassar", lang=lang) == expected
