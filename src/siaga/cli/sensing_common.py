"""What the sensing commands share: the store of a config, times in the site's zone, durations, sparklines."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from siaga.cli.common import ExitCode, fail
from siaga.config import LoadedConfig
from siaga.config.types import parse_seconds
from siaga.i18n import _, get_language
from siaga.i18n.messages import Message, render

SPARK = "▁▂▃▄▅▆▇█"


def open_store(loaded: LoadedConfig) -> Engine:
    """The site's store, migrated; one line and exit 1 when it cannot be reached."""
    from siaga.store import StoreError, check_connection, create_engine_for, database_url, upgrade

    try:
        engine = create_engine_for(database_url(loaded))
        check_connection(engine)
        upgrade(engine)
    except StoreError as exc:
        fail(str(exc))
    return engine


def site_zone(loaded: LoadedConfig) -> ZoneInfo:
    return ZoneInfo(loaded.config.site.timezone)


def say(message: Message, zone: ZoneInfo) -> str:
    """An alert's summary or an incident's title in the language of the command (``--lang``, site language)."""
    return render(message, get_language(), zone)


def local(when: dt.datetime | None, zone: dt.tzinfo, *, seconds: bool = False) -> str:
    if when is None:
        return "-"
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def age(delta: dt.timedelta) -> str:
    """A short age: 12s, 5m, 3h, 2d."""
    s = int(delta.total_seconds())
    if s < 0:
        return _("in {n}s").format(n=-s)
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def parse_since(text: str, now: dt.datetime, zone: dt.tzinfo) -> dt.datetime:
    """``1h``, ``30m``, ``7d`` ago, or a date/time (in the site's zone when it has none)."""
    try:
        return now - dt.timedelta(seconds=parse_seconds(text))
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(_("not a duration or a time: {text!r} (write 1h, 30m, 7d or 2025-07-16T09:00)").format(text=text),
             ExitCode.USAGE)
    return when.replace(tzinfo=zone) if when.tzinfo is None else when


def sparkline(values: Sequence[float], width: int = 60) -> str:
    """The values as one line of block characters, averaged down to ``width`` columns."""
    if not values:
        return ""
    if len(values) > width:
        step = len(values) / width
        values = [
            sum(chunk) / len(chunk)
            for chunk in (values[int(i * step): max(int((i + 1) * step), int(i * step) + 1)] for i in range(width))
        ]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:
        return SPARK[3] * len(values)
    return "".join(SPARK[min(7, int((v - lo) / (hi - lo) * 8))] for v in values)


def table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    """Rows as left-aligned columns under a header."""
    cols = [list(header), *[list(r) for r in rows]]
    widths = [max(len(str(r[i])) for r in cols) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cols]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
