"""Storm control: a flood becomes a handful of messages, and every alert is in one of them."""

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.config.notify import StormControl
from siaga.notify.model import Kind, Recipient
from siaga.notify.storm import Queued, StormState, form_batches, listed

from .helpers import T0

ANDI = Recipient("person", "andi")


def q(i: int, at: dt.datetime, *, kind: Kind = Kind.page, channel: str = "telegram", group: str = "incident:7",
      address: str = "123") -> Queued:
    return Queued(i, i, group, ANDI, channel, address, kind, at)


def drain(items: list[Queued], storm: StormControl, until: dt.timedelta, step: float = 1.0):
    """Offer ``items`` as their time comes, forming batches every ``step`` seconds."""
    state, queued, batches = StormState(), [], []
    t = T0
    pending = sorted(items, key=lambda i: i.at)
    while t <= T0 + until:
        while pending and pending[0].at <= t:
            queued.append(pending.pop(0))
        out, _ = form_batches(queued, state, t, storm)
        for b in out:
            batches.append((t, b))
            gone = {i.id for i in b.items}
            queued = [i for i in queued if i.id not in gone]
        t += dt.timedelta(seconds=step)
    return batches, queued


def test_first_alert_goes_at_once_the_rest_wait_for_the_window() -> None:
    storm = StormControl(group_window=dt.timedelta(seconds=30))
    items = [q(i, T0 + dt.timedelta(seconds=i * 0.02)) for i in range(500)]  # 500 alerts in 10 s
    batches, left = drain(items, storm, dt.timedelta(seconds=90), step=0.5)
    assert left == []
    assert [(t - T0).total_seconds() for t, _ in batches] == [0.0, 30.0]
    assert len(batches[0][1].items) == 1 and len(batches[1][1].items) == 499


def test_other_incidents_and_notices_are_separate_messages() -> None:
    storm = StormControl()
    items = [q(1, T0), q(2, T0, group="incident:8"), q(3, T0, kind=Kind.resolved)]
    batches, _ = drain(items, storm, dt.timedelta(seconds=1))
    assert len(batches) == 3


def test_rate_limit_per_address_holds_messages_back_without_losing_them() -> None:
    storm = StormControl(group_window=dt.timedelta(seconds=0), rate_per_minute=2)
    items = [q(i, T0 + dt.timedelta(seconds=i), group=f"incident:{i}") for i in range(6)]
    batches, left = drain(items, storm, dt.timedelta(minutes=5))
    assert left == []
    times = [(t - T0).total_seconds() for t, _ in batches]
    for _i, t in enumerate(times):  # never more than 2 in any minute
        assert sum(1 for u in times if t - 60 < u <= t) <= 2, times
    assert sorted(i.id for _, b in batches for i in b.items) == list(range(6))


def test_listed_counts_what_it_does_not_name() -> None:
    assert listed(list(range(20)), 15) == (list(range(15)), 5)


@settings(max_examples=40, deadline=None)
@given(
    offsets=st.lists(st.floats(min_value=0, max_value=120, allow_nan=False), min_size=1, max_size=200),
    groups=st.integers(min_value=1, max_value=4),
    rate=st.integers(min_value=1, max_value=6),
)
def test_nothing_is_dropped_and_the_rate_holds(offsets: list[float], groups: int, rate: int) -> None:
    storm = StormControl(group_window=dt.timedelta(seconds=30), rate_per_minute=rate)
    items = [q(i, T0 + dt.timedelta(seconds=o), group=f"incident:{i % groups}") for i, o in enumerate(offsets)]
    batches, left = drain(items, storm, dt.timedelta(minutes=30), step=1.0)
    assert left == []
    assert sorted(i.id for _, b in batches for i in b.items) == list(range(len(items)))
    times = [t for t, _ in batches]
    for t in times:
        assert sum(1 for u in times if t - dt.timedelta(seconds=60) < u <= t) <= rate
