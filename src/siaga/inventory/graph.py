"""The inventory graph: rooms → racks → devices → services, with the sensors where they hang.

Built once from a validated :class:`~siaga.config.SiteConfig` and then only read. Pure: no I/O,
no clock. Devices without a rack stand in their room; services hang off the devices they run on
(``runs_on``) and off the services they need (``depends_on``, kept in both directions).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from siaga.config.models import Device, Rack, Room, Sensor, Service, SiteConfig
from siaga.inventory.targets import AmbiguousTarget, Target, TargetKind, UnknownTarget, WrongKind

if TYPE_CHECKING:
    from siaga.inventory.impact import ImpactReport
    from siaga.vocab import Impact


@dataclass(frozen=True)
class SensorPlace:
    """Where a sensor hangs, resolved through its rack or device to a room."""

    sensor: str
    room: str | None
    rack: str | None
    zone: str | None
    device: str | None


@dataclass(frozen=True)
class Contents:
    """What a room or a rack holds."""

    target: Target
    racks: tuple[Rack, ...]
    devices: tuple[Device, ...]
    """Every device inside, racked or standing free."""
    free_standing: tuple[Device, ...]
    """Devices standing in the room outside any rack (always empty for a rack)."""
    services: tuple[Service, ...]
    """Services running directly on those devices."""
    value: int


def _sort_in_rack(devices: Iterable[Device]) -> list[Device]:
    """Top of the rack first, as one reads a rack; devices without a U position last."""
    return sorted(devices, key=lambda d: (d.u is None, -(d.u or 0), d.id))


class Inventory:
    """Rooms, racks, devices, services and sensors of one site, with the edges between them."""

    def __init__(
        self,
        rooms: Iterable[Room] = (),
        racks: Iterable[Rack] = (),
        devices: Iterable[Device] = (),
        services: Iterable[Service] = (),
        sensors: Iterable[Sensor] = (),
    ) -> None:
        self.rooms: dict[str, Room] = {r.id: r for r in rooms}
        self.racks: dict[str, Rack] = {r.id: r for r in racks}
        self.devices: dict[str, Device] = {d.id: d for d in devices}
        self.services: dict[str, Service] = {s.id: s for s in services}
        self.sensors: dict[str, Sensor] = {s.id: s for s in sensors}

        self._racks_in_room: dict[str, list[str]] = {r: [] for r in self.rooms}
        for rack in self.racks.values():
            self._racks_in_room.setdefault(rack.room, []).append(rack.id)

        in_rack: dict[str, list[Device]] = {r: [] for r in self.racks}
        self._free_in_room: dict[str, list[str]] = {r: [] for r in self.rooms}
        self._unplaced: list[str] = []
        for dev in self.devices.values():
            if dev.rack is not None and dev.rack in self.racks:
                in_rack[dev.rack].append(dev)
            elif dev.room is not None:
                self._free_in_room.setdefault(dev.room, []).append(dev.id)
            else:
                self._unplaced.append(dev.id)
        self._devices_in_rack: dict[str, list[str]] = {
            rack: [d.id for d in _sort_in_rack(devs)] for rack, devs in in_rack.items()
        }

        self._services_on: dict[str, list[str]] = {d: [] for d in self.devices}
        self._dependents: dict[str, list[str]] = {s: [] for s in self.services}
        for svc in self.services.values():
            for dev_id in dict.fromkeys(svc.runs_on):
                if dev_id in self._services_on:
                    self._services_on[dev_id].append(svc.id)
            for dep in dict.fromkeys(svc.depends_on):
                if dep in self._dependents and dep != svc.id:
                    self._dependents[dep].append(svc.id)

        self._service_order: dict[str, int] = {s: i for i, s in enumerate(self.services)}
        self._places: dict[str, SensorPlace] = {s.id: self._place(s) for s in self.sensors.values()}
        self._sensors_at: dict[tuple[str, str], list[str]] = {}
        for sid, place in self._places.items():
            for key in (("room", place.room), ("rack", place.rack), ("device", place.device)):
                if key[1] is not None:
                    self._sensors_at.setdefault((key[0], key[1]), []).append(sid)

    @classmethod
    def from_config(cls, cfg: SiteConfig) -> Inventory:
        """The inventory of a validated config."""
        return cls(cfg.rooms, cfg.racks, cfg.devices, cfg.services, cfg.sensors)

    # --- where things are -------------------------------------------------------------------

    def _place(self, sensor: Sensor) -> SensorPlace:
        rack = sensor.rack
        dev = self.devices.get(sensor.device) if sensor.device else None
        if rack is None and dev is not None:
            rack = dev.rack
        room = sensor.room
        if room is None and rack is not None and rack in self.racks:
            room = self.racks[rack].room
        if room is None and dev is not None:
            room = dev.room
        return SensorPlace(sensor.id, room, rack, sensor.zone, sensor.device)

    def place_of_sensor(self, sensor_id: str) -> SensorPlace:
        if sensor_id not in self._places:
            raise self._unknown(sensor_id, TargetKind.sensor)
        return self._places[sensor_id]

    def room_of_rack(self, rack_id: str) -> str:
        return self.racks[rack_id].room

    def rack_of_device(self, device_id: str) -> str | None:
        rack = self.devices[device_id].rack
        return rack if rack in self.racks else None

    def room_of_device(self, device_id: str) -> str | None:
        rack = self.rack_of_device(device_id)
        return self.racks[rack].room if rack is not None else self.devices[device_id].room

    def racks_in_room(self, room_id: str) -> tuple[Rack, ...]:
        return tuple(self.racks[r] for r in self._racks_in_room.get(room_id, ()))

    def devices_in_rack(self, rack_id: str) -> tuple[Device, ...]:
        """Top of the rack first."""
        return tuple(self.devices[d] for d in self._devices_in_rack.get(rack_id, ()))

    def free_standing(self, room_id: str) -> tuple[Device, ...]:
        """Devices standing in the room outside any rack (cooling units, a floor UPS)."""
        return tuple(self.devices[d] for d in self._free_in_room.get(room_id, ()))

    def unplaced_devices(self) -> tuple[Device, ...]:
        """Devices with neither a rack nor a room."""
        return tuple(self.devices[d] for d in self._unplaced)

    def devices_in_room(self, room_id: str) -> tuple[Device, ...]:
        out: list[Device] = []
        for rack in self.racks_in_room(room_id):
            out += self.devices_in_rack(rack.id)
        return (*out, *self.free_standing(room_id))

    def services_on(self, device_id: str) -> tuple[Service, ...]:
        """Services that run directly on the device."""
        return tuple(self.services[s] for s in self._services_on.get(device_id, ()))

    def services_on_devices(self, device_ids: Iterable[str]) -> tuple[Service, ...]:
        """Services running directly on any of the devices, in config order, once each."""
        found = {s for d in device_ids for s in self._services_on.get(d, ())}
        return tuple(self.services[s] for s in sorted(found, key=self._service_order.__getitem__))

    def dependents(self, service_id: str) -> tuple[Service, ...]:
        """Services that name ``service_id`` in their ``depends_on`` (one step)."""
        return tuple(self.services[s] for s in self._dependents.get(service_id, ()))

    def sensors_of(self, *, room: str | None = None, rack: str | None = None,
                   device: str | None = None, zone: str | None = None,
                   room_level: bool = False) -> tuple[Sensor, ...]:
        """Sensors by where they hang. ``room_level``: only those on the room itself (no rack, no device)."""
        out: list[Sensor] = []
        candidates: Iterable[str] = self._places
        for key in (("rack", rack), ("device", device), ("room", room)):
            if key[1] is not None:
                candidates = self._sensors_at.get((key[0], key[1]), ())
                break
        for sid in candidates:
            place = self._places[sid]
            if room is not None and place.room != room:
                continue
            if rack is not None and place.rack != rack:
                continue
            if device is not None and place.device != device:
                continue
            if zone is not None and place.zone != zone:
                continue
            if room_level and (place.rack is not None or place.device is not None):
                continue
            out.append(self.sensors[sid])
        return tuple(out)

    # --- totals -----------------------------------------------------------------------------

    def contents(self, target: str | Target) -> Contents:
        """What a room or a rack holds."""
        t = self.resolve(target)
        if t.kind is TargetKind.room:
            racks = self.racks_in_room(t.id)
            devices = self.devices_in_room(t.id)
            free = self.free_standing(t.id)
        elif t.kind is TargetKind.rack:
            racks = ()
            devices = self.devices_in_rack(t.id)
            free = ()
        else:
            raise WrongKind(f"{t} has no contents: ask about a room or a rack", t.id, ("room", "rack"))
        services: dict[str, Service] = {}
        for dev in devices:
            for svc in self.services_on(dev.id):
                services.setdefault(svc.id, svc)
        return Contents(t, racks, devices, free, tuple(services.values()), sum(d.value for d in devices))

    def value(self, target: str | Target) -> int:
        """Rupiah value of a room, a rack or a device."""
        t = self.resolve(target)
        if t.kind is TargetKind.device:
            return self.devices[t.id].value
        return self.contents(t).value

    def tree(self) -> dict[str, Any]:
        """The whole site as plain data: rooms → racks → devices → services, with rupiah values."""

        def device(dev: Device) -> dict[str, Any]:
            return {
                "id": dev.id, "name": dev.name, "kind": dev.kind.value, "model": dev.model,
                "u": dev.u, "height_u": dev.height_u, "value": dev.value,
                "services": [s.id for s in self.services_on(dev.id)],
            }

        rooms = []
        for room in self.rooms.values():
            racks = [
                {
                    "id": rack.id, "name": rack.name, "height_u": rack.height_u, "value": self.value(rack.id),
                    "devices": [device(d) for d in self.devices_in_rack(rack.id)],
                }
                for rack in self.racks_in_room(room.id)
            ]
            rooms.append({
                "id": room.id, "name": room.name, "value": self.value(room.id), "racks": racks,
                "free_standing": [device(d) for d in self.free_standing(room.id)],
            })
        return {
            "rooms": rooms,
            "unplaced": [device(d) for d in self.unplaced_devices()],
            "value": sum(d.value for d in self.devices.values()),
        }

    # --- what is at stake (see siaga.inventory.impact) ----------------------------------------

    def impact(self, target: str | Target) -> ImpactReport:
        """What failing ``target`` (a room, rack, device, service or sensor) puts at stake."""
        from siaga.inventory.impact import impact

        return impact(self, target)

    def impact_of_sensor(self, sensor_id: str) -> Impact:
        """The ``siaga.vocab.Impact`` of an alert on ``sensor_id``; UnknownTarget if there is none."""
        from siaga.inventory.impact import impact_of_sensor

        return impact_of_sensor(self, sensor_id)

    def impact_for_alert(self, subject_kind: str, subject: str) -> Impact:
        """The impact of an alert's subject (sensor or service); empty for anything else or unknown."""
        from siaga.inventory.impact import impact_for_alert

        return impact_for_alert(self, subject_kind, subject)

    # --- finding a target -------------------------------------------------------------------

    def _tables(self) -> Mapping[TargetKind, Mapping[str, object]]:
        return {
            TargetKind.room: self.rooms,
            TargetKind.rack: self.racks,
            TargetKind.device: self.devices,
            TargetKind.service: self.services,
            TargetKind.sensor: self.sensors,
        }

    def all_targets(self) -> tuple[Target, ...]:
        return tuple(Target(kind, ident) for kind, table in self._tables().items() for ident in table)

    def resolve(self, query: str | Target) -> Target:
        """The one thing ``query`` names: an id (``R1``), or ``kind:id`` when an id is used twice.

        A different case is forgiven when it names one thing only (``r1`` is ``R1``).
        Raises UnknownTarget (with a did-you-mean) or AmbiguousTarget.
        """
        if isinstance(query, Target):
            if query.id not in self._tables()[query.kind]:
                raise self._unknown(query.id, query.kind)
            return query
        text = query.strip()
        kind: TargetKind | None = None
        ident = text
        prefix, sep, rest = text.partition(":")
        if sep and prefix.lower() in TargetKind.__members__:
            kind, ident = TargetKind(prefix.lower()), rest.strip()
        tables = self._tables()
        kinds = [kind] if kind is not None else list(TargetKind)
        found = [Target(k, ident) for k in kinds if ident in tables[k]]
        if not found:
            lowered = ident.lower()
            found = [Target(k, i) for k in kinds for i in tables[k] if i.lower() == lowered]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            choices = tuple(str(t) for t in found)
            raise AmbiguousTarget(
                f"{ident!r} names more than one thing: say which, e.g. {' or '.join(choices)}", ident, choices
            )
        raise self._unknown(ident, kind)

    def _unknown(self, ident: str, kind: TargetKind | None) -> UnknownTarget:
        tables = self._tables()
        names = [i for k in (list(TargetKind) if kind is None else [kind]) for i in tables[k]]
        by_lower: dict[str, str] = {}
        for name in names:
            by_lower.setdefault(name.lower(), name)
        lowered = ident.lower()
        starts = sorted(n for n in by_lower if lowered and n.startswith(lowered))
        matches = [*starts, *_close(lowered, by_lower, cutoff=0.5)]
        close = tuple(dict.fromkeys(by_lower[m] for m in matches))[:3]
        what = kind.value if kind is not None else "room, rack, device, service or sensor"
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        return UnknownTarget(f"no {what} is called {ident!r}{hint}", ident, close)


def _close(word: str, names: Iterable[str], cutoff: float) -> list[str]:
    """Names similar to ``word``, best first, ties in name order (difflib's ratio, its fast pre-checks)."""
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(word)
    scored: list[tuple[float, str]] = []
    for name in names:
        matcher.set_seq1(name)
        if matcher.real_quick_ratio() >= cutoff and matcher.quick_ratio() >= cutoff:
            score = matcher.ratio()
            if score >= cutoff:
                scored.append((-score, name))
    return [name for _score, name in sorted(scored)]
