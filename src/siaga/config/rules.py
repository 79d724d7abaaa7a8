"""The ``rules:`` section of siaga.yaml: presets, site-wide settings and overrides per room, rack or sensor.

Every field is optional: what is not set comes from the ASHRAE preset of ``ashrae_class`` (see
``siaga.rules.presets``). An override merges field by field over what it overrides: a sensor's own
``rules:`` over its rack's override, over its room's, over the site's settings, over the preset.
Setting a level to null (``below: null``) switches that side off.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from siaga.config.errors import Refusal, unknown
from siaga.config.types import Seconds, Strict
from siaga.i18n.messages import Message
from siaga.kinds import SENSOR_KINDS, ValueType


class Level(Strict):
    """One level (warning or critical) of a threshold: when it fires, when it clears, how long each must hold."""

    above: float | None = Field(default=None, description="Fires when the value rises above this.")
    below: float | None = Field(default=None, description="Fires when the value falls below this.")
    clear_above: float | None = Field(
        default=None,
        description="Clears (after firing above) once the value is at or below this; default: `above` minus "
        "the kind's hysteresis.",
    )
    clear_below: float | None = Field(
        default=None,
        description="Clears (after firing below) once the value is at or above this; default: `below` plus "
        "the kind's hysteresis.",
    )
    for_: Seconds | None = Field(
        default=None, alias="for", description="How long the value must stay past the level before it fires."
    )
    clear_for: Seconds | None = Field(
        default=None, description="How long the value must stay back before the alert clears."
    )

    @model_validator(mode="after")
    def _clear_inside(self) -> Level:
        if self.above is not None and self.clear_above is not None and self.clear_above > self.above:
            raise Refusal("config.rules.clear_above", clear=f"{self.clear_above:g}", limit=f"{self.above:g}")
        if self.below is not None and self.clear_below is not None and self.clear_below < self.below:
            raise Refusal("config.rules.clear_below", clear=f"{self.clear_below:g}", limit=f"{self.below:g}")
        return self


class Band(Strict):
    """A threshold rule with a warning and a critical level."""

    enabled: bool | None = Field(default=None, description="false switches the rule off here.")
    warning: Level | None = Field(default=None, description="The warning level.")
    critical: Level | None = Field(default=None, description="The critical level.")
    hysteresis: float | None = Field(
        default=None, ge=0, description="Default distance between a level and its clear level."
    )


class RateOfChange(Strict):
    """How fast a temperature may change (ASHRAE: 20 °C per hour, 5 °C per hour with tape media)."""

    enabled: bool | None = Field(default=None, description="false switches the rule off here.")
    per_hour: float | None = Field(
        default=None, gt=0, description="Largest change in °C per hour (default 20, or 5 in a room with tape)."
    )
    window: Seconds | None = Field(
        default=None, description="The period over which the change is measured (default 15m)."
    )
    severity: Literal["warning", "critical"] | None = Field(default=None, description="Severity (default warning).")


class Stale(Strict):
    """A sensor that stops reporting."""

    enabled: bool | None = Field(default=None, description="false switches the rule off here.")
    factor: float | None = Field(
        default=None, gt=1, description="Stale after this many expected intervals without a reading (default 3)."
    )
    severity: Literal["warning", "critical"] | None = Field(
        default=None, description="Severity (default: critical for leak and smoke sensors, warning otherwise)."
    )


class Flapping(Strict):
    """A condition that goes on and off too often is held firing and marked flapping instead of paging again."""

    enabled: bool | None = Field(default=None, description="false switches flapping detection off here.")
    changes: int | None = Field(
        default=None, ge=2, description="State changes within `window` that make a condition flapping (default 6)."
    )
    window: Seconds | None = Field(default=None, description="The window (default 30m).")


class Binary(Strict):
    """An alarm contact (leak, smoke): fires on the first alarm reading, no hold."""

    enabled: bool | None = Field(default=None, description="false switches the rule off here.")
    severity: Literal["warning", "critical"] | None = Field(default=None, description="Severity (default critical).")
    clear_for: Seconds | None = Field(
        default=None, description="How long the sensor must read dry/clear before the alert clears (default 0)."
    )


class RuleSet(Strict):
    """Rule settings; any of them can be set site-wide, per room, per rack or per sensor."""

    temperature: Band | None = Field(default=None, description="Rack inlet (and room) temperature in °C.")
    humidity: Band | None = Field(default=None, description="Relative humidity in %.")
    dew_point: Band | None = Field(
        default=None,
        description="Dew point in °C, computed from a temperature and a humidity sensor in the same place.",
    )
    rate_of_change: RateOfChange | None = Field(default=None, description="Temperature rate of change.")
    leak: Binary | None = Field(default=None, description="Water leak sensors.")
    smoke: Binary | None = Field(default=None, description="Smoke detectors.")
    ups_on_battery: Binary | None = Field(default=None, description="A UPS running on battery (default warning).")
    stale: Stale | None = Field(default=None, description="Sensors that stop reporting.")
    flapping: Flapping | None = Field(default=None, description="Flapping detection.")
    thresholds: dict[str, Band] = Field(
        default_factory=dict,
        description="Thresholds for the other numeric kinds, by kind (ups_battery_charge, ups_load, power...).",
    )

    @field_validator("thresholds")
    @classmethod
    def _numeric_kinds(cls, value: dict[str, Band]) -> dict[str, Band]:
        for key in value:
            k = SENSOR_KINDS.get(key)
            if k is None:
                raise Refusal("config.ref.kind.choose", value=repr(key), known=", ".join(SENSOR_KINDS))
            if k.value_type is not ValueType.NUMBER:
                raise Refusal("config.rules.on_off", kind=repr(key))
        return value


class Override(RuleSet):
    """Rule settings for one room, one rack or one sensor."""

    room: str | None = Field(default=None, description="Id of the room these settings apply to.")
    rack: str | None = Field(default=None, description="Id of the rack these settings apply to.")
    sensor: str | None = Field(default=None, description="Id of the sensor these settings apply to.")

    @model_validator(mode="after")
    def _one_target(self) -> Override:
        targets = [t for t in (self.room, self.rack, self.sensor) if t is not None]
        if len(targets) != 1:
            raise Refusal("config.rules.override_one")
        return self


class RulesConfig(RuleSet):
    """The ``rules:`` section."""

    ashrae_class: Literal["A1", "A2", "A3", "A4"] = Field(
        default="A1",
        description="ASHRAE equipment class of the room's IT equipment; sets the allowable (critical) limits.",
    )
    overrides: list[Override] = Field(
        default_factory=list, description="Settings for one room, rack or sensor, merged over the site's."
    )


def rule_references(rules: RulesConfig, rooms: set[str], racks: set[str], sensors: set[str]) -> list[
    tuple[tuple[str | int, ...], Message]
]:
    """Overrides that name a room, rack or sensor the config does not have."""
    out: list[tuple[tuple[str | int, ...], Message]] = []
    for i, ov in enumerate(rules.overrides):
        for field, value, known in (("room", ov.room, rooms), ("rack", ov.rack, racks), ("sensor", ov.sensor, sensors)):
            if value is not None and value not in known:
                out.append((("rules", "overrides", i, field), unknown(field, value, ())))
    return out
