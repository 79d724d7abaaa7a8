"""How each component of a running siaga is doing: what ``/healthz``, ``STATUS=`` and the degraded page read.

States: ``running``; ``restarting`` (it failed or ended by itself and is paused before its next run, or
runs again but has not yet run :data:`~siaga.runtime.supervisor.HEALTHY_AFTER` seconds without
failing); ``failed`` (a critical component that could not start: siaga ends, exit 1); ``stopped``
(after a stop request); ``cancelled`` (it did not stop within the grace).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

DEGRADED_STATES = frozenset({"restarting", "failed"})


@dataclass
class ComponentStatus:
    state: str
    since: dt.datetime
    """When this state began; for ``restarting``, the first failure of the streak."""
    since_monotonic: float
    restarts: int = 0
    last_error: str | None = None
    last_failure_at: dt.datetime | None = None

    @property
    def degraded(self) -> bool:
        return self.state in DEGRADED_STATES

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state, "since": self.since.isoformat(), "restarts": self.restarts}
        if self.last_error is not None:
            out["last_error"] = self.last_error
        if self.last_failure_at is not None:
            out["last_failure_at"] = self.last_failure_at.isoformat()
        return out
