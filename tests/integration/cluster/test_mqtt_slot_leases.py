"""The MQTT slots' leases on a real PostgreSQL, keepers with their clocks in the test's hand: a lone process makes
slot 0, a second makes slot 1; a killed process's slot (and with it its broker session) goes to the survivor once
its lease ends; a process restarted gets a slot back from the survivor, which stops that slot's client before
the lease is released (two clients never share a client id)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from siaga.cluster.slots import SlotKeeper, holders_of
from siaga.store.sessions import heartbeat, start_session

from .cluster import Clock

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LEASE_S = 3.0


def keeper(engine: Engine, clock: Clock, name: str) -> SlotKeeper:
    with engine.begin() as conn:
        session = start_session(conn, clock.now(), host="uji", pid=len(name) + 100)
    k = SlotKeeper(engine, lease_s=LEASE_S, clock=clock.now, monotonic=clock.mono)
    k.session_id, k.holder = session, f"uji:{name}:{session}"
    return k


def tick(engine: Engine, clock: Clock, seconds: float, *keepers: SlotKeeper) -> None:
    """Time passes; the live keepers' sessions are beaten (the cluster keeper's work) and each runs a round."""
    clock.s += seconds
    with engine.begin() as conn:
        for k in keepers:
            assert k.session_id is not None
            heartbeat(conn, k.session_id, clock.now())
    for k in keepers:
        k._round(clock.mono())


def test_slots_follow_the_processes_a_killed_ones_slot_is_taken_and_given_back_after_its_client_stopped(
        engine: Engine) -> None:
    clock = Clock()
    a = keeper(engine, clock, "a")
    tick(engine, clock, 0, a)
    assert a.held() == [0]
    b = keeper(engine, clock, "b")
    tick(engine, clock, 0.5, a, b)
    assert a.held() == [0] and b.held() == [1]

    # b is killed: it renews nothing; a takes slot 1 once its lease has ended (b's session is stale by then)
    for _ in range(2):
        tick(engine, clock, 1.0, a)
    assert a.held() == [0]  # b's lease, renewed at 0.5 s, runs to 3.5 s
    for _ in range(2):
        tick(engine, clock, 1.0, a)
    assert a.held() == [0, 1]
    with engine.connect() as conn:
        assert {s: h[0] for s, h in holders_of(conn, clock.now()).items()} == {0: a.session_id, 1: a.session_id}

    # b started again: a gives one slot up, stops its client there, and only then releases the lease
    c = keeper(engine, clock, "c")
    tick(engine, clock, 0.5, a, c)
    assert a.held() == [0]  # slot 1's client stops now
    assert c.held() == []  # ... and its lease is still a's
    tick(engine, clock, 0.1, a, c)
    assert c.held() == []  # a's client has not stopped yet
    a.let_go(1)
    tick(engine, clock, 0.1, a, c)
    assert a.held() == [0] and c.held() == [1]
    tick(engine, clock, 1.0, a, c)
    assert a.held() == [0] and c.held() == [1]  # settled


def test_a_slot_left_free_by_a_process_still_counted_alive_is_taken_after_a_lease(engine: Engine) -> None:
    clock = Clock()
    a, b = keeper(engine, clock, "a"), keeper(engine, clock, "b")
    tick(engine, clock, 0, a, b)
    assert a.held() == [0] and b.held() == [1]
    # b's session is beaten but its slots are not renewed (its MQTT keeper is stuck): a is at its share, yet
    # slot 1's queue must not wait for nobody
    for _ in range(4):
        clock.s += 1.0
        with engine.begin() as conn:
            assert b.session_id is not None
            heartbeat(conn, b.session_id, clock.now())
        tick(engine, clock, 0, a)
    assert a.held() == [0]  # free since 3 s, not yet a lease
    for _ in range(3):
        clock.s += 1.0
        with engine.begin() as conn:
            heartbeat(conn, b.session_id, clock.now())
        tick(engine, clock, 0, a)
    assert a.held() == [0, 1]
