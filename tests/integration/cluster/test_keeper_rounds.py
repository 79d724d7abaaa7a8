"""A keeper's round on a real PostgreSQL is one transaction: the cluster keeper's (its roles, the session's
beat, the members and the checks' slots), the rule shards' and the MQTT slots'. Each process pays a round
every third of the lease whatever its load, so an idle site does not pay a transaction per role. What a
round takes is held here only once it commits: a round the store fails midway leaves nothing held here
and nothing held in the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select
from sqlalchemy.exc import OperationalError

from siaga.cluster import leases
from siaga.cluster.component import Cluster
from siaga.cluster.rule_keeper import RuleShardKeeper
from siaga.cluster.slots import SlotKeeper
from siaga.cluster.tables import cluster_leases
from siaga.store.sessions import start_session

from .cluster import Clock

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LEASE_S = 3.0


def session(engine: Engine, clock: Clock) -> int:
    with engine.begin() as conn:
        return start_session(conn, clock.now(), host="uji", pid=7)


def cluster(engine: Engine, clock: Clock, sid: int) -> tuple[Cluster, Callable[[], object]]:
    c = Cluster(engine, lease_s=LEASE_S, shared=True, clock=clock.now, monotonic=clock.mono)
    for role in ("notify", "backup", "reports", "status", "checks"):
        c.declare(role)
    c.shard("checks", 8)
    c.session_id, c.holder = sid, f"uji:cluster:{sid}"
    return c, lambda: c._round(sid, set())


def rule_keeper(engine: Engine, clock: Clock, sid: int) -> tuple[RuleShardKeeper, Callable[[], object]]:
    k = RuleShardKeeper(engine, 6, lease_s=LEASE_S, clock=clock.now, monotonic=clock.mono)
    k.session_id, k.holder = sid, f"uji:rules:{sid}"
    return k, lambda: k._round(clock.mono())


def slot_keeper(engine: Engine, clock: Clock, sid: int) -> tuple[SlotKeeper, Callable[[], object]]:
    with engine.begin() as conn:  # four slots, from processes gone long ago: a lone process takes them all
        long_ago = clock.now() - dt.timedelta(hours=1)
        conn.execute(insert(cluster_leases), [
            {"role": f"mqtt/{n}", "holder": f"gone:{n}", "session_id": None, "token": 1, "acquired_at": long_ago,
             "renewed_at": long_ago, "expires_at": long_ago} for n in range(4)])
    k = SlotKeeper(engine, lease_s=LEASE_S, clock=clock.now, monotonic=clock.mono)
    k.session_id, k.holder = sid, f"uji:slots:{sid}"
    return k, lambda: k._round(clock.mono())


KEEPERS = {"cluster": cluster, "rule shards": rule_keeper, "mqtt slots": slot_keeper}


@pytest.fixture
def commits(engine: Engine) -> Iterator[list[int]]:
    got = [0]

    def count(_conn: Any) -> None:
        got[0] += 1

    event.listen(engine, "commit", count)
    try:
        yield got
    finally:
        event.remove(engine, "commit", count)


def held_in_store(engine: Engine, holder: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(cluster_leases.c.role).where(cluster_leases.c.holder == holder))
        return sorted(r.role for r in rows)


@pytest.mark.parametrize("kind", KEEPERS)
def test_a_round_is_one_transaction(engine: Engine, commits: list[int], kind: str) -> None:
    clock = Clock()
    keeper, round_ = KEEPERS[kind](engine, clock, session(engine, clock))
    commits[0] = 0
    round_()  # the first round creates the rows and takes them
    assert commits[0] == 1
    assert held_in_store(engine, keeper.holder)
    clock.s += 1.0
    commits[0] = 0
    round_()  # a renewal
    assert commits[0] == 1


@pytest.mark.parametrize("kind", KEEPERS)
def test_a_round_the_store_fails_midway_leaves_nothing_held(
        engine: Engine, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    clock = Clock()
    keeper, round_ = KEEPERS[kind](engine, clock, session(engine, clock))
    real = leases.take_or_renew
    calls = [0]

    def failing_third(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] == 3:  # two leases taken in this round already
            raise OperationalError("UPDATE cluster_leases", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(leases, "take_or_renew", failing_third)
    with pytest.raises(OperationalError):
        round_()
    assert calls[0] == 3
    assert held_in_store(engine, keeper.holder) == []  # rolled back: the next holder is not kept waiting
    if isinstance(keeper, Cluster):
        assert keeper.held_roles() == {}  # what the round returns is applied only after it (renew)
    else:
        assert keeper.held() == []
    monkeypatch.setattr(leases, "take_or_renew", real)
    round_()  # the store answers again: the next round takes them
    assert held_in_store(engine, keeper.holder)
