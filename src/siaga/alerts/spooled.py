"""The lifecycle's writes as JSON, for the spool (``siaga.store.spool``) that keeps them while the store
cannot take them."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from siaga.alerts.lifecycle import (
    AddEvent,
    CloseIncident,
    InsertAlert,
    Leave,
    OpenIncident,
    TouchIncident,
    UpdateAlert,
    Write,
    rename_write,
)
from siaga.alerts.serialise import alert_from_json, alert_to_json
from siaga.i18n.messages import Message

KINDS: dict[str, type[Any]] = {
    "insert_alert": InsertAlert, "update_alert": UpdateAlert, "add_event": AddEvent, "leave": Leave,
    "open_incident": OpenIncident, "touch_incident": TouchIncident, "close_incident": CloseIncident,
}
_NAMES = {cls: name for name, cls in KINDS.items()}


def write_to_json(w: Write) -> dict[str, Any]:
    out: dict[str, Any] = {"write": _NAMES[type(w)]}
    for f in dataclasses.fields(w):
        value = getattr(w, f.name)
        if f.name == "alert":
            value = alert_to_json(value)
        elif isinstance(value, Message):  # an incident's title
            value = value.to_json()
        elif isinstance(value, dt.datetime):
            value = value.isoformat()
        out[f.name] = value
    return out


def write_from_json(data: dict[str, Any]) -> Write:
    cls = KINDS[data["write"]]
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue  # (the spool's own ``_id`` is not a field)
        value = data[f.name]
        if f.name == "alert":
            value = alert_from_json(value)
        elif f.name == "title":  # a key and parameters; a sentence in a spool written before keys
            value = Message.from_json(value) if isinstance(value, dict) else Message(text=str(value))
        elif f.name == "at":
            value = dt.datetime.fromisoformat(value)
        kwargs[f.name] = value
    w: Write = cls(**kwargs)
    return w


def renumbered(writes: list[Write], below: int) -> tuple[list[Write], int]:
    """``writes`` with their provisional (negative) ids given new ones below ``below``, and the lowest
    used: spools of several processes each count from -1, and their writes must not meet."""
    n = below
    alert_ids: dict[int, int] = {}
    incident_ids: dict[int, int] = {}

    def fresh(ids: dict[int, int], i: int | None) -> None:
        nonlocal n
        if i is not None and i < 0 and i not in ids:
            n -= 1
            ids[i] = n

    for w in writes:
        if isinstance(w, InsertAlert | UpdateAlert | AddEvent | Leave):
            fresh(alert_ids, w.alert.id)
            fresh(incident_ids, w.alert.incident_id)
        else:
            fresh(incident_ids, w.id)
            fresh(alert_ids, w.alert_id)
    return [rename_write(w, alert_ids, incident_ids) for w in writes], min(n, below)
