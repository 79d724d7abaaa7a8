"""The supervisor: restarts failing components, stops on a critical failure, cancels stragglers."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from siaga.config import LoadedConfig, parse_config
from siaga.i18n import using_language
from siaga.runtime import Component, ComponentError, RuntimeContext, load_components
from siaga.runtime.supervisor import Supervisor, mark_ready
from siaga.store import create_engine_for, sqlite_url


@pytest.fixture
def ctx(tmp_path: Path) -> RuntimeContext:
    loaded = LoadedConfig(parse_config("site: {name: Test}\n", "t.yaml"), tmp_path / "siaga.yaml")
    return RuntimeContext(loaded=loaded, engine=create_engine_for(sqlite_url(tmp_path / "t.db")))


async def test_a_failing_component_is_restarted_until_stop(ctx: RuntimeContext) -> None:
    runs = 0
    stop = asyncio.Event()

    async def flaky(_ctx: RuntimeContext, _stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            stop.set()
            return
        raise RuntimeError("sensor bus hiccup")

    sup = Supervisor(ctx, [Component("flaky", flaky)], first_pause=0.01, grace=1)
    assert await sup.run(stop) is None
    assert runs == 3
    assert sup.restarts["flaky"] == 2
    assert ctx.component_states["flaky"] == "stopped"


async def test_a_critical_component_that_cannot_start_stops_everything_and_is_reported(ctx: RuntimeContext) -> None:
    other_saw_stop = asyncio.Event()

    async def broken(_ctx: RuntimeContext, _stop: asyncio.Event) -> None:
        raise ComponentError("cannot listen on 127.0.0.1:8470: Address already in use")

    async def patient(_ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await stop.wait()
        other_saw_stop.set()

    sup = Supervisor(ctx, [Component("web", broken, critical=True), Component("other", patient)], grace=1)
    failure = await asyncio.wait_for(sup.run(asyncio.Event()), 5)
    assert failure == "web: cannot listen on 127.0.0.1:8470: Address already in use"
    assert other_saw_stop.is_set()
    assert ctx.component_states == {"web": "failed", "other": "stopped"}


async def test_a_critical_component_that_fails_after_it_was_up_is_restarted(ctx: RuntimeContext) -> None:
    runs = 0
    stop = asyncio.Event()

    async def web(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        mark_ready()
        if runs < 3:
            raise SystemExit(1)  # what uvicorn does when it gives up
        stop.set()
        await own.wait()

    sup = Supervisor(ctx, [Component("web", web, critical=True)], first_pause=0.01, grace=1)
    assert await asyncio.wait_for(sup.run(stop), 5) is None
    assert runs == 3 and sup.restarts["web"] == 2 and sup.ready.is_set()
    assert ctx.component_status["web"].last_error == "SystemExit(1)"


async def test_a_component_that_sets_its_stop_or_returns_early_ends_only_itself(ctx: RuntimeContext) -> None:
    """The checks engine once set the stop event it was given: that was the whole of siaga's stop."""
    runs = 0
    stop = asyncio.Event()
    ended_twice = asyncio.Event()

    async def quitter(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        own.set()
        if runs == 2:
            ended_twice.set()

    async def watcher(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        await own.wait()

    sup = Supervisor(ctx, [Component("quitter", quitter), Component("watcher", watcher)], first_pause=0.01, grace=1)
    running = asyncio.create_task(sup.run(stop))
    await asyncio.wait_for(ended_twice.wait(), 5)
    assert not stop.is_set() and not running.done()
    assert ctx.component_states["watcher"] == "running"
    status = ctx.component_status["quitter"]
    assert status.state == "restarting" and status.last_error == "ended by itself" and status.restarts >= 1
    stop.set()
    assert await asyncio.wait_for(running, 5) is None


async def test_a_restarted_component_is_restarting_until_it_has_run_healthy_after_seconds(
    ctx: RuntimeContext,
) -> None:
    runs = 0
    stop = asyncio.Event()
    states: list[str] = []

    async def flaky(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError("database is locked\nmore detail")
        await own.wait()

    healthy_again = asyncio.Event()

    def changed() -> None:
        states.append(ctx.component_states["flaky"])
        if runs == 3 and states[-1] == "running":
            healthy_again.set()

    sup = Supervisor(ctx, [Component("flaky", flaky)], first_pause=0.01, healthy_after=0.1, grace=1,
                     on_change=changed)
    running = asyncio.create_task(sup.run(stop))
    await asyncio.wait_for(healthy_again.wait(), 5)
    stop.set()
    await asyncio.wait_for(running, 5)
    assert states[:2] == ["running", "restarting"]
    assert "running" in states[2:]  # healthy again after its third run lasted healthy_after
    status = ctx.component_status["flaky"]
    assert status.restarts == 2 and status.last_error == "RuntimeError: database is locked"


async def test_a_component_that_ignores_stop_is_cancelled_after_the_grace(
    ctx: RuntimeContext, caplog: pytest.LogCaptureFixture
) -> None:
    cancelled = False

    async def stubborn(_ctx: RuntimeContext, _stop: asyncio.Event) -> None:
        nonlocal cancelled
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled = True
            raise

    stop = asyncio.Event()
    stop.set()
    with caplog.at_level(logging.WARNING):
        await asyncio.wait_for(Supervisor(ctx, [Component("stubborn", stubborn)], grace=0.05).run(stop), 5)
    assert cancelled
    assert "did not stop in time" in caplog.text


async def test_components_get_their_stop_event_and_flush(ctx: RuntimeContext) -> None:
    flushed: list[str] = []

    async def buffered(_ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await stop.wait()
        await asyncio.sleep(0.01)
        flushed.append("written")

    stop = asyncio.Event()
    asyncio.get_running_loop().call_later(0.05, stop.set)
    await Supervisor(ctx, [Component("buffered", buffered)], grace=1).run(stop)
    assert flushed == ["written"]


def test_factories_run_in_order_and_may_provide_nothing(ctx: RuntimeContext) -> None:
    import sys
    import types

    async def noop(_ctx: RuntimeContext, _stop: asyncio.Event) -> None:
        return None

    mod = types.ModuleType("siaga_test_components")

    def provider(c: RuntimeContext) -> Component:
        c.services.base_url = "http://provider"
        return Component("provider", noop)

    def user(c: RuntimeContext) -> list[Component]:
        assert c.services.base_url == "http://provider"
        return [Component("user-a", noop), Component("user-b", noop)]

    mod.provider = provider  # type: ignore[attr-defined]
    mod.user = user  # type: ignore[attr-defined]
    mod.nothing = lambda c: None  # type: ignore[attr-defined]
    mod.plain = Component("plain", noop)  # type: ignore[attr-defined]
    sys.modules["siaga_test_components"] = mod
    try:
        names = [
            c.name
            for c in load_components(
                ctx,
                ["siaga_test_components:provider", "siaga_test_components:user",
                 "siaga_test_components:nothing", "siaga_test_components:plain"],
            )
        ]
        assert names == ["provider", "user-a", "user-b", "plain"]
        with using_language("en"), pytest.raises(ComponentError, match="share a name: plain"):
            load_components(ctx, ["siaga_test_components:plain", "siaga_test_components:plain"])
    finally:
        del sys.modules["siaga_test_components"]


def test_a_component_names_the_service_it_misses(ctx: RuntimeContext) -> None:
    # Services are typed fields (a wrong type is mypy's to catch); a missing one is named by its user.
    from siaga.sources.component import component as sensing

    assert ctx.services.alerts is None
    with pytest.raises(ComponentError, match=r"no alerts hub \(siaga\.alerts\.component must run before it\)"):
        sensing(ctx)


async def test_the_restart_pause_doubles_and_starts_small_after_a_long_run(
    ctx: RuntimeContext, caplog: pytest.LogCaptureFixture
) -> None:
    runs = 0
    stop = asyncio.Event()

    async def failing(_ctx: RuntimeContext, _stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 4:
            await asyncio.sleep(0.1)  # a long, good run before this failure
        if runs == 6:
            stop.set()
            return
        raise RuntimeError("down")

    with caplog.at_level(logging.WARNING, logger="siaga.runtime"):
        await Supervisor(
            ctx, [Component("f", failing)], first_pause=0.01, max_pause=0.05, healthy_after=0.05, grace=1
        ).run(stop)
    pauses = [r.pause_s for r in caplog.records if r.getMessage() == "component failed; restarting"]
    assert pauses == [0.01, 0.02, 0.04, 0.01, 0.02]
