"""Names of the things siaga talks about, for people: criticalities, device kinds, zones, sensor kinds.

Config values stay English slugs (``vital``, ``ceiling-above``); these turn them into words in the
current language. Unknown values come back unchanged.
"""

from __future__ import annotations

from siaga.i18n.catalogs import N_, _

CRITICALITY: dict[str, str] = {
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "vital": N_("vital"),
}

DEVICE_KIND: dict[str, str] = {
    "server": N_("server"),
    "storage": N_("storage"),
    "switch": N_("switch"),
    "router": N_("router"),
    "firewall": N_("firewall"),
    "ups": N_("UPS"),
    "pdu": N_("PDU"),
    "cooling": N_("cooling unit"),
    "other": N_("other device"),
}

ZONE: dict[str, str] = {
    "inlet-top": N_("inlet, top"),
    "inlet-bottom": N_("inlet, bottom"),
    "exhaust": N_("exhaust"),
    "floor": N_("floor"),
    "ceiling-above": N_("ceiling above"),
}

SENSOR_KIND: dict[str, str] = {
    "temperature": N_("temperature"),
    "humidity": N_("humidity"),
    "leak": N_("water leak"),
    "smoke": N_("smoke"),
    "door": N_("door"),
    "power": N_("power"),
    "voltage": N_("voltage"),
    "current": N_("current"),
    "ups_on_battery": N_("UPS on battery"),
    "ups_battery_charge": N_("UPS battery charge"),
    "ups_runtime": N_("UPS runtime"),
    "ups_load": N_("UPS load"),
    "airflow": N_("airflow"),
    "battery": N_("sensor battery"),
    "link_quality": N_("radio link quality"),
}

TARGET_KIND: dict[str, str] = {
    "room": N_("room"),
    "rack": N_("rack"),
    "device": N_("device"),
    "service": N_("service"),
    "sensor": N_("sensor"),
}

SEVERITY: dict[str, str] = {
    "info": N_("info"),
    "warning": N_("warning"),
    "critical": N_("critical"),
}

ALERT_EVENT: dict[str, str] = {
    "pending": N_("pending"),
    "firing": N_("firing"),
    "acknowledged": N_("acknowledged"),
    "resolved": N_("resolved"),
    "note": N_("note"),
    "severity": N_("severity changed"),
    "notified": N_("notified"),
    "notify_failed": N_("notification failed"),
    "notify_demo": N_("notification not sent (siaga demo)"),
    "notify_possibly_sent": N_("notification possibly sent (its sender stopped before recording it)"),
    # notify's decisions about paging the alert (siaga.notify.records.DECISIONS)
    "notify_folded": N_("folded into its cause's incident"),
    "notify_silenced": N_("silenced (maintenance)"),
    "notify_resumed": N_("pages on its own again"),
}

REFUSAL_REASON: dict[str, str] = {
    "unknown_sensor": N_("no such sensor in siaga.yaml"),
    "not_a_number": N_("not a number (a word or true/false for a measuring sensor)"),
    "not_binary": N_("neither on nor off"),
    "non_finite": N_("not a finite number"),
    "out_of_range": N_("outside the physically possible range"),
    "bad_timestamp": N_("unreadable timestamp"),
    "in_future": N_("timestamp in the future (clock wrong)"),
    "too_old": N_("timestamp too old"),
}


def _label(table: dict[str, str], value: object) -> str:
    key = str(getattr(value, "value", value))
    return _(table[key]) if key in table else key


def criticality(value: object) -> str:
    return _label(CRITICALITY, value)


def device_kind(value: object) -> str:
    return _label(DEVICE_KIND, value)


def zone(value: object) -> str:
    return _label(ZONE, value)


def sensor_kind(value: object) -> str:
    return _label(SENSOR_KIND, value)


def target_kind(value: object) -> str:
    return _label(TARGET_KIND, value)


def severity(value: object) -> str:
    return _label(SEVERITY, value)


def alert_event(value: object) -> str:
    return _label(ALERT_EVENT, value)


def refusal_reason(value: object) -> str:
    """Why the ingest path refused a reading (its reason key), in words."""
    return _label(REFUSAL_REASON, value)
