"""The status page's snapshot cache: never older than the docs say, a staff post shown at once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from siaga.checks.status import router
from siaga.checks.status.router import SNAPSHOT_TTL_S, StatusCache


class Builder:
    def __init__(self) -> None:
        self.built = 0
        self.changes = 0  # what the store says changed (another process's checks, an incident)

    def build(self) -> Any:
        self.built += 1
        return f"snapshot {self.built}"

    def version(self) -> tuple[object, ...]:
        return (self.changes,)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_view_never_gets_a_snapshot_older_than_twice_the_ttl() -> None:
    builder, clock = Builder(), Clock()
    cache = StatusCache(builder, clock)  # type: ignore[arg-type]
    assert await cache.get() == "snapshot 1"
    clock.now += SNAPSHOT_TTL_S / 2
    assert await cache.get() == "snapshot 1"  # fresh enough: a dictionary lookup
    clock.now += SNAPSHOT_TTL_S
    assert await cache.get() == "snapshot 1"  # stale within bounds: served while it rebuilds
    await asyncio.sleep(0.05)
    assert builder.built == 2
    clock.now += 3 * SNAPSHOT_TTL_S  # nobody kept it fresh (the 56-59 s old snapshot of issue 15)
    assert await cache.get() == "snapshot 3"


async def test_an_invalidated_snapshot_is_rebuilt_before_the_answer() -> None:
    builder, clock = Builder(), Clock()
    cache = StatusCache(builder, clock)  # type: ignore[arg-type]
    await cache.get()
    cache.invalidate()  # staff posted an incident
    assert await cache.get() == "snapshot 2"


async def test_keep_fresh_rebuilds_when_a_service_changes_state() -> None:
    builder = Builder()
    cache = StatusCache(builder)  # type: ignore[arg-type]
    states = {"portal": "unknown"}
    stop = asyncio.Event()
    task = asyncio.create_task(cache.keep_fresh(stop, lambda: dict(states)))
    for _ in range(100):
        if builder.built:
            break
        await asyncio.sleep(0.01)
    assert builder.built == 1  # at start
    states["portal"] = "up"
    for _ in range(300):  # within CHANGE_GAP_S (1 s) of the change
        if builder.built == 2:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert builder.built == 2


async def test_a_snapshot_the_store_says_is_current_is_kept_and_one_it_says_is_not_is_rebuilt() -> None:
    builder, clock = Builder(), Clock()
    cache = StatusCache(builder, clock)  # type: ignore[arg-type]
    await cache.get()
    clock.now += 3 * SNAPSHOT_TTL_S
    assert await cache.changed_elsewhere() is False  # nothing changed: current as of now
    assert await cache.get() == "snapshot 1" and builder.built == 1
    builder.changes += 1  # another process confirmed a service down
    assert await cache.changed_elsewhere() is True
    await cache.refresh()
    assert await cache.get() == "snapshot 2"


class Away(Builder):
    """A store that went away after the first build."""

    def build(self) -> Any:
        if self.built:
            raise ConnectionError("the store is away")
        return super().build()


async def test_a_store_away_keeps_the_last_snapshot_and_says_so_once_a_minute(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(router, "CHANGE_GAP_S", 0.01)
    builder = Away()
    cache = StatusCache(builder)  # type: ignore[arg-type]
    rounds = [0]
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="siaga.checks.status")
    task = asyncio.create_task(cache.keep_fresh(stop, lambda: rounds[0]))  # a new state each time: a rebuild
    for _ in range(300):
        if cache.failures >= 20:
            break
        rounds[0] += 1
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert cache.failures >= 20 and cache.snapshot == "snapshot 1"  # the page keeps the last one
    said = [r for r in caplog.records if "rebuilding the snapshot failed" in r.getMessage()]
    assert len(said) == 1 and "ConnectionError: the store is away" in said[0].getMessage()
