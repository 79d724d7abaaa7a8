"""The recent hand-offs a process keeps for the shards it may take: only the window, at most the bound, and
replayed with the store's rows once each, in timestamp order."""

from __future__ import annotations

from siaga.cluster.rule_shards import Handoff, Recent, ShardState, replay


class Mono:
    def __init__(self) -> None:
        self.s = 0.0

    def __call__(self) -> float:
        return self.s


def test_recent_items_leave_after_the_window_or_past_the_bound() -> None:
    mono = Mono()
    recent = Recent(5.0, max_items=3, monotonic=mono)
    recent.add(1, ("a", 1.0, 1000, 1000), False)
    mono.s = 2.0
    recent.add(1, ("a", 0.0, 3000, 3000), True)
    recent.add(2, ("b", 1.0, 3000, 3000), False)
    assert recent.of(1) == [("a", 1.0, 1000, 1000), ("a", 0.0, 3000, 3000)]
    assert recent.of(1, own=True) == [("a", 0.0, 3000, 3000)]
    mono.s = 5.5
    assert recent.of(1) == [("a", 0.0, 3000, 3000)]  # the first is 5.5 s old
    for i in range(3):
        recent.add(3, ("c", 1.0, 4000 + i, 4000 + i), False)
    assert len(recent) == 3 and recent.dropped == 2 and recent.of(1) == []


def test_the_replay_is_the_union_of_the_store_and_the_recent_items_once_each_in_timestamp_order() -> None:
    state = ShardState(rows=[("leak", 0.0, 1000), ("leak", 1.0, 3000)])
    recent: list[Handoff] = [
        ("leak", 1.0, 3000, 3001),  # committed since: in the store too
        ("leak", 0.0, 2000, 2001),  # not committed yet
        ("leak", 0.0, 2000, 2001),  # heard twice (handed off, and handed over again by the old holder)
        ("leak", None, 0, 2500),  # the device said offline
    ]
    assert replay(state, recent) == [("leak", 0.0, 1000, 1000), ("leak", 0.0, 2000, 2001),
                                     ("leak", 1.0, 3000, 3000), ("leak", None, 0, 2500)]
    assert replay(state, []) == [("leak", 0.0, 1000, 1000), ("leak", 1.0, 3000, 3000)]
