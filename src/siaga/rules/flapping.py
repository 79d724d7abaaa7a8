"""Flapping: a condition that turns on and off too often is held active and marked, instead of paging again."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import deque

from siaga.vocab import Condition, Severity


class FlapFilter:
    """Sits between one rule of one subject and the alert manager.

    After ``changes`` on/off changes within ``window_s`` the condition is held active with
    ``params["flapping"] = True`` (the alert stays firing and is not paged again); once it has not
    changed for a whole window, the filter lets the real state through again.
    """

    __slots__ = ("changes", "flapping", "flips", "last", "raw_active", "severity", "window")

    def __init__(self, changes: int, window_s: float) -> None:
        self.changes = changes
        self.window = dt.timedelta(seconds=window_s)
        self.flips: deque[dt.datetime] = deque()
        self.raw_active: bool | None = None
        self.flapping = False
        self.last: Condition | None = None
        self.severity: Severity | None = None  # the worst severity while flapping

    def feed(self, cond: Condition) -> Condition | None:
        """The condition to hand on (possibly changed), or None to hold it back."""
        if self.raw_active is not None and cond.active != self.raw_active:
            self.flips.append(cond.at)
        self.raw_active = cond.active
        self.last = cond
        while self.flips and cond.at - self.flips[0] > self.window:
            self.flips.popleft()
        if not self.flapping:
            if len(self.flips) >= self.changes:
                self.flapping = True
                self.severity = cond.severity if cond.active else (self.severity or cond.severity)
                return self._held(cond)
            if cond.active:
                self.severity = cond.severity
            return cond
        if cond.active and self.severity is not None and cond.severity.rank > self.severity.rank:
            self.severity = cond.severity
            return self._held(cond)
        return None

    def _held(self, cond: Condition) -> Condition:
        return dataclasses.replace(
            cond,
            active=True,
            fire_at_once=True,
            severity=self.severity or cond.severity,
            params={**cond.params, "flapping": True},
        )

    def advance(self, now: dt.datetime) -> Condition | None:
        """End flapping once nothing changed for a whole window: hand on the real state."""
        if not self.flapping or self.last is None:
            return None
        last_flip = self.flips[-1] if self.flips else self.last.at
        if now - last_flip < self.window:
            return None
        self.flapping = False
        self.flips.clear()
        return dataclasses.replace(self.last, at=now, params={**self.last.params, "flapping": False})
