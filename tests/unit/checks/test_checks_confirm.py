"""Confirmation: N failures in a row before down, M successes before up, retries while in doubt."""

from __future__ import annotations

import datetime as dt
import itertools

from hypothesis import given
from hypothesis import strategies as st

from siaga.checks.confirm import CheckState, Policy, Status, next_delay, step, worst

T0 = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)


def run(results: list[bool], policy: Policy = Policy(), every: float = 10.0) -> tuple[CheckState, list]:
    state = CheckState()
    changes = []
    for i, ok in enumerate(results):
        state, change = step(state, ok=ok, at=T0 + dt.timedelta(seconds=every * i), policy=policy)
        if change:
            changes.append(change)
    return state, changes


def test_first_success_makes_an_unknown_check_up() -> None:
    state, changes = run([True])
    assert state.status == Status.up
    assert [c.status for c in changes] == [Status.up]


def test_it_goes_down_only_after_three_failures_in_a_row() -> None:
    state, _ = run([True, False, False])
    assert state.status == Status.up and state.in_doubt
    state, changes = run([True, False, False, False])
    assert state.status == Status.down
    assert changes[-1].status == Status.down


def test_the_outage_starts_at_the_first_failure_of_the_streak() -> None:
    _, changes = run([True, False, False, False])
    down = changes[-1]
    assert down.at == T0 + dt.timedelta(seconds=10)
    assert down.confirmed_at == T0 + dt.timedelta(seconds=30)


def test_a_success_in_between_resets_the_count() -> None:
    state, _ = run([True, False, False, True, False, False])
    assert state.status == Status.up


def test_it_needs_two_successes_to_come_back_up() -> None:
    state, _ = run([True, False, False, False, True])
    assert state.status == Status.down and state.in_doubt
    state, changes = run([True, False, False, False, True, True])
    assert state.status == Status.up
    assert changes[-1].at == T0 + dt.timedelta(seconds=40)


def test_a_failure_retrying_cannot_help_is_down_at_once() -> None:
    state, change = step(CheckState(), ok=False, at=T0, policy=Policy(), retryable=False, message="expired")
    assert state.status == Status.down
    assert change is not None and change.message == "expired"


def test_in_doubt_it_is_retried_at_the_short_interval() -> None:
    state, _ = run([True, False])
    assert next_delay(state, 60, 10) == 10
    state, _ = run([True])
    assert next_delay(state, 60, 10) == 60


def test_a_service_is_as_bad_as_its_worst_check() -> None:
    assert worst([Status.up, Status.down, Status.unknown]) == Status.down
    assert worst([Status.up, Status.unknown]) == Status.unknown
    assert worst([]) == Status.unknown


@given(
    results=st.lists(st.booleans(), max_size=60),
    failures=st.integers(1, 5),
    successes=st.integers(1, 5),
)
def test_status_follows_the_last_streak(results: list[bool], failures: int, successes: int) -> None:
    """Property: the status is down exactly when some run of `failures` failures was not
    followed by a run of `successes` successes (after the first success made it up)."""
    policy = Policy(failures, successes)
    state, changes = run(results, policy)
    # model
    status = Status.unknown
    fails = oks = 0
    for ok in results:
        if ok:
            oks, fails = oks + 1, 0
            if status == Status.unknown or (status == Status.down and oks >= successes):
                status = Status.up
        else:
            fails, oks = fails + 1, 0
            if status != Status.down and fails >= failures:
                status = Status.down
    assert state.status == status
    # changes alternate and never repeat a status
    for a, b in itertools.pairwise(changes):
        assert a.status != b.status
        assert a.at <= b.at
    for c in changes:
        assert c.at <= c.confirmed_at
