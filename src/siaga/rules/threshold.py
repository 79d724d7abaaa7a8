"""One level of a threshold (e.g. "warning above 27 °C") as a small state machine.

States: ``ok`` → ``pending`` (past the fire level, hold time running) → ``firing`` →
``clearing`` (back past the clear level, clear hold running) → ``ok``. Between the clear level and
the fire level nothing changes (hysteresis): a firing level stays firing, an ok level stays ok.
Times are the caller's (reading timestamps, or ``now`` of a tick): the machine has no clock.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class LevelState(StrEnum):
    ok = "ok"
    pending = "pending"
    firing = "firing"
    clearing = "clearing"

    @property
    def active(self) -> bool:
        return self is not LevelState.ok

    @property
    def fired(self) -> bool:
        return self in (LevelState.firing, LevelState.clearing)


@dataclass(frozen=True)
class LevelSpec:
    """A fully resolved level: one direction, a fire level, a clear level and two hold times."""

    fire: float
    clear: float
    high: bool = True  # True: fires above `fire`; False: fires below it
    for_s: float = 0.0
    clear_for_s: float = 0.0

    def __post_init__(self) -> None:
        if self.high and self.clear > self.fire:
            raise ValueError("the clear level of a high threshold must not be above its fire level")
        if not self.high and self.clear < self.fire:
            raise ValueError("the clear level of a low threshold must not be below its fire level")

    def breached(self, value: float) -> bool:
        return value > self.fire if self.high else value < self.fire

    def cleared(self, value: float) -> bool:
        return value <= self.clear if self.high else value >= self.clear


class LevelMachine:
    """The state of one level for one subject."""

    __slots__ = ("last_value", "since", "spec", "state")

    def __init__(self, spec: LevelSpec) -> None:
        self.spec = spec
        self.state = LevelState.ok
        self.since: dt.datetime | None = None  # when the current pending/clearing phase began
        self.last_value: float | None = None

    def observe(self, value: float, at: dt.datetime) -> LevelState:
        """Feed one value measured at ``at``; returns the new state."""
        self.last_value = value
        spec = self.spec
        state = self.state
        if state is LevelState.ok:
            if spec.breached(value):
                if spec.for_s <= 0:
                    self.state = LevelState.firing
                    self.since = None
                else:
                    self.state = LevelState.pending
                    self.since = at
        elif state is LevelState.pending:
            if not spec.breached(value):
                self.state = LevelState.ok
                self.since = None
            else:
                self.advance(at)
        elif state is LevelState.firing:
            if spec.cleared(value):
                if spec.clear_for_s <= 0:
                    self.state = LevelState.ok
                    self.since = None
                else:
                    self.state = LevelState.clearing
                    self.since = at
        elif state is LevelState.clearing:
            if not spec.cleared(value):
                self.state = LevelState.firing
                self.since = None
            else:
                self.advance(at)
        return self.state

    def advance(self, now: dt.datetime) -> LevelState:
        """Let time pass with the last value unchanged: finish a hold time that has run out."""
        if self.since is None:
            return self.state
        held = (now - self.since).total_seconds()
        if self.state is LevelState.pending and held >= self.spec.for_s:
            self.state = LevelState.firing
            self.since = None
        elif self.state is LevelState.clearing and held >= self.spec.clear_for_s:
            self.state = LevelState.ok
            self.since = None
        return self.state
