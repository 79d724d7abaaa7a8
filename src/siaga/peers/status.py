"""A room's public status page as the colocation holds it (pure: no I/O, the clock passed in).

The room sends its status page as a document (:func:`document`: the snapshot its own ``/status`` shows,
every public service with its 90 daily bars, incidents and maintenance) to each colocation that watches it
(:mod:`siaga.peers.status_feed`). The colocation keeps the newest one per room and rebuilds the same
snapshot from it (:func:`snapshot_of`), so it serves the same page and JSON when the room is dark.

What the colocation adds is its own view of the room (:func:`verdict`): a room silent, stopped on purpose,
never heard, or whose page is stale is said so on the page, with since when; the states below are then
the last the room told, and the summary is never "operational". The services the colocation probes itself
show what it sees now from outside (:func:`overlay`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from siaga.checks.confirm import Status
from siaga.checks.status.snapshot import Bar, GroupRow, MaintenanceRow, ServiceRow, Snapshot
from siaga.errors import SiagaError

VERSION = 1
REFRESH_S = 60.0
"""The room sends its page at least this often (and at once when a state on it changes)."""
STALE_S = 3 * REFRESH_S + 30.0
"""A page older than this at the colocation, from a room still heard, is said to be stale."""


class DocumentError(SiagaError, ValueError):
    """A status document that cannot be read (one line saying what)."""


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _at(value: Any) -> dt.datetime | None:
    if not value:
        return None
    at = dt.datetime.fromisoformat(str(value))
    return at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at


def _bars(bars: tuple[Bar, ...]) -> list[list[Any]]:
    return [[b.cls, b.uptime, b.down_s, b.maintenance_s] for b in bars]


def _incident(i: Mapping[str, Any]) -> dict[str, Any]:
    def plain(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in d.items() if k != "updates"}

    return {**plain(i), "updates": [plain(u) for u in i.get("updates", [])]}


def document(snap: Snapshot, *, site: str, name: str, language: str) -> dict[str, Any]:
    """The room's status page as JSON, to send to the colocation (``site``: the room's peer id)."""
    return {
        "version": VERSION, "site": site, "name": name, "language": language, "zone": snap.zone.key,
        "built_at": snap.built_at.isoformat(), "days": [d.isoformat() for d in snap.days],
        "status": snap.status.value, "counts": snap.counts,
        "groups": [{"name": g.name, "counts": g.counts, "status": g.status.value, "uptime": g.uptime,
                    "bars": _bars(g.bars), "services": [s.id for s in g.services]} for g in snap.groups],
        "services": [{"id": s.id, "name": s.name, "group": s.group, "status": s.status.value,
                      "since": _iso(s.since), "uptime": s.uptime, "bars": _bars(s.bars)}
                     for s in snap.by_id.values()],
        "incidents": [_incident(i) for i in snap.incidents],
        "maintenance": [{"id": m.id, "title": m.title, "starts_at": m.starts_at.isoformat(),
                         "ends_at": m.ends_at.isoformat(), "services": list(m.services), "ongoing": m.ongoing,
                         "description": m.description} for m in snap.maintenance],
    }


def digest(doc: Mapping[str, Any]) -> str:
    """What changes the page's meaning (states, incidents, maintenance; not the time it was built nor the
    bars' tallies of today): the room sends again at once when it changes."""
    essential = {
        "status": doc.get("status"), "counts": doc.get("counts"), "incidents": doc.get("incidents"),
        "maintenance": doc.get("maintenance"),
        "services": [(s.get("id"), s.get("status"), s.get("since")) for s in doc.get("services", [])],
    }
    return hashlib.sha256(json.dumps(essential, sort_keys=True, default=str).encode()).hexdigest()


def _bar_rows(days: tuple[dt.date, ...], raw: Any) -> tuple[Bar, ...]:
    rows = list(raw or [])
    if len(rows) != len(days):
        raise DocumentError("a service's bars do not match the days")
    return tuple(Bar(day, str(cls), None if up is None else float(up), float(down), float(maint))
                 for day, (cls, up, down, maint) in zip(days, rows, strict=True))


def _incident_back(i: Mapping[str, Any]) -> dict[str, Any]:
    def parse(d: Mapping[str, Any]) -> dict[str, Any]:
        return {k: _at(v) if (k == "at" or k.endswith("_at")) and isinstance(v, str) else v
                for k, v in d.items() if k != "updates"}

    return {**parse(i), "updates": [parse(u) for u in i.get("updates", []) if isinstance(u, Mapping)]}


def snapshot_of(doc: Mapping[str, Any]) -> Snapshot:
    """The snapshot the room's own ``/status`` showed when it made ``doc`` (raises :class:`DocumentError`)."""
    try:
        if doc.get("version") != VERSION:
            raise DocumentError(f"status document version {doc.get('version')!r}, this siaga reads {VERSION}")
        days = tuple(dt.date.fromisoformat(d) for d in doc["days"])
        services: dict[str, ServiceRow] = {}
        for s in doc["services"]:
            services[str(s["id"])] = ServiceRow(
                str(s["id"]), str(s["name"]), str(s.get("group") or ""), Status(s["status"]), _at(s.get("since")),
                _bar_rows(days, s.get("bars")), None if s.get("uptime") is None else float(s["uptime"]))
        groups = tuple(
            GroupRow(str(g.get("name") or ""), tuple(services[i] for i in g["services"] if i in services),
                     {str(k): int(v) for k, v in g["counts"].items()}, Status(g["status"]),
                     _bar_rows(days, g.get("bars")), None if g.get("uptime") is None else float(g["uptime"]))
            for g in doc["groups"])
        maintenance = tuple(
            MaintenanceRow(str(m["id"]), str(m["title"]), _at(m["starts_at"]) or dt.datetime.min,
                           _at(m["ends_at"]) or dt.datetime.min, tuple(m.get("services") or ()), bool(m.get("ongoing")),
                           m.get("description"))
            for m in doc.get("maintenance", []))
        return Snapshot(
            built_at=_at(doc["built_at"]) or dt.datetime.now(dt.UTC), zone=ZoneInfo(str(doc["zone"])), days=days,
            status=Status(doc["status"]), counts={str(k): int(v) for k, v in doc["counts"].items()}, groups=groups,
            by_id=services, down=tuple(s for s in services.values() if s.status == Status.down),
            incidents=tuple(_incident_back(i) for i in doc.get("incidents", []) if isinstance(i, Mapping)),
            maintenance=maintenance,
        )
    except DocumentError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise DocumentError(f"not a status document: {exc!r}") from None


def overlay(snap: Snapshot, outside: Mapping[str, Status]) -> Snapshot:
    """The room's last page with the states the colocation sees now from outside (its own probes of the room,
    ``peers.sites[].probes``) for the services it checks; the others stay as the room last told them."""
    outside = {sid: st for sid, st in outside.items() if sid in snap.by_id and st is not Status.unknown}
    if not outside:
        return snap
    by_id = {sid: r if sid not in outside else
             replace(r, status=outside[sid], since=r.since if outside[sid] is r.status else None)
             for sid, r in snap.by_id.items()}
    zero = {"up": 0, "down": 0, "unknown": 0, "maintenance": 0}
    counts = dict(zero)
    groups = []
    for g in snap.groups:
        members = tuple(by_id[s.id] for s in g.services)
        gc = dict(zero)
        for m in members:
            gc[m.status.value] += 1
            counts[m.status.value] += 1
        status = Status.down if gc["down"] else Status.unknown if gc["unknown"] else Status.up
        groups.append(replace(g, services=members, counts=gc, status=status))
    down = tuple(r for r in by_id.values() if r.status is Status.down)
    overall = Status.down if down else Status.unknown if counts["unknown"] else Status.up
    return replace(snap, by_id=by_id, groups=tuple(groups), counts=counts, down=down, status=overall)


@dataclass(frozen=True)
class Verdict:
    """What the colocation says of a room on its page: ``live`` (the room is heard and its page is fresh),
    else ``silent``, ``stopped`` (a planned stop), ``not_heard`` (never heard since this siaga started),
    ``stale`` (heard, but its page is old) or ``no_page`` (heard, no page received yet); ``since``: from when;
    ``as_of``: when the room made the page shown (None: none)."""

    state: str
    since: dt.datetime | None
    as_of: dt.datetime | None

    @property
    def live(self) -> bool:
        return self.state == "live"

    @property
    def summary(self) -> str:
        """The JSON's ``summary`` when the room is not live (never ``operational``)."""
        return f"room_{self.state}"


def verdict(row: Mapping[str, Any] | None, as_of: dt.datetime | None, received_at: dt.datetime | None,
            now: dt.datetime, window_s: float | None = None) -> Verdict:
    """The colocation's view of a room from its peer row (:func:`siaga.peers.hub.status_row`) and the page
    it holds (made ``as_of`` by the room, received ``received_at``). With ``window_s`` (the room's silence
    window) a room not heard for longer is never live, even before its alarm is raised (the first window
    after the colocation's own restart)."""
    status = (row or {}).get("status")
    heard = _at((row or {}).get("last_heartbeat_at"))
    age = (row or {}).get("age_s")
    if status == "up" and window_s is not None and isinstance(age, int | float) and age > window_s:
        status = "waiting"
    if status == "silent":
        return Verdict("silent", heard or _at((row or {}).get("silent_since")), as_of)
    if status == "stopped":
        return Verdict("stopped", _at((row or {}).get("goodbye_at")), as_of)
    if status != "up":
        return Verdict("not_heard", heard, as_of)
    if as_of is None or received_at is None:
        return Verdict("no_page", None, None)
    if (now - received_at).total_seconds() > STALE_S:
        return Verdict("stale", as_of, as_of)
    return Verdict("live", None, as_of)


__all__ = ["REFRESH_S", "STALE_S", "DocumentError", "Verdict", "digest", "document", "overlay", "snapshot_of",
           "verdict"]
