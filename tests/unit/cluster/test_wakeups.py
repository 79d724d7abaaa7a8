"""What waits for a lease sleeps until a keeper's round, not on a poll: a gated component wakes as soon as
the round that gives (or takes) its role ends, and the rules wake when the shards held change. An idle
process then pays no wake-ups between rounds (a 0.1 s poll cost it ten a second, ~0.1 ms of CPU each)."""

from __future__ import annotations

import asyncio
from typing import Any

from siaga.cluster import leases
from siaga.cluster.component import LOOK_S, Cluster
from siaga.cluster.rule_keeper import RuleShardKeeper
from siaga.waits import until_either


class Mono:
    def __init__(self) -> None:
        self.s = 100.0

    def __call__(self) -> float:
        return self.s


async def test_until_either_returns_on_either_event_or_the_time() -> None:
    loop = asyncio.get_running_loop()
    a, b = asyncio.Event(), asyncio.Event()
    loop.call_later(0.05, b.set)
    started = loop.time()
    await until_either(a, b, 5.0)
    assert b.is_set() and loop.time() - started < 1.0
    started = loop.time()
    await until_either(asyncio.Event(), asyncio.Event(), 0.05)
    assert 0.04 <= loop.time() - started < 1.0


async def test_a_gated_component_wakes_when_the_round_gives_it_its_role() -> None:
    mono = Mono()
    c = Cluster(None, lease_s=3.0, shared=True, monotonic=mono)  # type: ignore[arg-type]
    c.declare("backup")
    got: dict[str, Any] = {}

    def round_(session_id: int | None, leaving: set[str]) -> Any:
        return got, set(), []

    c._round = round_  # type: ignore[method-assign]
    looks = [0]
    holds = c.holds

    def counted(role: str) -> bool:
        looks[0] += 1
        return holds(role)

    c.holds = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    waiting = asyncio.create_task(c._until(True, "backup", stop))
    await asyncio.sleep(0.5)
    assert not waiting.done()
    assert looks[0] == 1  # between rounds it sleeps: no look, no wake-up
    now = c.clock()
    got["backup"] = leases.Lease("backup", c.holder, 1, 7, now, now, now)
    await c.renew(1)
    await asyncio.wait_for(waiting, LOOK_S / 2)  # at once, not at its next look
    assert c.holds("backup")
    # held: the wait for its loss ends when the lease ends here, by this process's clock
    losing = asyncio.create_task(c._until(False, "backup", stop))
    await asyncio.sleep(0.05)
    assert not losing.done()
    mono.s += 3.5
    got.clear()
    await c.renew(1)  # the round did not renew it (its row was busy): its lease has ended here
    await asyncio.wait_for(losing, LOOK_S / 2)


async def test_the_rule_keeper_says_when_the_shards_held_change_and_only_then() -> None:
    mono = Mono()
    k = RuleShardKeeper(None, 2, lease_s=3.0, monotonic=mono)  # type: ignore[arg-type]
    rounds = [{0}, {0}, {0, 1}]

    def round_(started: float) -> None:
        k._held = {s: leases.Held(1, started + 3.0) for s in rounds.pop(0)}

    k._round = round_  # type: ignore[method-assign]
    await k.renew(1)
    assert k.changed.is_set()  # shard 0 taken
    k.changed.clear()
    await k.renew(1)
    assert not k.changed.is_set()  # renewed: nothing to load or let go
    await k.renew(1)
    assert k.changed.is_set()  # shard 1 taken
