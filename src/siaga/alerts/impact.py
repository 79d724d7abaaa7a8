"""What an alert puts at stake: the subject's place, devices, services (with depends_on) and rupiah.

``impact_resolver(config)`` gives the function the alert manager calls: the inventory's
``impact_for_alert``; should that fail, a small reading of the config itself (a rack sensor puts the
rack's devices at stake, a room sensor the devices of the room, a service its own devices).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from siaga.alerts.model import Impact, SubjectKind
from siaga.config.models import SiteConfig

log = logging.getLogger(__name__)

ImpactOf = Callable[[SubjectKind, str], Impact]


def _services_hit(cfg: SiteConfig, devices: set[str], direct: set[str] | None = None) -> list[str]:
    hit = {s.id for s in cfg.services if set(s.runs_on) & devices} | (direct or set())
    changed = True
    while changed:  # follow depends_on: whoever depends on a hit service is hit too
        changed = False
        for s in cfg.services:
            if s.id not in hit and set(s.depends_on) & hit:
                hit.add(s.id)
                changed = True
    return [s.id for s in cfg.services if s.id in hit]


def _impact(cfg: SiteConfig, room: str | None, rack: str | None, zone: str | None, devices: set[str],
            services: list[str]) -> Impact:
    value = sum(d.value for d in cfg.devices if d.id in devices)
    crits = [s.criticality for s in cfg.services if s.id in services]
    worst = max(crits, key=lambda c: c.rank).value if crits else None
    ordered = tuple(d.id for d in cfg.devices if d.id in devices)
    return Impact(room=room, rack=rack, zone=zone, devices=ordered, services=tuple(services),
                  value_at_risk=value, worst_criticality=worst)


def config_impact(cfg: SiteConfig, kind: SubjectKind, subject: str) -> Impact:
    """The impact read straight from the config (used when the inventory has no answer)."""
    racks = {r.id: r for r in cfg.racks}
    if kind is SubjectKind.sensor:
        sensor = next((s for s in cfg.sensors if s.id == subject), None)
        if sensor is None:
            return Impact()
        rack = sensor.rack
        room = sensor.room or (racks[rack].room if rack in racks else None)
        if sensor.device is not None and sensor.rack is None:
            devices = {sensor.device}
        elif rack is not None:
            devices = {d.id for d in cfg.devices if d.rack == rack}
        else:
            devices = {d.id for d in cfg.devices if d.room == room or (d.rack in racks and racks[d.rack].room == room)}
        return _impact(cfg, room, rack, sensor.zone, devices, _services_hit(cfg, devices))
    if kind is SubjectKind.service:
        svc = next((s for s in cfg.services if s.id == subject), None)
        if svc is None:
            return Impact()
        devices = set(svc.runs_on)
        rack_ids = {d.rack for d in cfg.devices if d.id in devices and d.rack}
        rack = next(iter(rack_ids)) if len(rack_ids) == 1 else None
        room = racks[rack].room if rack in racks else None
        return _impact(cfg, room, rack, None, devices, _services_hit(cfg, devices, {svc.id}))
    return Impact()


def impact_resolver(cfg: SiteConfig) -> ImpactOf:
    """The function that gives the impact of a subject: the inventory's, else :func:`config_impact`."""
    from siaga.inventory import Inventory, impact_for_alert

    inventory = Inventory.from_config(cfg)

    def impact_of(kind: SubjectKind, subject: str) -> Impact:
        try:
            return impact_for_alert(inventory, kind.value, subject)
        except Exception:  # an inventory that cannot answer must not stop an alert
            log.exception("impact of %s %s", kind.value, subject)
            return config_impact(cfg, kind, subject)

    return impact_of
