"""An alert's headline in the reader's language: what happened and where ("Kebocoran air · R1, plafon atas").

Short, for lists; the alert's ``summary`` (its message worded for the reader, siaga.i18n.messages) says the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siaga.i18n import N_
from siaga.i18n.labels import SENSOR_KIND, ZONE

EVENTS: dict[str, str] = {
    "leak": N_("Water leak"),
    "smoke": N_("Smoke"),
    "door": N_("Door open"),
    "ups_on_battery": N_("UPS on battery"),
    "sensor.stale": N_("Sensor silent"),
    "sensor.faulty": N_("Sensor faulty"),
    "service.down": N_("Service down"),
    "tls.expiry": N_("TLS certificate expiring"),
    "backup.rpo": N_("Backup too old"),
    "system.down": N_("siaga component down"),
    "siaga.degraded": N_("siaga degraded"),
}
FAMILY: dict[str, str] = {
    "high": N_("{what} too high"),
    "low": N_("{what} too low"),
    "rate": N_("{what} changing fast"),
}
EXTRA_KINDS: dict[str, str] = {"dewpoint": N_("dew point")}


def headline(alert: dict[str, Any], g: Callable[[str], str], places: dict[str, str] | None = None) -> str:
    """``alert`` is a row of the alerts table; ``g`` translates; ``places`` maps room ids to names."""
    rule = str(alert.get("rule", ""))
    family, _, suffix = rule.partition(".")
    if rule in EVENTS:
        what = g(EVENTS[rule])
    elif suffix in FAMILY and (family in SENSOR_KIND or family in EXTRA_KINDS):
        kind = g(SENSOR_KIND.get(family) or EXTRA_KINDS[family])
        what = g(FAMILY[suffix]).format(what=kind)
        what = what[:1].upper() + what[1:]
    else:
        return str(alert.get("summary") or rule)
    impact = alert.get("impact") or {}
    where = []
    if impact.get("rack"):
        where.append(str(impact["rack"]))
        if impact.get("zone"):
            where.append(g(ZONE.get(str(impact["zone"]), str(impact["zone"]))))
    elif impact.get("room"):
        where.append((places or {}).get(str(impact["room"]), str(impact["room"])))
    subject = str(alert.get("subject", ""))
    place = ", ".join(where)
    return f"{what} · {place} ({subject})" if place else f"{what} · {subject}"
