"""Text, time and money for pages: the person's language, the site's zone, rupiah.

Uses ``siaga.i18n`` (gettext catalogs; a text without a translation stays English) and ``siaga.money``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

from siaga.i18n import translator
from siaga.i18n.zones import zone_abbreviation
from siaga.money import format_rupiah

LANGUAGES = ("id", "en")


def accept_language(header: str | None) -> str | None:
    """The first language of an ``Accept-Language`` header that siaga speaks (by weight), or None."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _sep, rest = part.strip().partition(";")
        weight = 1.0
        if rest.strip().startswith("q="):
            try:
                weight = float(rest.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, index, primary))
    return min(ranked)[2] if ranked else None


def gettext_for(lang: str) -> Callable[[str], str]:
    """``_`` for ``lang``: the catalog's translation (the English text itself when it has none)."""
    translate: Callable[[str], str] = translator(lang).gettext
    return translate


def rupiah(amount: int, lang: str) -> str:
    return format_rupiah(int(amount), lang)


_MONTHS = {
    "id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"],
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
}


def local_time(when: dt.datetime | None, zone: ZoneInfo, lang: str, *, seconds: bool = False) -> str:
    """``21 Nov 2026 19:05 WITA``: an aware time in the site's zone, as people there read it."""
    if when is None:
        return "—"
    t = when.astimezone(zone)
    month = _MONTHS.get(lang, _MONTHS["en"])[t.month - 1]
    clock = t.strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{t.day} {month} {t.year} {clock} {zone_abbreviation(t)}"


def ago(when: dt.datetime | None, now: dt.datetime, lang: str) -> str:
    """``5 min ago`` / ``5 menit lalu``."""
    if when is None:
        return "—"
    s = max(0, int((now - when).total_seconds()))
    en = lang == "en"
    if s < 60:
        return f"{s} s ago" if en else f"{s} detik lalu"
    if s < 3600:
        return f"{s // 60} min ago" if en else f"{s // 60} menit lalu"
    if s < 86400 * 2:
        return f"{s // 3600} h ago" if en else f"{s // 3600} jam lalu"
    return f"{s // 86400} days ago" if en else f"{s // 86400} hari lalu"


def duration(seconds: float | None, lang: str) -> str:
    """``3 h 20 min`` / ``3 jam 20 menit``; ``2 d 4 h`` / ``2 hari 4 jam``."""
    if seconds is None:
        return "—"
    s = round(seconds)
    en = lang == "en"
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    units = (("d", "hari"), ("h", "jam"), ("min", "menit"), ("s", "detik"))
    parts = [(d, units[0]), (h, units[1]), (m, units[2]), (sec, units[3])]
    shown = [f"{n} {u[0] if en else u[1]}" for n, u in parts if n][:2]
    return " ".join(shown) if shown else ("0 s" if en else "0 detik")
