"""How people write a time zone: WIB, WITA, WIT in Indonesia, the zone's own abbreviation elsewhere."""

from __future__ import annotations

import datetime as dt

_INDONESIA = ("Asia/Jakarta", "Asia/Pontianak", "Asia/Makassar", "Asia/Jayapura")


def zone_abbreviation(local: dt.datetime) -> str:
    """WITA, WIB, WIT for Indonesia's zones (tzdata only says +08); the zone's own name elsewhere."""
    offset = local.utcoffset()
    name = local.tzname() or ""
    if str(local.tzinfo) in _INDONESIA and offset:
        return {7: "WIB", 8: "WITA", 9: "WIT"}.get(int(offset.total_seconds() // 3600), name)
    return name
