"""The MQTT slots: as many as processes ever alive at once, every slot held by a live process after a few
rounds (a dead process's slot, and so its queued messages, taken by another), spread evenly, never
held twice; a process above its share gives one up at a time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.cluster.slots import plan, role


def rounds(holders: dict[int, int | None], live: set[int], n: int = 10) -> dict[int, int | None]:
    """``n`` rounds of every live process in turn, each applying its plan to the store at once (a slot given
    up is released when its client stopped, here before the next process's round)."""
    holders = dict(holders)
    for _ in range(n):
        for me in sorted(live):
            p = plan(me, holders, live)
            for s in p.give_up:
                holders[s] = None
            for s in p.take:
                assert holders.get(s) is None, f"slot {s} taken from {holders.get(s)}"
                holders[s] = me
    return holders


def spread(holders: dict[int, int | None], live: set[int]) -> list[int]:
    return sorted(sum(1 for h in holders.values() if h == m) for m in live)


def test_the_first_process_makes_slot_0_and_a_second_makes_slot_1() -> None:
    assert plan(7, {}, {7}).take == (0,)
    assert plan(8, {0: 7}, {7, 8}).take == (1,)
    assert role(3) == "mqtt/3"


def test_a_restarted_process_takes_the_free_slot_of_the_one_it_replaces() -> None:
    # three processes; the one on slot 1 was killed, its lease ran out; the new one comes up
    got = plan(9, {0: 7, 1: None, 2: 8}, {7, 8, 9})
    assert got.take == (1,) and not got.give_up


def test_a_dead_process_slot_is_taken_by_a_survivor_so_its_queue_is_drained() -> None:
    holders = rounds({0: 1, 1: 2, 2: None}, {1, 2})  # process 3 (slot 2) is dead: 2 live, 3 slots
    assert all(h in {1, 2} for h in holders.values()), holders
    assert spread(holders, {1, 2}) == [1, 2]


def test_a_slot_free_longer_than_a_lease_is_taken_above_the_share() -> None:
    # process 3 still counted live (its session not yet stale) but its lease ended: nobody is below share
    got = plan(1, {0: 1, 1: 2, 2: None}, {1, 2, 3})
    assert got.take == ()
    assert plan(1, {0: 1, 1: 2, 2: None}, {1, 2, 3}, long_free={2}).take == (2,)


def test_a_process_holding_every_slot_gives_one_up_when_another_has_none() -> None:
    got = plan(1, {0: 1, 1: 1}, {1, 2})
    assert got.give_up == (1,) and got.keep == (0,) and got.take == ()
    assert plan(2, {0: 1, 1: None}, {1, 2}).take == (1,)
    assert rounds({0: 1, 1: 1}, {1, 2}) == {0: 1, 1: 2}


def test_slots_are_not_made_beyond_the_live_processes() -> None:
    # 4 slots from a larger past, 2 processes now: they hold 2 each, no fifth slot appears
    holders = rounds({0: None, 1: None, 2: None, 3: None}, {5, 6})
    assert set(holders) == {0, 1, 2, 3} and spread(holders, {5, 6}) == [2, 2]


@settings(max_examples=200, deadline=None)
@given(
    slots=st.integers(min_value=0, max_value=8),
    live=st.sets(st.integers(min_value=1, max_value=9), min_size=1, max_size=6),
    seed=st.lists(st.integers(min_value=0, max_value=9), min_size=8, max_size=8),
)
def test_rounds_converge_every_slot_held_once_by_a_live_process_evenly(
        slots: int, live: set[int], seed: list[int]) -> None:
    # any start: slots held by live processes, by the dead, or free
    start = {s: (seed[s] if seed[s] in live or seed[s] == 0 else None) for s in range(slots)}
    start = {s: (None if h == 0 else h) for s, h in start.items()}
    holders = rounds(start, live, n=2 * max(slots, len(live)) + 2)
    count = max(slots, len(live))
    assert set(holders) == set(range(count))
    assert all(h in live for h in holders.values()), holders  # every slot's queue has a live client
    got = spread(holders, live)
    assert got[-1] - got[0] <= 1, (holders, live)  # even
    assert got[0] >= 1  # every process runs a session
