"""A sensor whose readings are refused again and again is faulty: say so instead of keeping silent (pure).

A probe that sends 900 °C, "wet" for a temperature or a clock a day ahead has every reading refused at
the ingest edge: nothing is stored, no threshold can fire, and without this nobody learns the probe is
broken. :class:`FaultWatch` counts refusals in a row per sensor; at ``after`` of them it emits a
``sensor.faulty`` warning :class:`Condition` carrying the reason (``params``: ``reason``, ``detail``,
``count``); ``after`` accepted readings in a row resolve it. No I/O; the clock comes in as ``now``.

Only refusals that say something about the device count (``FAULT_REASONS``): an unknown sensor id is a
config matter, and a reading too old to keep is a backlog, not a broken probe.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from siaga.i18n.messages import Message
from siaga.vocab import Condition, Severity, SubjectKind

FAULTY_RULE = "sensor.faulty"
FAULT_REASONS = frozenset({"not_a_number", "not_binary", "non_finite", "out_of_range", "bad_timestamp", "in_future"})


@dataclass
class _Streak:
    bad: int = 0
    good: int = 0
    faulty: bool = False
    reason: str = ""
    detail: str = ""


class FaultWatch:
    """Refusals in a row per sensor -> ``sensor.faulty`` (warning); as many good readings in a row -> resolved."""

    def __init__(self, after: int = 5) -> None:
        self.after = max(1, after)
        self._streaks: dict[str, _Streak] = {}  # only sensors with a streak of refusals or a faulty episode

    def refused(self, sensor: str, reason: str, detail: str, now: dt.datetime) -> Condition | None:
        if reason not in FAULT_REASONS:
            return None
        st = self._streaks.get(sensor)
        if st is None:
            st = self._streaks[sensor] = _Streak()
        st.bad += 1
        st.good = 0
        st.reason, st.detail = reason, detail
        if st.faulty or st.bad < self.after:
            return None
        st.faulty = True
        return self._condition(sensor, st, True, now)

    def accepted(self, sensor: str, now: dt.datetime) -> Condition | None:
        st = self._streaks.get(sensor)
        if st is None:
            return None
        if not st.faulty:
            del self._streaks[sensor]  # a refusal now and then is not a fault
            return None
        st.good += 1
        if st.good < self.after:
            return None
        del self._streaks[sensor]
        return self._condition(sensor, st, False, now)

    @property
    def watching(self) -> bool:
        """Some sensor has refusals in a row (the ingest hot path skips :meth:`accepted` otherwise)."""
        return bool(self._streaks)

    def faulty(self) -> dict[str, str]:
        """Sensors faulty now, with the reason of their last refused reading."""
        return {s: st.reason for s, st in self._streaks.items() if st.faulty}

    @staticmethod
    def _condition(sensor: str, st: _Streak, active: bool, now: dt.datetime) -> Condition:
        summary = (
            Message("sensor.faulty.on", {"sensor": sensor, "count": st.bad, "reason": st.reason,
                                         "detail": st.detail[:200]})
            if active
            else Message("sensor.faulty.off", {"sensor": sensor})
        )
        return Condition(
            rule=FAULTY_RULE,
            subject=sensor,
            subject_kind=SubjectKind.sensor,
            active=active,
            severity=Severity.warning,
            at=now,
            summary=summary,
            params={"reason": st.reason, "detail": st.detail[:200], "count": st.bad},
            fire_at_once=True,
        )
