"""The shard map: every process computes the same even map from the same members; a join or a death
moves only what it must; members are live by their last beat and the clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from siaga.cluster.shards import SLOTS, live, role, shard_map, slot_of, slots_of

NOW = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class M:
    session_id: int
    last_seen_at: dt.datetime


def test_a_service_falls_in_the_same_slot_everywhere() -> None:
    assert slot_of("portal") == slot_of("portal")
    assert 0 <= slot_of("portal") < SLOTS
    assert slot_of("portal") == 42  # stable across runs and versions (blake2b, not hash())
    counts = Counter(slot_of(f"svc-{i}") for i in range(6400))
    assert min(counts.values()) > 50 and max(counts.values()) < 150  # services spread over the slots


@given(st.sets(st.integers(1, 10_000), min_size=1, max_size=7))
def test_every_slot_has_one_owner_and_the_shares_are_even(sessions: set[int]) -> None:
    members = [str(s) for s in sessions]
    owners = shard_map(members, "checks")
    assert sorted(owners) == list(range(SLOTS))
    shares = Counter(owners.values())
    assert set(shares) <= set(members)
    assert max(shares.values()) - min(shares.values()) <= 1 and len(shares) == min(len(members), SLOTS)
    assert shard_map(list(reversed(members)), "checks") == owners  # the order of the list does not matter
    assert sum(len(slots_of(m, members, "checks")) for m in members) == SLOTS


def test_a_death_moves_only_the_dead_process_slots_and_a_join_takes_an_even_share() -> None:
    three = ["11", "12", "13"]
    before = shard_map(three, "checks")
    after = shard_map(["11", "13"], "checks")
    moved = [s for s in range(SLOTS) if before[s] != after[s]]
    assert all(after[s] != "12" for s in range(SLOTS))
    assert sum(before[s] != "12" for s in moved) <= 6  # the dead process's slots move, few others
    assert Counter(after.values()) == {"11": 32, "13": 32}
    joined = shard_map([*three, "14"], "checks")
    assert Counter(joined.values())["14"] == 16
    assert sum(before[s] != joined[s] for s in range(SLOTS)) <= 16 + 4  # mostly the newcomer's share moves


def test_no_member_no_map_and_a_stranger_holds_nothing() -> None:
    assert shard_map([], "checks") == {}
    assert slots_of("99", ["11", "12"], "checks") == set()
    assert role("checks", 7) == "checks/7"


def test_live_members_are_those_seen_within_the_window() -> None:
    window = dt.timedelta(seconds=15)
    members = [M(3, NOW - dt.timedelta(seconds=1)), M(12, NOW - dt.timedelta(seconds=16)), M(2, NOW)]
    assert live(members, NOW, window) == ["2", "3"]
    assert live(members, NOW + dt.timedelta(seconds=15), window) == ["2"]
