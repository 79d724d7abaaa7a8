"""The one table of sensor kinds: unit, physically possible range, reporting interval, defaults.

Everything that needs to know about a kind of sensor (config validation, the ingest edge, the
rules' defaults, the dashboard) reads it from here. A kind is data, not a class.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ValueType(StrEnum):
    """How a reading of a kind is to be read."""

    NUMBER = "number"
    BINARY = "binary"  # 0 or 1: dry/wet, clear/alarm, closed/open, on mains/on battery


@dataclass(frozen=True)
class SensorKind:
    """What siaga knows about one kind of sensor."""

    key: str
    unit: str
    value_type: ValueType
    minimum: float
    maximum: float
    interval_s: float
    """Expected reporting interval; no reading within 3x this makes the sensor stale."""
    safety: bool = False
    """A safety sensor (leak, smoke): its silence is critical, never 'dry'."""
    description: str = ""
    metric: str = ""
    """Its Prometheus family on /metrics, named for what it measures and its unit (``siaga_`` + this)."""

    def in_range(self, value: float) -> bool:
        return self.minimum <= value <= self.maximum


SENSOR_KINDS: dict[str, SensorKind] = {
    k.key: k
    for k in (
        SensorKind("temperature", "°C", ValueType.NUMBER, -40.0, 125.0, 60.0,
                   description="Air temperature (rack inlet, exhaust or room).", metric="temperature_celsius"),
        SensorKind("humidity", "%RH", ValueType.NUMBER, 0.0, 100.0, 60.0,
                   description="Relative humidity of the air.", metric="humidity_percent"),
        SensorKind("leak", "", ValueType.BINARY, 0.0, 1.0, 60.0, safety=True,
                   description="Water on a rope or spot sensor: 0 dry, 1 wet.", metric="leak_detected"),
        SensorKind("smoke", "", ValueType.BINARY, 0.0, 1.0, 60.0, safety=True,
                   description="Smoke detector: 0 clear, 1 alarm.", metric="smoke_detected"),
        SensorKind("door", "", ValueType.BINARY, 0.0, 1.0, 300.0,
                   description="Door contact: 0 closed, 1 open.", metric="door_open"),
        SensorKind("power", "W", ValueType.NUMBER, 0.0, 1_000_000.0, 60.0,
                   description="Active power drawn (PDU, circuit).", metric="power_watts"),
        SensorKind("voltage", "V", ValueType.NUMBER, 0.0, 1_000.0, 60.0,
                   description="Mains or output voltage.", metric="voltage_volts"),
        SensorKind("current", "A", ValueType.NUMBER, 0.0, 1_000.0, 60.0,
                   description="Current drawn.", metric="current_amperes"),
        SensorKind("ups_on_battery", "", ValueType.BINARY, 0.0, 1.0, 60.0,
                   description="UPS output source: 0 on mains, 1 on battery.", metric="ups_on_battery"),
        SensorKind("ups_battery_charge", "%", ValueType.NUMBER, 0.0, 100.0, 60.0,
                   description="UPS estimated battery charge.", metric="ups_battery_charge_percent"),
        SensorKind("ups_runtime", "s", ValueType.NUMBER, 0.0, 1_000_000.0, 60.0,
                   description="UPS estimated runtime left on battery.", metric="ups_runtime_seconds"),
        SensorKind("ups_load", "%", ValueType.NUMBER, 0.0, 250.0, 60.0,
                   description="UPS output load as a percentage of its rating.", metric="ups_load_percent"),
        SensorKind("airflow", "m/s", ValueType.NUMBER, 0.0, 100.0, 60.0,
                   description="Air speed from a cooling unit or floor tile.", metric="airflow_meters_per_second"),
        SensorKind("battery", "%", ValueType.NUMBER, 0.0, 100.0, 3600.0,
                   description="Battery of a wireless sensor (zigbee2mqtt battery, others battery_percent).",
                   metric="sensor_battery_percent"),
        SensorKind("link_quality", "lqi", ValueType.NUMBER, 0.0, 255.0, 3600.0,
                   description="Radio link quality of a wireless sensor (zigbee2mqtt linkquality, 0-255).",
                   metric="sensor_link_quality_lqi"),
    )
}

# The words on/off devices send, and what they mean to an on/off kind (leak, smoke, door, UPS on
# battery): ESPHome and Tasmota "ON"/"OFF", zigbee2mqtt's JSON true/false (water_leak, smoke,
# contact), SmartThings and Shelly "wet"/"dry", "open"/"closed", Z-Wave "idle"/"detected", "1"/"0".
# Compared lowercased. Only on/off kinds take them: a word for a temperature, humidity, voltage or
# power sensor is refused (not_a_number), never read as 1.0 or 0.0.
BINARY_WORDS: dict[str, bool] = {
    "on": True, "off": False,
    "true": True, "false": False,
    "yes": True, "no": False,
    "wet": True, "dry": False,
    "leak": True, "no_leak": False,
    "alarm": True, "clear": False, "ok": False, "normal": False,
    "open": True, "opened": True, "closed": False, "close": False,
    "detected": True, "not_detected": False, "tripped": True, "idle": False,
    "active": True, "inactive": False,
}

# Where on a rack a sensor can hang.
RACK_ZONES: tuple[str, ...] = ("inlet-top", "inlet-bottom", "exhaust", "floor", "ceiling-above")

# Which zones of a rack a careful room covers, and with what: used by `siaga impact`
# to say which zones of a target no sensor watches.
EXPECTED_RACK_COVERAGE: dict[str, tuple[str, ...]] = {
    "inlet-top": ("temperature",),
    "inlet-bottom": ("temperature",),
    "ceiling-above": ("leak",),
    "floor": ("leak",),
}


def kind(key: str) -> SensorKind:
    """The kind called ``key``; KeyError when there is none."""
    return SENSOR_KINDS[key]
