"""The rules engine: readings and the clock in, :class:`Condition` values out. Pure, no I/O.

One engine holds the state of every rule of every sensor of a site. ``observe`` is called for each
accepted reading (in timestamp order per sensor; older readings are ignored by the rules), ``tick``
about once a second so hold times run out and silent sensors go stale without a new reading.
A condition is emitted when the state of a rule on a subject changes, and once on a rule's first
evaluation (so an alert left open by an earlier run is resolved when the sensor reads normal again).
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from siaga.config.models import SiteConfig
from siaga.i18n.messages import Message
from siaga.kinds import SENSOR_KINDS
from siaga.rules.dewpoint import dew_point
from siaga.rules.flapping import FlapFilter
from siaga.rules.resolve import BandSpec, SensorRules, dew_point_pairs, resolve_sensor
from siaga.rules.threshold import LevelMachine, LevelSpec, LevelState
from siaga.vocab import Condition, Severity, SubjectKind

STALE_RULE = "sensor.stale"
# On/off rules: their messages (siaga.i18n.messages) are sensor.<rule>.on and sensor.<rule>.off.
_ALARMS = frozenset({"leak", "smoke", "ups_on_battery"})
RATE_RULE = "temperature.rate"
BATTERY_RULE = "battery.low"  # a wireless sensor's battery: its own message, "battery low on <sensor>"


def _place(rules: SensorRules) -> dict[str, str]:
    """The message parameters that say where a sensor hangs (rendered as " (R1, lantai)")."""
    if rules.rack:
        return {"rack": rules.rack, **({"zone": rules.zone} if rules.zone else {})}
    return {"room": rules.room} if rules.room else {}


class _Band:
    """One rule of one subject with its levels (warning, critical), and the last state handed on."""

    __slots__ = ("emitted", "flap", "machines", "rule", "sensor", "subject", "unit")

    def __init__(self, spec: BandSpec, sensor: SensorRules, unit: str, flap: FlapFilter | None) -> None:
        self.rule = spec.rule
        self.subject = sensor.sensor
        self.sensor = sensor
        self.unit = unit
        self.machines = [(sev, LevelMachine(level)) for sev, level in spec.levels]
        self.emitted: tuple[bool, Severity, bool] | None = None
        self.flap = flap

    def observe(self, value: float, at: dt.datetime, extra: dict[str, Any] | None = None) -> Condition | None:
        changed = self.emitted is None
        for _sev, m in self.machines:
            before = m.state
            if m.observe(value, at) is not before:
                changed = True
        # every change of a machine's state goes through _emit, so unchanged states emit nothing
        # (the hot path: a reading within limits, once per reading)
        return self._emit(at, value, extra) if changed else None

    def advance(self, now: dt.datetime) -> Condition | None:
        if self.emitted is None:
            return None
        out: Condition | None = None
        if any(m.since is not None for _s, m in self.machines):
            for _sev, m in self.machines:
                m.advance(now)
            last = next((m.last_value for _s, m in self.machines if m.last_value is not None), None)
            out = self._emit(now, last, None)
        if out is None and self.flap is not None:
            out = self.flap.advance(now)
        return out

    def _emit(self, at: dt.datetime, value: float | None, extra: dict[str, Any] | None) -> Condition | None:
        fired = [(s, m) for s, m in self.machines if m.state.fired]
        pending = [(s, m) for s, m in self.machines if m.state is LevelState.pending]
        chosen = fired or pending
        active = bool(chosen)
        if chosen:
            severity, machine = max(chosen, key=lambda sm: sm[0].rank)
        else:
            severity, machine = self.machines[0]
        state = (active, severity, bool(fired))
        if state == self.emitted:
            return None
        self.emitted = state
        cond = self._condition(at, value, active, severity, machine.spec, bool(fired), extra)
        return self.flap.feed(cond) if self.flap is not None else cond

    def _condition(
        self,
        at: dt.datetime,
        value: float | None,
        active: bool,
        severity: Severity,
        level: LevelSpec,
        fired: bool,
        extra: dict[str, Any] | None,
    ) -> Condition:
        direction = "above" if level.high else "below"
        params: dict[str, Any] = {
            "threshold": level.fire,
            "clear": level.clear,
            "direction": direction,
            "unit": self.unit,
            "kind": self.sensor.kind,
            "for_s": level.for_s,
        }
        if extra:
            params.update(extra)
        what = self.rule.split(".")[0]
        if self.rule in _ALARMS:
            summary = Message(f"sensor.{self.rule}.{'on' if active else 'off'}",
                              {"sensor": self.subject, **(_place(self.sensor) if active else {})})
        elif active and self.rule == BATTERY_RULE:
            summary = Message("sensor.battery_low", {"value": value, "unit": self.unit, "sensor": self.subject,
                                                     **_place(self.sensor)})
        elif active:
            summary = Message(f"sensor.{direction}", {"what": what, "value": value, "threshold": level.fire,
                                                      "unit": self.unit, "sensor": self.subject,
                                                      **_place(self.sensor)})
        else:
            summary = Message("sensor.normal", {"what": what, "sensor": self.subject})
        return Condition(
            rule=self.rule,
            subject=self.subject,
            subject_kind=SubjectKind.sensor,
            active=active,
            severity=severity,
            at=at,
            value=value,
            summary=summary,
            params=params,
            fire_at_once=fired,
        )


class _Rate:
    """Temperature rate of change: least-squares slope over the window, in °C per hour."""

    __slots__ = ("band", "min_step", "points", "window")

    def __init__(self, band: _Band, window_s: float) -> None:
        self.band = band
        self.window = dt.timedelta(seconds=window_s)
        self.min_step = window_s / 60.0
        self.points: deque[tuple[dt.datetime, float]] = deque()

    def observe(self, value: float, at: dt.datetime) -> Condition | None:
        pts = self.points
        if pts and (at - pts[-1][0]).total_seconds() < self.min_step:
            return None
        pts.append((at, value))
        while pts and at - pts[0][0] > self.window:
            pts.popleft()
        span = (at - pts[0][0]).total_seconds()
        if len(pts) < 3 or span < self.window.total_seconds() / 2:
            return None
        t0 = pts[0][0]
        xs = [(t - t0).total_seconds() for t, _v in pts]
        ys = [v for _t, v in pts]
        n = len(xs)
        mx = sum(xs) / n
        my = sum(ys) / n
        sxx = sum((x - mx) ** 2 for x in xs)
        if sxx <= 0:
            return None
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
        per_hour = slope * 3600.0
        return self.band.observe(abs(per_hour), at, {"rate_per_hour": round(per_hour, 2)})


class _Stale:
    __slots__ = ("active", "after", "evaluated", "last_seen", "rules", "severity")

    def __init__(self, rules: SensorRules, after_s: float, severity: Severity, last_seen: dt.datetime) -> None:
        self.rules = rules
        self.after = dt.timedelta(seconds=after_s)
        self.severity = severity
        self.last_seen = last_seen
        self.active = False
        self.evaluated = False

    def _condition(self, at: dt.datetime, active: bool) -> Condition:
        sensor = self.rules.sensor
        summary = (
            Message("sensor.stale", {"sensor": sensor, "last_seen": self.last_seen.isoformat(timespec="seconds"),
                                     **_place(self.rules)})
            if active
            else Message("sensor.reports", {"sensor": sensor})
        )
        return Condition(
            rule=STALE_RULE,
            subject=sensor,
            subject_kind=SubjectKind.sensor,
            active=active,
            severity=self.severity,
            at=at,
            summary=summary,
            params={
                "last_seen": self.last_seen.isoformat(),
                "after_s": self.after.total_seconds(),
                "kind": self.rules.kind,
                "safety": SENSOR_KINDS[self.rules.kind].safety,
            },
            fire_at_once=True,
        )

    def seen(self, at: dt.datetime) -> Condition | None:
        if at > self.last_seen:
            self.last_seen = at
        if self.active or not self.evaluated:
            self.active = False
            self.evaluated = True
            return self._condition(at, False)
        return None

    def offline(self, now: dt.datetime) -> Condition | None:
        """The device said it is gone (zigbee2mqtt availability ``offline``): stale at once."""
        if self.active:
            return None
        self.active = True
        self.evaluated = True
        return self._condition(now, True)

    def advance(self, now: dt.datetime) -> Condition | None:
        if not self.active and now - self.last_seen > self.after:
            self.active = True
            self.evaluated = True
            return self._condition(now, True)
        return None


class RulesEngine:
    """The state of every rule of every sensor of one site."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        now: dt.datetime,
        last_seen: Mapping[str, dt.datetime] | None = None,
    ) -> None:
        self.rules: dict[str, SensorRules] = {s.id: resolve_sensor(config, s) for s in config.sensors}
        seen = last_seen or {}
        self._bands: dict[str, list[_Band]] = {}
        self._rate: dict[str, _Rate] = {}
        self._stale: dict[str, _Stale] = {}
        self._dew: dict[str, list[_Band]] = {}
        self._last_ts: dict[str, dt.datetime] = {}
        self._latest: dict[str, tuple[dt.datetime, float]] = {}
        self._all_bands: list[_Band] = []
        for sid, r in self.rules.items():
            bands = [self._band(spec, r, r.unit) for spec in r.bands]
            if r.binary is not None:
                level = LevelSpec(0.5, 0.5, True, 0.0, r.binary.clear_for_s)
                bands.append(self._band(BandSpec(r.binary.rule, ((r.binary.severity, level),)), r, ""))
            self._bands[sid] = bands
            if r.rate is not None:
                per = r.rate.per_hour
                level = LevelSpec(per, per * 0.75, True, 0.0, r.rate.window_s / 3)
                band = self._band(BandSpec(RATE_RULE, ((r.rate.severity, level),)), r, "°C/h")
                self._rate[sid] = _Rate(band, r.rate.window_s)
            if r.dew_point:
                self._dew[sid] = [self._band(spec, r, "°C") for spec in r.dew_point]
            if r.stale is not None:
                self._stale[sid] = _Stale(r, r.stale.after_s, r.stale.severity, seen.get(sid, now))
        self._pairs = {h: t for h, t in dew_point_pairs(config).items() if h in self._dew}
        self._pairs_by_temp: dict[str, list[str]] = {}
        for h, t in self._pairs.items():
            self._pairs_by_temp.setdefault(t, []).append(h)

    def _band(self, spec: BandSpec, r: SensorRules, unit: str) -> _Band:
        flap = FlapFilter(r.flapping.changes, r.flapping.window_s) if r.flapping is not None else None
        band = _Band(spec, r, unit, flap)
        self._all_bands.append(band)
        return band

    def knows(self, sensor: str) -> bool:
        return sensor in self.rules

    def observe(
        self, sensor: str, value: float, ts: dt.datetime, received_at: dt.datetime | None = None
    ) -> list[Condition]:
        """Feed one accepted reading; the conditions whose state changed."""
        out: list[Condition] = []
        stale = self._stale.get(sensor)
        if stale is not None:
            c = stale.seen(received_at or ts)
            if c is not None:
                out.append(c)
        last = self._last_ts.get(sensor)
        if last is not None and ts <= last:
            return out  # late or repeated: stored, but the rules only move forward in time
        self._last_ts[sensor] = ts
        self._latest[sensor] = (ts, value)
        for band in self._bands.get(sensor, ()):
            c = band.observe(value, ts)
            if c is not None:
                out.append(c)
        rate = self._rate.get(sensor)
        if rate is not None:
            c = rate.observe(value, ts)
            if c is not None:
                out.append(c)
        if sensor in self._pairs:
            out += self._dew_point(sensor, ts)
        for h in self._pairs_by_temp.get(sensor, ()):
            out += self._dew_point(h, ts)
        return out

    def presence(self, sensor: str, online: bool, at: dt.datetime) -> list[Condition]:
        """The device's own word on its presence: ``online`` counts as hearing from it, ``offline``
        makes it stale at once (critical for a leak or smoke sensor: a gone leak sensor is never "dry")."""
        stale = self._stale.get(sensor)
        if stale is None:
            return []
        c = stale.seen(at) if online else stale.offline(at)
        return [c] if c is not None else []

    def _dew_point(self, humidity: str, at: dt.datetime) -> list[Condition]:
        h = self._latest.get(humidity)
        t = self._latest.get(self._pairs[humidity])
        if h is None or t is None:
            return []
        if abs((h[0] - t[0]).total_seconds()) > 600:
            return []  # the two readings are too far apart to describe the same air
        dp = dew_point(t[1], h[1])
        extra = {"temperature": t[1], "humidity": h[1], "temperature_sensor": self._pairs[humidity]}
        out = []
        for band in self._dew[humidity]:
            c = band.observe(round(dp, 2), at, extra)
            if c is not None:
                out.append(c)
        return out

    def handoff(self) -> None:
        """Nothing to hand on: one process evaluates every sensor (see ``Rules.handoff``)."""

    def observe_many(self, readings: Iterable[tuple[str, float, dt.datetime]], received_at: dt.datetime) -> list[
        Condition
    ]:
        out: list[Condition] = []
        for sensor, value, ts in readings:
            out += self.observe(sensor, value, ts, received_at)
        return out

    def tick(self, now: dt.datetime) -> list[Condition]:
        """Let time pass: hold times that ran out, flapping that calmed down, sensors that went silent."""
        out: list[Condition] = []
        for band in self._all_bands:
            c = band.advance(now)
            if c is not None:
                out.append(c)
        for stale in self._stale.values():
            c = stale.advance(now)
            if c is not None:
                out.append(c)
        return out
