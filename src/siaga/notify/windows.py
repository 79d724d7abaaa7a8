"""Is a moment inside a recurring time window of the site (office hours, nights, holidays)? Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from zoneinfo import ZoneInfo

from siaga.config.notify import HolidayRule, TimeWindow

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def in_window(window: TimeWindow, at: dt.datetime, zone: ZoneInfo, holidays: Collection[dt.date] = ()) -> bool:
    """True when ``at`` (aware) falls in ``window``, read in the site's ``zone``.

    A window whose end comes before its start runs past midnight: the part after midnight belongs
    to the day it started (a Friday night window covers Saturday 02:00).
    """
    local = at.astimezone(zone)
    minute = local.hour * 60 + local.minute
    start, end = _minutes(window.start), _minutes(window.end)
    if start <= end:
        day = local.date() if start <= minute < end else None
    elif minute >= start:
        day = local.date()
    elif minute < end:
        day = local.date() - dt.timedelta(days=1)
    else:
        day = None
    if day is None:
        return False
    if _DAYS[day.weekday()] not in {d.value for d in window.days}:
        return False
    holiday = day in holidays
    if window.holidays is HolidayRule.exclude and holiday:
        return False
    return not (window.holidays is HolidayRule.only and not holiday)


def step_open(
    when: Collection[str],
    unless: Collection[str],
    windows: Mapping[str, TimeWindow],
    at: dt.datetime,
    zone: ZoneInfo,
    holidays: Collection[dt.date] = (),
) -> bool:
    """A step applies at ``at`` when inside one of ``when`` (if any) and none of ``unless``."""
    if when and not any(in_window(windows[w], at, zone, holidays) for w in when if w in windows):
        return False
    return not any(in_window(windows[w], at, zone, holidays) for w in unless if w in windows)
