"""Ready SNMP profiles: named metrics with their OID and how the polled value becomes a reading.

Pure data on the ground floor beside ``siaga.kinds`` (the config checks a sensor's profile metric
against it, the SNMP poller reads its OIDs). The RFC 1628 UPS-MIB (``upsMIB``, 1.3.6.1.2.1.33)
is what most UPS network cards speak.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One value of a profile."""

    name: str
    oid: str
    kind: str  # the sensor kind it suits
    convert: Callable[[float], float] = float
    description: str = ""


def _is_battery(value: float) -> float:
    # upsOutputSource: other(1) none(2) normal(3) bypass(4) battery(5) booster(6) reducer(7)
    return 1.0 if int(value) == 5 else 0.0


def _minutes_to_seconds(value: float) -> float:
    return value * 60.0


UPS_MIB: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("on_battery", "1.3.6.1.2.1.33.1.4.1.0", "ups_on_battery", _is_battery,
               "upsOutputSource = battery(5): 1 on battery, 0 otherwise."),
        Metric("battery_charge", "1.3.6.1.2.1.33.1.2.4.0", "ups_battery_charge",
               description="upsEstimatedChargeRemaining, percent."),
        Metric("runtime", "1.3.6.1.2.1.33.1.2.3.0", "ups_runtime", _minutes_to_seconds,
               "upsEstimatedMinutesRemaining, converted to seconds."),
        Metric("input_voltage", "1.3.6.1.2.1.33.1.3.3.1.3.1", "voltage",
               description="upsInputVoltage of input line 1, volts RMS."),
        Metric("output_voltage", "1.3.6.1.2.1.33.1.4.4.1.2.1", "voltage",
               description="upsOutputVoltage of output line 1, volts RMS."),
        Metric("load", "1.3.6.1.2.1.33.1.4.4.1.5.1", "ups_load",
               description="upsOutputPercentLoad of output line 1, percent of rated capacity."),
        Metric("battery_temperature", "1.3.6.1.2.1.33.1.2.7.0", "temperature",
               description="upsBatteryTemperature, °C."),
    )
}

PROFILES: dict[str, dict[str, Metric]] = {
    "ups-mib": UPS_MIB,
}
