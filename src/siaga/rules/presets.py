"""Default rule settings: ASHRAE thermal guidelines by equipment class, and defaults per sensor kind.

Temperatures are for the air at the rack inlet. All classes share the recommended envelope
(18–27 °C): outside it is a warning. Outside the class's allowable envelope is critical
(A1: 15–32 °C, 8–80 %RH, dew point up to 17 °C). Dew point above 15 °C (the top of the recommended
envelope) and relative humidity above 70 % are warnings.
"""

from __future__ import annotations

from typing import Any

from siaga.config.site import STALE_FACTOR as STALE_FACTOR

# (allowable low °C, allowable high °C, allowable RH low %, allowable RH high %, allowable max dew point °C)
ASHRAE_ALLOWABLE: dict[str, tuple[float, float, float, float, float]] = {
    "A1": (15.0, 32.0, 8.0, 80.0, 17.0),
    "A2": (10.0, 35.0, 8.0, 80.0, 21.0),
    "A3": (5.0, 40.0, 8.0, 85.0, 24.0),
    "A4": (5.0, 45.0, 8.0, 90.0, 24.0),
}
RECOMMENDED_TEMPERATURE = (18.0, 27.0)
RECOMMENDED_MAX_DEW_POINT = 15.0
HUMIDITY_WARNING_ABOVE = 70.0

RATE_PER_HOUR = 20.0
RATE_PER_HOUR_TAPE = 5.0
RATE_WINDOW_S = 15 * 60.0

FLAP_CHANGES = 6
FLAP_WINDOW_S = 30 * 60.0

# Default distance between a level and its clear level, per rule family.
HYSTERESIS: dict[str, float] = {
    "temperature": 1.0,
    "humidity": 3.0,
    "dew_point": 1.0,
    "ups_battery_charge": 5.0,
    "ups_runtime": 120.0,
    "ups_load": 5.0,
    "battery": 5.0,
}
BATTERY_LOW = 20.0
"""A wireless sensor's battery below this (%) is a warning: "battery low on <sensor>"."""
DEFAULT_HYSTERESIS = 0.0

# Kinds whose alarm value (1) is an alert by itself, and the default severity.
BINARY_RULES: dict[str, str] = {"leak": "critical", "smoke": "critical", "ups_on_battery": "warning"}


def preset(ashrae_class: str) -> dict[str, Any]:
    """The preset rule settings of an ASHRAE class, as a ``RuleSet``-shaped dict."""
    t_low, t_high, rh_low, rh_high, dp_high = ASHRAE_ALLOWABLE[ashrae_class]
    rec_low, rec_high = RECOMMENDED_TEMPERATURE
    return {
        "temperature": {
            "enabled": True,
            "warning": {"above": rec_high, "below": rec_low, "for_": 120.0, "clear_for": 120.0},
            "critical": {"above": t_high, "below": t_low, "for_": 60.0, "clear_for": 120.0},
        },
        "humidity": {
            "enabled": True,
            "warning": {"above": HUMIDITY_WARNING_ABOVE, "for_": 300.0, "clear_for": 120.0},
            "critical": {"above": rh_high, "below": rh_low, "for_": 120.0, "clear_for": 120.0},
        },
        "dew_point": {
            "enabled": True,
            "warning": {"above": RECOMMENDED_MAX_DEW_POINT, "for_": 300.0, "clear_for": 120.0},
            "critical": {"above": dp_high, "for_": 120.0, "clear_for": 120.0},
        },
        "rate_of_change": {"enabled": True, "window": RATE_WINDOW_S, "severity": "warning"},
        "leak": {"enabled": True, "severity": "critical", "clear_for": 0.0},
        "smoke": {"enabled": True, "severity": "critical", "clear_for": 0.0},
        "ups_on_battery": {"enabled": True, "severity": "warning", "clear_for": 0.0},
        "stale": {"enabled": True, "factor": STALE_FACTOR},
        "flapping": {"enabled": True, "changes": FLAP_CHANGES, "window": FLAP_WINDOW_S},
        "thresholds": {
            "ups_battery_charge": {
                "enabled": True,
                "warning": {"below": 50.0, "for_": 0.0, "clear_for": 60.0},
                "critical": {"below": 20.0, "for_": 0.0, "clear_for": 60.0},
            },
            "ups_runtime": {
                "enabled": True,
                "warning": {"below": 900.0, "for_": 0.0, "clear_for": 60.0},
                "critical": {"below": 300.0, "for_": 0.0, "clear_for": 60.0},
            },
            "battery": {
                "enabled": True,
                "warning": {"below": BATTERY_LOW, "for_": 0.0, "clear_for": 60.0},
            },
            "ups_load": {
                "enabled": True,
                "warning": {"above": 80.0, "for_": 60.0, "clear_for": 60.0},
                "critical": {"above": 95.0, "for_": 30.0, "clear_for": 60.0},
            },
        },
    }
