"""Is an alert inside a maintenance window? Pure.

The ``maintenance`` section is shared with the service checks (there a window is excluded from
uptime). For notify a window silences paging: matching alerts are recorded but nobody is told.
A window covers an alert when it is open, the alert's rule matches ``rules`` (if any), and the
window names nothing (the whole site) or the alert touches one of its ``services`` or ``places``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from siaga.alerts.model import Alert
from siaga.config.checks import MaintenanceWindow


@dataclass(frozen=True)
class Window:
    """A maintenance window with aware bounds, from the config or made at run time (CLI, API)."""

    id: str
    start: dt.datetime
    end: dt.datetime
    reason: str = ""
    services: tuple[str, ...] = ()
    places: tuple[str, ...] = ()  # rooms, racks or devices
    rules: tuple[str, ...] = ()
    created_by: str | None = None
    source: str = "config"  # "config" | "runtime"

    @property
    def whole_site(self) -> bool:
        return not (self.services or self.places)


def aware(t: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    """A naive time read in the site's ``zone``, as aware UTC."""
    return (t.replace(tzinfo=zone) if t.tzinfo is None else t).astimezone(dt.UTC)


def from_config(window: MaintenanceWindow, zone: ZoneInfo) -> Window:
    """A config window; times without an offset are the site's local time."""
    return Window(
        id=window.id,
        start=aware(window.starts_at, zone),
        end=aware(window.ends_at, zone),
        reason=window.title,
        services=tuple(window.services),
        places=tuple(window.places),
        rules=tuple(window.rules),
    )


def covers(window: Window, alert: Alert, at: dt.datetime) -> bool:
    """``window`` is open at ``at`` and takes in ``alert``."""
    if not window.start <= at < window.end:
        return False
    if window.rules and not any(fnmatchcase(alert.rule, p) for p in window.rules):
        return False
    if window.whole_site:
        return True
    imp = alert.impact
    places = {imp.room, imp.rack, *imp.devices, alert.subject} - {None}
    services = {*imp.services, alert.subject}
    return bool(places & set(window.places) or services & set(window.services))


def covering(windows: Sequence[Window], alert: Alert, at: dt.datetime) -> Window | None:
    """The first window that covers ``alert`` at ``at``."""
    for window in windows:
        if covers(window, alert, at):
            return window
    return None
