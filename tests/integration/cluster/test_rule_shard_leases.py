"""The rule shards' leases on a real PostgreSQL, two keepers on one store with their clocks in the test's hand:
a lone process holds every shard, a second one gets half once the first gives its excess up, and a process
that stops renewing leaves its shards to the other as soon as their leases end."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from siaga.cluster.rule_keeper import RuleShardKeeper, fair_share
from siaga.store.sessions import heartbeat, start_session

from .cluster import Clock

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LEASE_S = 3.0
SHARDS = 6


def keeper(engine: Engine, clock: Clock, name: str) -> RuleShardKeeper:
    with engine.begin() as conn:
        session = start_session(conn, clock.now(), host="uji", pid=len(name))
    k = RuleShardKeeper(engine, SHARDS, lease_s=LEASE_S, clock=clock.now, monotonic=clock.mono)
    k.session_id, k.holder = session, f"uji:{name}:{session}"
    return k


def beat(engine: Engine, clock: Clock, *keepers: RuleShardKeeper) -> None:
    """What the cluster keeper does every third of the lease: the sessions are seen alive."""
    with engine.begin() as conn:
        for k in keepers:
            assert k.session_id is not None
            heartbeat(conn, k.session_id, clock.now())


def test_shards_spread_over_the_live_keepers_and_a_silent_ones_shards_are_taken_when_its_leases_end(
        engine: Engine) -> None:
    assert fair_share(8, 3) == 3 and fair_share(6, 0) == 6
    clock = Clock()
    a = keeper(engine, clock, "a")
    a._round(clock.mono())
    assert a.held() == list(range(SHARDS))  # alone: every shard
    b = keeper(engine, clock, "b")
    beat(engine, clock, a, b)
    b._round(clock.mono())
    assert b.held() == []  # all taken by a, whose leases run
    clock.s += 1.0
    beat(engine, clock, a, b)
    a._round(clock.mono())
    assert len(a.held()) == 3  # above its share: the excess given up at once
    b._round(clock.mono())
    assert len(b.held()) == 3 and not set(a.held()) & set(b.held())
    # a stops renewing (killed): b takes its shards once their leases have ended, not before
    for _ in range(3):
        clock.s += 1.0
        beat(engine, clock, b)
        b._round(clock.mono())
    assert len(b.held()) == 3  # a's leases (renewed at 1 s) end at 4 s
    clock.s += 0.1
    b._round(clock.mono())
    assert b.held() == list(range(SHARDS))
    assert a.held() == []  # by its own clock, a holds nothing once its leases ran out
