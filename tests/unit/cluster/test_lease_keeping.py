"""The one keeping of leases both keepers share: held through a store outage (everything, when alone or not
knowing), and the next round a third of the lease away or just after another process's lease ends."""

from __future__ import annotations

import datetime as dt

from siaga.cluster.leases import Held, keep_through_outage, next_round_in

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)


def test_through_an_outage_the_leases_held_are_kept_and_a_lone_process_takes_every_one() -> None:
    held = {"notify": Held(4, 10.0), "checks/3": Held(2, 30.0)}
    ours = ["notify", "checks/3", "checks/5"]
    with_others = keep_through_outage(held, ours, 20.0, alone=False)
    assert with_others == {"notify": Held(4, 20.0), "checks/3": Held(2, 30.0)}  # never shortened
    for alone in (True, None):  # alone, or not known yet (the store gone at start)
        assert keep_through_outage(held, ours, 20.0, alone)["checks/5"] == Held(0, 20.0)
    assert keep_through_outage({}, range(3), 5.0, None) == {0: Held(0, 5.0), 1: Held(0, 5.0), 2: Held(0, 5.0)}


def test_the_next_round_comes_a_third_of_the_lease_away_or_just_after_anothers_lease_ends() -> None:
    assert next_round_in(3.0, None, T0) == 1.0
    assert abs(next_round_in(3.0, T0 + dt.timedelta(seconds=0.4), T0) - 0.45) < 1e-9
    assert next_round_in(3.0, T0 - dt.timedelta(seconds=5), T0) == 0.05  # already ended: at once, not busy
    assert next_round_in(3.0, T0 + dt.timedelta(seconds=9), T0) == 1.0
