"""Dew point from air temperature and relative humidity (Magnus formula, Sonntag 1990 constants)."""

from __future__ import annotations

import math

# Magnus coefficients over water, valid from -45 to 60 °C (WMO guide, Sonntag 1990).
MAGNUS_B = 17.62
MAGNUS_C = 243.12  # °C


def dew_point(temperature_c: float, relative_humidity: float) -> float:
    """The dew point in °C of air at ``temperature_c`` and ``relative_humidity`` (percent, 0 < RH <= 100)."""
    rh = min(max(relative_humidity, 0.01), 100.0)
    gamma = math.log(rh / 100.0) + MAGNUS_B * temperature_c / (MAGNUS_C + temperature_c)
    return MAGNUS_C * gamma / (MAGNUS_B - gamma)
