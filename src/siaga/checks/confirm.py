"""Confirmation: N failures in a row before down, M successes before up. Pure: results and times in.

A check starts *unknown*. From unknown or up, ``failures`` failed results in a row make it down
(a failure that retrying cannot change, such as an expired certificate or a silent heartbeat, makes
it down at once). From down, ``successes`` good results in a row make it up; from unknown, the first
good result does (there is nothing to confirm away from). While a streak is under way the check is
*in doubt* and is retried at its short retry interval.

The moment of a change is when its streak began: an outage confirmed at the third failure started at
the first, and uptime counts it from there.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum


class Status(StrEnum):
    up = "up"
    down = "down"
    unknown = "unknown"  # not yet known, or siaga was not watching
    maintenance = "maintenance"  # only in uptime timelines: planned work, excluded

    @property
    def rank(self) -> int:
        """Worse is higher: a service is as bad as its worst check."""
        return {"up": 0, "maintenance": 1, "unknown": 2, "down": 3}[self.value]


@dataclass(frozen=True)
class Policy:
    failures: int = 3
    successes: int = 2


@dataclass(frozen=True)
class CheckState:
    """Where one check stands."""

    status: Status = Status.unknown
    since: dt.datetime | None = None  # when the current status began
    fails: int = 0  # failures in a row
    oks: int = 0  # successes in a row
    streak_at: dt.datetime | None = None  # when the current streak began
    last_at: dt.datetime | None = None
    message: str = ""
    latency_ms: float | None = None

    @property
    def in_doubt(self) -> bool:
        if self.status == Status.down:
            return self.oks > 0
        return self.fails > 0


@dataclass(frozen=True)
class Change:
    """A confirmed change of status."""

    previous: Status
    status: Status
    at: dt.datetime  # when it began (the start of the confirming streak)
    confirmed_at: dt.datetime
    message: str


def step(
    state: CheckState,
    *,
    ok: bool,
    at: dt.datetime,
    policy: Policy,
    retryable: bool = True,
    message: str = "",
    latency_ms: float | None = None,
) -> tuple[CheckState, Change | None]:
    """The state after one result, and the change it confirmed (if any)."""
    if ok:
        oks = state.oks + 1
        streak_at = state.streak_at if state.oks > 0 and state.streak_at is not None else at
        new = replace(state, oks=oks, fails=0, streak_at=streak_at, last_at=at, message=message, latency_ms=latency_ms)
        if state.status == Status.unknown or (state.status == Status.down and oks >= policy.successes):
            began = at if state.status == Status.unknown else streak_at
            return replace(new, status=Status.up, since=began), Change(state.status, Status.up, began, at, message)
        return new, None
    fails = state.fails + 1
    streak_at = state.streak_at if state.fails > 0 and state.streak_at is not None else at
    new = replace(state, fails=fails, oks=0, streak_at=streak_at, last_at=at, message=message, latency_ms=latency_ms)
    if state.status != Status.down and (fails >= policy.failures or not retryable):
        return (
            replace(new, status=Status.down, since=streak_at),
            Change(state.status, Status.down, streak_at, at, message),
        )
    return new, None


def next_delay(state: CheckState, interval_s: float, retry_interval_s: float) -> float:
    """Seconds until the next attempt: short while in doubt."""
    return min(retry_interval_s, interval_s) if state.in_doubt else interval_s


def worst(statuses: list[Status]) -> Status:
    """A service's status from its checks' statuses."""
    return max(statuses, key=lambda s: s.rank) if statuses else Status.unknown
