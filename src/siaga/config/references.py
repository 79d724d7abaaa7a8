"""Checks that span more than one field: ids, references, rack units, dependency cycles.

Pure: takes a validated :class:`SiteConfig`, returns ``(loc, message)`` pairs for the loader to
place on a line of the file (the message a ``config.*`` key worded per reader, or a sentence shown as it is).
"""

from __future__ import annotations

from collections.abc import Sequence

from siaga.config.backup import check_backup_references
from siaga.config.checks import check_findings, maintenance_findings
from siaga.config.errors import Loc, duplicate, unknown
from siaga.config.models import Rack, SiteConfig
from siaga.config.notify_refs import check_notify_references
from siaga.config.rules import rule_references
from siaga.config.runbooks import check_runbook_references
from siaga.config.sources import check_source_references
from siaga.config.standby import check_standby_references, check_standby_steps
from siaga.i18n.messages import Message

Finding = tuple[Loc, Message | str]




def _ids(section: str, items: Sequence[object]) -> tuple[dict[str, int], list[Finding]]:
    seen: dict[str, int] = {}
    findings: list[Finding] = []
    for i, item in enumerate(items):
        ident = str(getattr(item, "id"))  # noqa: B009 - every section item has an id
        if ident in seen:
            findings.append(
                ((section, i, "id"), duplicate(ident, f"{section}[{seen[ident]}]"))
            )
        else:
            seen[ident] = i
    return seen, findings


def check_references(cfg: SiteConfig) -> list[Finding]:
    """Every cross-field problem of ``cfg``, in file order per section."""
    findings: list[Finding] = []
    rooms, f = _ids("rooms", cfg.rooms)
    findings += f
    racks, f = _ids("racks", cfg.racks)
    findings += f
    devices, f = _ids("devices", cfg.devices)
    findings += f
    services, f = _ids("services", cfg.services)
    findings += f
    _sensors, f = _ids("sensors", cfg.sensors)
    findings += f
    _people, f = _ids("people", cfg.people)
    findings += f

    def ref(loc: Loc, value: str | None, known: dict[str, int], what: str) -> None:
        if value is not None and value not in known:
            findings.append((loc, unknown(what, value, known)))

    room_by_id = {r.id: r for r in cfg.rooms}
    tiles: dict[tuple[str, int, int], str] = {}
    for i, rack in enumerate(cfg.racks):
        ref(("racks", i, "room"), rack.room, rooms, "room")
        room = room_by_id.get(rack.room)
        if room is not None and rack.position is not None:
            pos = rack.position
            if pos.column > room.grid.columns or pos.row > room.grid.rows:
                findings.append(
                    (
                        ("racks", i, "position"),
                        Message("config.tile_outside", {"tile": f"({pos.column}, {pos.row})", "room": room.id,
                                                        "columns": room.grid.columns, "rows": room.grid.rows}),
                    )
                )
            key = (rack.room, pos.column, pos.row)
            if key in tiles:
                findings.append(
                    (("racks", i, "position"), Message("config.tile_taken", {"rack": tiles[key]}))
                )
            else:
                tiles[key] = rack.id

    rack_by_id = {r.id: r for r in cfg.racks}
    occupied: dict[tuple[str, int], str] = {}
    for i, dev in enumerate(cfg.devices):
        ref(("devices", i, "rack"), dev.rack, racks, "rack")
        ref(("devices", i, "room"), dev.room, rooms, "room")
        dev_rack: Rack | None = rack_by_id.get(dev.rack) if dev.rack else None
        if dev.rack is None and dev.u is not None:
            findings.append((("devices", i, "u"), Message("config.u_without_rack")))
        if dev_rack is not None and dev.room is not None and dev.room != dev_rack.room:
            findings.append(
                (("devices", i, "room"), Message("config.rack_elsewhere", {"rack": dev_rack.id, "room": dev_rack.room,
                                                                           "written": dev.room}))
            )
        if dev_rack is not None and dev.u is not None:
            top = dev.u + dev.height_u - 1
            if top > dev_rack.height_u:
                findings.append(
                    (
                        ("devices", i, "u"),
                        Message("config.units_overflow", {"units": f"{dev.u}-{top}", "rack": dev_rack.id,
                                                          "height": f"{dev_rack.height_u}U"}),
                    )
                )
            for unit in range(dev.u, min(top, dev_rack.height_u) + 1):
                other = occupied.get((dev_rack.id, unit))
                if other is not None:
                    findings.append(
                        (("devices", i, "u"), Message("config.unit_taken", {"unit": f"U{unit}", "rack": dev_rack.id,
                                                                            "device": other}))
                    )
                    break
            for unit in range(dev.u, min(top, dev_rack.height_u) + 1):
                occupied.setdefault((dev_rack.id, unit), dev.id)

    for i, svc in enumerate(cfg.services):
        for j, dev_id in enumerate(svc.runs_on):
            ref(("services", i, "runs_on", j), dev_id, devices, "device")
        for j, dep in enumerate(svc.depends_on):
            if dep == svc.id:
                findings.append((("services", i, "depends_on", j), Message("config.depends_on_itself")))
            else:
                ref(("services", i, "depends_on", j), dep, services, "service")
    findings += _cycles(cfg, services)
    findings += check_backup_references(cfg.targets, cfg.backups, set(services))
    findings += check_standby_references(cfg.standbys, cfg.backups, set(services))

    for i, sensor in enumerate(cfg.sensors):
        ref(("sensors", i, "room"), sensor.room, rooms, "room")
        ref(("sensors", i, "rack"), sensor.rack, racks, "rack")
        ref(("sensors", i, "device"), sensor.device, devices, "device")
        if sensor.room is None and sensor.rack is None and sensor.device is None:
            findings.append((("sensors", i), Message("config.sensor_nowhere")))
        if sensor.zone is not None and sensor.rack is None:
            findings.append((("sensors", i, "zone"), Message("config.zone_without_rack")))
        srack = rack_by_id.get(sensor.rack) if sensor.rack else None
        if srack is not None and sensor.room is not None and sensor.room != srack.room:
            findings.append(
                (("sensors", i, "room"), Message("config.rack_elsewhere", {"rack": srack.id, "room": srack.room,
                                                                           "written": sensor.room}))
            )
    findings += check_findings(list(cfg.checks), set(services))
    findings += maintenance_findings(list(cfg.maintenance), set(services))
    findings += check_notify_references(cfg)
    findings += rule_references(cfg.rules, set(rooms), set(racks), set(_sensors))
    findings += check_source_references(cfg)
    findings += check_runbook_references(cfg.runbooks, set(devices), {*rooms, *racks, *devices})
    findings += check_standby_steps(cfg.runbooks, cfg.standbys)
    return findings


def _cycles(cfg: SiteConfig, index: dict[str, int]) -> list[Finding]:
    """One finding per dependency cycle between services, placed on the first service of it."""
    graph = {s.id: [d for d in s.depends_on if d in index and d != s.id] for s in cfg.services}
    findings: list[Finding] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    reported: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    first = cycle[0]
                    findings.append(
                        (("services", index[first], "depends_on"),
                         Message("config.dependency_cycle", {"cycle": " -> ".join(cycle)}))
                    )
            elif state.get(nxt) is None:
                visit(nxt, path)
        path.pop()
        state[node] = 2

    for svc in cfg.services:
        if state.get(svc.id) is None:
            visit(svc.id, [])
    return findings
