"""What is at stake when something in the room fails: ``impact(inventory, target)``.

For a room, rack or device: the devices hit, the services on them (``direct``) and every service
that needs one of those through a ``depends_on`` chain (recorded, e.g. ``simpeg ← db-utama ← srv-db-1``),
the worst criticality, the rupiah at risk, the sensors that watch the place, the zones of its racks
that no sensor watches, and the sensors of its room. For a service: the services that need it.
For a sensor: the impact of the place it watches (its rack, with its zone, or its room).
Pure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from siaga.config.models import Criticality, Device, Sensor
from siaga.inventory.graph import Inventory
from siaga.inventory.targets import Target, TargetKind
from siaga.kinds import EXPECTED_RACK_COVERAGE
from siaga.vocab import Impact


@dataclass(frozen=True)
class DeviceHit:
    id: str
    name: str | None
    kind: str
    model: str | None
    value: int
    room: str | None
    rack: str | None
    u: int | None
    height_u: int


@dataclass(frozen=True)
class ServiceHit:
    id: str
    name: str
    criticality: Criticality
    direct: bool
    """It runs on a device that is hit (else it is reached through depends_on)."""
    chain: tuple[str, ...]
    """From this service back to what was hit: ``("simpeg", "db-utama", "srv-db-1")``."""
    devices: tuple[str, ...]
    """For a direct hit: the devices hit that it runs on."""
    partial: bool
    """Some of what it runs on (or of the service it needs) is not hit: degraded, not certainly down."""


@dataclass(frozen=True)
class SensorRef:
    id: str
    name: str | None
    kind: str
    room: str | None
    rack: str | None
    zone: str | None
    device: str | None


@dataclass(frozen=True)
class ZoneGap:
    """A zone of a rack that no sensor of the expected kinds watches."""

    rack: str
    zone: str
    kinds: tuple[str, ...]


@dataclass(frozen=True)
class KindTotal:
    kind: str
    count: int
    value: int


@dataclass(frozen=True)
class ImpactReport:
    """What failing ``target`` puts at stake, in full; :meth:`summary` is what an alert carries."""

    target: Target
    name: str | None
    watches: Target | None
    """For a sensor: the rack or room it watches (whose impact this is)."""
    room: str | None
    rack: str | None
    zone: str | None
    devices: tuple[DeviceHit, ...]
    services: tuple[ServiceHit, ...]
    value_at_risk: int
    by_kind: tuple[KindTotal, ...]
    worst_criticality: Criticality | None
    sensors: tuple[SensorRef, ...]
    """Sensors watching the target (its racks, its devices; for a room, all of it)."""
    room_sensors: tuple[SensorRef, ...]
    """Sensors on the room itself (temperature, humidity, smoke, door of the whole room)."""
    uncovered: tuple[ZoneGap, ...]

    @property
    def direct_services(self) -> tuple[ServiceHit, ...]:
        return tuple(s for s in self.services if s.direct)

    @property
    def dependent_services(self) -> tuple[ServiceHit, ...]:
        return tuple(s for s in self.services if not s.direct)

    def summary(self) -> Impact:
        """The summary an alert carries (``siaga.vocab.Impact``)."""
        return Impact(
            room=self.room,
            rack=self.rack,
            zone=self.zone,
            devices=tuple(d.id for d in self.devices),
            services=tuple(s.id for s in self.services),
            value_at_risk=self.value_at_risk,
            worst_criticality=self.worst_criticality.value if self.worst_criticality else None,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "target": {"kind": self.target.kind.value, "id": self.target.id, "name": self.name},
            "watches": (
                {"kind": self.watches.kind.value, "id": self.watches.id} if self.watches is not None else None
            ),
            "room": self.room,
            "rack": self.rack,
            "zone": self.zone,
            "devices": [vars(d).copy() for d in self.devices],
            "services": [
                {
                    "id": s.id,
                    "name": s.name,
                    "criticality": s.criticality.value,
                    "direct": s.direct,
                    "chain": list(s.chain),
                    "devices": list(s.devices),
                    "partial": s.partial,
                }
                for s in self.services
            ],
            "value_at_risk": self.value_at_risk,
            "by_kind": [vars(k).copy() for k in self.by_kind],
            "worst_criticality": self.worst_criticality.value if self.worst_criticality else None,
            "sensors": [vars(s).copy() for s in self.sensors],
            "room_sensors": [vars(s).copy() for s in self.room_sensors],
            "uncovered": [{"rack": g.rack, "zone": g.zone, "kinds": list(g.kinds)} for g in self.uncovered],
        }


def _device_hit(inv: Inventory, dev: Device) -> DeviceHit:
    return DeviceHit(
        dev.id, dev.name, dev.kind.value, dev.model, dev.value,
        inv.room_of_device(dev.id), inv.rack_of_device(dev.id), dev.u, dev.height_u,
    )


def _sensor_ref(inv: Inventory, sensor: Sensor) -> SensorRef:
    place = inv.place_of_sensor(sensor.id)
    return SensorRef(sensor.id, sensor.name, sensor.kind, place.room, place.rack, place.zone, place.device)


def uncovered_zones(inv: Inventory, rack_id: str) -> tuple[ZoneGap, ...]:
    """Zones of the rack that no sensor of the expected kind watches (``EXPECTED_RACK_COVERAGE``)."""
    sensors = inv.sensors_of(rack=rack_id)
    gaps: list[ZoneGap] = []
    for zone, kinds in EXPECTED_RACK_COVERAGE.items():
        if not any(s.zone == zone and s.kind in kinds for s in sensors):
            gaps.append(ZoneGap(rack_id, zone, kinds))
    return tuple(gaps)


def services_hit(
    inv: Inventory, devices: frozenset[str], seeds: tuple[str, ...] = ()
) -> tuple[ServiceHit, ...]:
    """Services on ``devices`` and, transitively, the services that depend on them.

    ``seeds``: services hit themselves (an outage of a service); they are listed first, as direct.
    Each service appears once: directly if it runs on a device hit, else by its shortest chain,
    preferring a chain from a service that is certainly down over one that is only degraded.
    """
    hits: dict[str, ServiceHit] = {}
    for sid in seeds:
        svc = inv.services[sid]
        hits[sid] = ServiceHit(sid, svc.name, svc.criticality, True, (sid,), (), False)
    for svc in inv.services_on_devices(devices):
        if svc.id in hits:
            continue
        on = tuple(d for d in dict.fromkeys(svc.runs_on) if d in devices)
        if on:
            partial = len(on) < len(set(svc.runs_on))
            hits[svc.id] = ServiceHit(svc.id, svc.name, svc.criticality, True, (svc.id, on[0]), on, partial)

    direct = list(hits.values())
    # Two passes: chains from services that are down, then from those only degraded.
    for want_partial in (False, True):
        queue: deque[ServiceHit] = deque(h for h in direct if h.partial is want_partial)
        while queue:
            current = queue.popleft()
            for dep in inv.dependents(current.id):
                if dep.id in hits:
                    continue
                hit = ServiceHit(
                    dep.id, dep.name, dep.criticality, False, (dep.id, *current.chain), (), current.partial
                )
                hits[dep.id] = hit
                queue.append(hit)
    # The target itself first, then direct hits, then those through depends_on; the most critical
    # first within each (stable: config order, then the shortest chain).
    order = {sid: i for i, sid in enumerate(hits)}
    return tuple(
        sorted(
            hits.values(),
            key=lambda h: (h.id not in seeds, not h.direct, -h.criticality.rank, order[h.id]),
        )
    )


def _by_kind(devices: tuple[DeviceHit, ...]) -> tuple[KindTotal, ...]:
    totals: dict[str, tuple[int, int]] = {}
    for d in devices:
        count, value = totals.get(d.kind, (0, 0))
        totals[d.kind] = (count + 1, value + d.value)
    rows = [KindTotal(k, c, v) for k, (c, v) in totals.items()]
    return tuple(sorted(rows, key=lambda r: (-r.value, r.kind)))


def _worst(services: tuple[ServiceHit, ...]) -> Criticality | None:
    if not services:
        return None
    return max((s.criticality for s in services), key=lambda c: c.rank)


def impact(inv: Inventory, query: str | Target) -> ImpactReport:
    """What failing the room, rack, device, service or sensor named by ``query`` puts at stake."""
    target = inv.resolve(query)
    name: str | None = None
    watches: Target | None = None
    room: str | None = None
    rack: str | None = None
    zone: str | None = None
    devices: tuple[Device, ...] = ()
    seeds: tuple[str, ...] = ()
    racks: tuple[str, ...] = ()
    sensors: tuple[Sensor, ...] = ()
    rooms: tuple[str, ...] = ()

    place = target
    if target.kind is TargetKind.sensor:
        sensor = inv.sensors[target.id]
        name = sensor.name
        where = inv.place_of_sensor(target.id)
        zone = where.zone
        if where.rack is not None and where.rack in inv.racks:
            place = Target(TargetKind.rack, where.rack)
        elif where.room is not None and where.room in inv.rooms:
            place = Target(TargetKind.room, where.room)
        elif where.device is not None:
            place = Target(TargetKind.device, where.device)
        watches = place

    if place.kind is TargetKind.room:
        room = place.id
        devices = inv.devices_in_room(place.id)
        racks = tuple(r.id for r in inv.racks_in_room(place.id))
        sensors = inv.sensors_of(room=place.id)
        rooms = (place.id,)
        if target.kind is TargetKind.room:
            name = inv.rooms[place.id].name
    elif place.kind is TargetKind.rack:
        rack = place.id
        room = inv.room_of_rack(place.id)
        devices = inv.devices_in_rack(place.id)
        racks = (place.id,)
        sensors = inv.sensors_of(rack=place.id)
        rooms = (room,)
        if target.kind is TargetKind.rack:
            name = inv.racks[place.id].name
    elif place.kind is TargetKind.device:
        dev = inv.devices[place.id]
        rack = inv.rack_of_device(dev.id)
        room = inv.room_of_device(dev.id)
        devices = (dev,)
        racks = (rack,) if rack is not None else ()
        sensors = inv.sensors_of(rack=rack) if rack is not None else inv.sensors_of(device=dev.id)
        rooms = (room,) if room is not None else ()
        if target.kind is TargetKind.device:
            name = dev.name
    elif place.kind is TargetKind.service:
        svc = inv.services[place.id]
        name = svc.name
        seeds = (svc.id,)
        racks = tuple(dict.fromkeys(r for d in svc.runs_on if d in inv.devices
                                    for r in [inv.rack_of_device(d)] if r is not None))
        found: dict[str, Sensor] = {}
        for r in racks:
            for s in inv.sensors_of(rack=r):
                found.setdefault(s.id, s)
        for d in svc.runs_on:
            if d in inv.devices:
                for s in inv.sensors_of(device=d):
                    found.setdefault(s.id, s)
        sensors = tuple(found.values())
        rooms = tuple(dict.fromkeys(r for d in svc.runs_on if d in inv.devices
                                    for r in [inv.room_of_device(d)] if r is not None))
        room = rooms[0] if len(rooms) == 1 else None
        rack = racks[0] if len(racks) == 1 else None

    device_hits = tuple(_device_hit(inv, d) for d in devices)
    services = services_hit(inv, frozenset(d.id for d in devices), seeds)
    room_sensors: list[Sensor] = []
    for r in rooms:
        room_sensors += inv.sensors_of(room=r, room_level=True)
    gaps = tuple(g for r in racks for g in uncovered_zones(inv, r))
    return ImpactReport(
        target=target,
        name=name,
        watches=watches,
        room=room,
        rack=rack,
        zone=zone,
        devices=device_hits,
        services=services,
        value_at_risk=sum(d.value for d in device_hits),
        by_kind=_by_kind(device_hits),
        worst_criticality=_worst(services),
        sensors=tuple(_sensor_ref(inv, s) for s in sensors),
        room_sensors=tuple(_sensor_ref(inv, s) for s in room_sensors),
        uncovered=gaps,
    )


def impact_of_sensor(inv: Inventory, sensor_id: str) -> Impact:
    """What an alert on ``sensor_id`` puts at stake, as ``siaga.vocab.Impact``.

    Raises UnknownTarget for a sensor the inventory does not know.
    """
    return impact(inv, Target(TargetKind.sensor, sensor_id)).summary()


def impact_for_alert(inv: Inventory, subject_kind: str, subject: str) -> Impact:
    """The impact of an alert's subject: a sensor or a service; an empty Impact for anything else
    (a backup job, siaga itself) or an id the inventory does not know (a config changed since)."""
    kinds = {"sensor": TargetKind.sensor, "service": TargetKind.service}
    kind = kinds.get(str(getattr(subject_kind, "value", subject_kind)))
    if kind is None or subject not in (inv.sensors if kind is TargetKind.sensor else inv.services):
        return Impact()
    found = impact(inv, Target(kind, subject)).summary()
    if kind is TargetKind.service:  # a service down: the devices it runs on are what is involved
        devices = tuple(d for d in inv.services[subject].runs_on if d in inv.devices)
        found = replace(found, devices=devices, value_at_risk=sum(inv.devices[d].value for d in devices))
    return found
