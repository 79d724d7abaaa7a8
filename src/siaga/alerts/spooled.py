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


def lowest_id(writes: list[Write]) -> int:
    """The lowest provisional id the writes use (0 when none): new ones of this run go below it."""
    ids = [0]
    for w in writes:
        if isinstance(w, InsertAlert | UpdateAlert | AddEvent | Leave):
            ids.append(w.alert.id)
            ids.append(w.alert.incident_id or 0)
        else:
            ids.append(w.id)
    return min(ids)
