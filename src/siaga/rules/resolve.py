"""Resolve the rule settings of each sensor: preset, then site, room, rack and sensor settings merged.

Pure: takes the validated config, returns plain frozen specs the engine runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from siaga.config.models import Sensor, SiteConfig
from siaga.config.rules import Band, RuleSet
from siaga.kinds import SENSOR_KINDS, ValueType
from siaga.rules import presets
from siaga.rules.threshold import LevelSpec
from siaga.vocab import Severity

INLET_ZONES = frozenset({"inlet-top", "inlet-bottom"})


@dataclass(frozen=True)
class BandSpec:
    """The levels of one rule in one direction, e.g. ``temperature.high``: (severity, level) pairs."""

    rule: str
    levels: tuple[tuple[Severity, LevelSpec], ...]


@dataclass(frozen=True)
class RateSpec:
    per_hour: float
    window_s: float
    severity: Severity


@dataclass(frozen=True)
class BinarySpec:
    rule: str
    severity: Severity
    clear_for_s: float


@dataclass(frozen=True)
class StaleSpec:
    after_s: float
    severity: Severity


@dataclass(frozen=True)
class FlapSpec:
    changes: int
    window_s: float


@dataclass(frozen=True)
class SensorRules:
    """Everything the engine runs for one sensor."""

    sensor: str
    kind: str
    unit: str
    room: str | None
    rack: str | None
    zone: str | None
    bands: tuple[BandSpec, ...] = ()
    dew_point: tuple[BandSpec, ...] = ()  # evaluated on this (humidity) sensor with its paired temperature
    rate: RateSpec | None = None
    binary: BinarySpec | None = None
    stale: StaleSpec | None = None
    flapping: FlapSpec | None = None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``, dicts recursively, other values replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _dump(model: RuleSet, exclude: set[str] | None = None) -> dict[str, Any]:
    return model.model_dump(exclude_unset=True, exclude=exclude or set())


_TARGETS = {"room", "rack", "sensor"}


def sensor_room(cfg: SiteConfig, sensor: Sensor) -> str | None:
    """The room a sensor is in: its own, its rack's, or its device's."""
    if sensor.room:
        return sensor.room
    racks = {r.id: r for r in cfg.racks}
    if sensor.rack and sensor.rack in racks:
        return racks[sensor.rack].room
    if sensor.device:
        for d in cfg.devices:
            if d.id == sensor.device:
                if d.room:
                    return d.room
                if d.rack and d.rack in racks:
                    return racks[d.rack].room
    return None


def settings_for(cfg: SiteConfig, sensor: Sensor) -> RuleSet:
    """The merged rule settings of ``sensor``."""
    room = sensor_room(cfg, sensor)
    base = presets.preset(cfg.rules.ashrae_class)
    if sensor.kind == "temperature" and sensor.zone is not None and sensor.zone not in INLET_ZONES:
        # ASHRAE limits are for inlet air: an exhaust or floor sensor needs its own settings (enabled: true).
        base["temperature"]["enabled"] = False
        base["rate_of_change"]["enabled"] = False
    if sensor.kind in ("temperature", "humidity") and room is not None:
        tape = any(r.id == room and r.tape for r in cfg.rooms)
        base["rate_of_change"]["per_hour"] = presets.RATE_PER_HOUR_TAPE if tape else presets.RATE_PER_HOUR
    else:
        base["rate_of_change"]["per_hour"] = presets.RATE_PER_HOUR
    merged = deep_merge(base, _dump(cfg.rules, {"ashrae_class", "overrides"}))
    for target, value in (("room", room), ("rack", sensor.rack), ("sensor", sensor.id)):
        if value is None:
            continue
        for ov in cfg.rules.overrides:
            if getattr(ov, target) == value:
                merged = deep_merge(merged, _dump(ov, _TARGETS))
    merged = deep_merge(merged, _dump(sensor.rules))
    return RuleSet.model_validate(merged)


def _levels(band: Band | None, family: str, hysteresis_default: float) -> tuple[BandSpec, ...]:
    if band is None or band.enabled is False:
        return ()
    hyst = band.hysteresis if band.hysteresis is not None else hysteresis_default
    high: list[tuple[Severity, LevelSpec]] = []
    low: list[tuple[Severity, LevelSpec]] = []
    for severity, level in ((Severity.warning, band.warning), (Severity.critical, band.critical)):
        if level is None:
            continue
        for_s = level.for_ or 0.0
        clear_for_s = level.clear_for or 0.0
        if level.above is not None:
            clear = level.clear_above if level.clear_above is not None else level.above - hyst
            high.append((severity, LevelSpec(level.above, min(clear, level.above), True, for_s, clear_for_s)))
        if level.below is not None:
            clear = level.clear_below if level.clear_below is not None else level.below + hyst
            low.append((severity, LevelSpec(level.below, max(clear, level.below), False, for_s, clear_for_s)))
    out: list[BandSpec] = []
    if high:
        out.append(BandSpec(f"{family}.high", tuple(high)))
    if low:
        out.append(BandSpec(f"{family}.low", tuple(low)))
    return tuple(out)


def resolve_sensor(cfg: SiteConfig, sensor: Sensor) -> SensorRules:
    """The rules the engine runs for ``sensor``."""
    kind = SENSOR_KINDS[sensor.kind]
    s = settings_for(cfg, sensor)
    bands: tuple[BandSpec, ...] = ()
    dew: tuple[BandSpec, ...] = ()
    rate: RateSpec | None = None
    binary: BinarySpec | None = None
    if sensor.kind == "temperature":
        bands = _levels(s.temperature, "temperature", presets.HYSTERESIS["temperature"])
        roc = s.rate_of_change
        if roc is not None and roc.enabled is not False and roc.per_hour is not None:
            rate = RateSpec(
                roc.per_hour, roc.window or presets.RATE_WINDOW_S, Severity(roc.severity or "warning")
            )
    elif sensor.kind == "humidity":
        bands = _levels(s.humidity, "humidity", presets.HYSTERESIS["humidity"])
        dew = _levels(s.dew_point, "dew_point", presets.HYSTERESIS["dew_point"])
    elif kind.value_type is ValueType.NUMBER:
        bands = _levels(
            s.thresholds.get(sensor.kind),
            sensor.kind,
            presets.HYSTERESIS.get(sensor.kind, presets.DEFAULT_HYSTERESIS),
        )
    elif sensor.kind in presets.BINARY_RULES:
        b = getattr(s, sensor.kind)
        if b is not None and b.enabled is not False:
            binary = BinarySpec(
                sensor.kind, Severity(b.severity or presets.BINARY_RULES[sensor.kind]), b.clear_for or 0.0
            )
    stale: StaleSpec | None = None
    if s.stale is not None and s.stale.enabled is not False:
        severity = s.stale.severity or ("critical" if kind.safety else "warning")
        stale = StaleSpec(sensor.silent_after_s(s.stale.factor or presets.STALE_FACTOR), Severity(severity))
    flap: FlapSpec | None = None
    if s.flapping is not None and s.flapping.enabled is not False:
        flap = FlapSpec(s.flapping.changes or presets.FLAP_CHANGES, s.flapping.window or presets.FLAP_WINDOW_S)
    return SensorRules(
        sensor=sensor.id,
        kind=sensor.kind,
        unit=kind.unit,
        room=sensor_room(cfg, sensor),
        rack=sensor.rack,
        zone=sensor.zone,
        bands=bands,
        dew_point=dew,
        rate=rate,
        binary=binary,
        stale=stale,
        flapping=flap,
    )


def dew_point_pairs(cfg: SiteConfig) -> dict[str, str]:
    """Humidity sensor id -> the temperature sensor in the same place (same rack zone, or same room)."""
    temps = [s for s in cfg.sensors if s.kind == "temperature"]
    out: dict[str, str] = {}
    for h in cfg.sensors:
        if h.kind != "humidity":
            continue
        match = None
        if h.rack is not None:
            match = next((t for t in temps if t.rack == h.rack and t.zone == h.zone), None)
        else:
            room = sensor_room(cfg, h)
            match = next(
                (t for t in temps if t.rack is None and t.device is None and sensor_room(cfg, t) == room), None
            )
        if match is not None:
            out[h.id] = match.id
    return out
