"""Numbers, percentages, durations and local times the way a reader of ``id`` or ``en`` writes them (Babel).

Bahasa Indonesia writes ``23,6 °C``, ``99,95%``, ``1.234``, ``2 jam 5 menit`` and ``6 Des 2026 09:58 WITA``;
English ``23.6 °C``, ``99.95%``, ``1,234``, ``2 hours 5 minutes`` and ``6 Dec 2026 09:58 WITA``. Pure:
the zone is passed in (the site's, ``Asia/Makassar`` for Bontang), never read from the machine.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_decimal, format_percent

from siaga.i18n.zones import zone_abbreviation

NO_SPACE_UNITS = frozenset({"%", "%RH"})


def _locale(lang: str) -> str:
    return "en" if str(lang).lower().startswith("en") else "id"


@functools.lru_cache(maxsize=8192)  # every check's line carries its latency: the same few values, again and again
def number(value: float, lang: str, digits: int = 1) -> str:
    """``value`` with at most ``digits`` decimals (trailing zeros dropped) and the reader's separators."""
    if not math.isfinite(value):
        return str(value)
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
    return str(format_decimal(value, pattern, locale=_locale(lang)))


def measure(value: float, unit: str, lang: str, digits: int = 1) -> str:
    """A value with its unit: ``23,6 °C``, ``45%``, ``230 V``."""
    text = number(value, lang, digits)
    if not unit:
        return text
    return f"{text}{unit}" if unit in NO_SPACE_UNITS else f"{text} {unit}"


def percent(fraction: float, lang: str, digits: int = 2) -> str:
    """A fraction as a percentage: ``0.9995`` -> ``99,95%`` (id), ``99.95%`` (en)."""
    if not math.isfinite(fraction):
        return str(fraction)
    pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "") + "%"
    return str(format_percent(fraction, pattern, locale=_locale(lang)))


_Unit = Literal["day", "hour", "minute", "second"]
_UNITS: tuple[tuple[_Unit, int], ...] = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(seconds: float, lang: str) -> str:
    """At most two units, largest first: ``2 jam 5 menit``, ``45 detik``, ``3 hari 4 jam``."""
    loc = _locale(lang)
    total = round(abs(seconds))

    def one(count: int, unit: _Unit, size: int) -> str:
        return str(format_timedelta(dt.timedelta(seconds=count * size), granularity=unit, threshold=1_000_000,
                                    locale=loc))

    for index, (unit, size) in enumerate(_UNITS):
        if total >= size or unit == "second":
            first, rest = divmod(total, size)
            parts = [one(first, unit, size)]
            if index + 1 < len(_UNITS):
                next_unit, next_size = _UNITS[index + 1]
                if rest // next_size:
                    parts.append(one(rest // next_size, next_unit, next_size))
            return " ".join(parts)
    raise AssertionError("unreachable")  # pragma: no cover


def local_time(at: dt.datetime, zone: ZoneInfo, lang: str, *, date: bool = True) -> str:
    """``6 Des 2026 09:58 WITA`` (id) or ``6 Dec 2026 09:58 WITA`` (en); ``date=False``: the time only."""
    local = at.astimezone(zone)
    loc = _locale(lang)
    pattern = "d MMM y HH:mm" if date else "HH:mm"  # the colon, as the dashboard and the reports write it
    return f"{format_datetime(local, pattern, locale=loc)} {zone_abbreviation(local)}"
