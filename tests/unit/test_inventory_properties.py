"""Properties of the inventory on generated sites."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.config import SiteConfig
from siaga.inventory import Inventory, TargetKind

CRIT = ["low", "medium", "high", "vital"]


@st.composite
def sites(draw: st.DrawFn) -> SiteConfig:
    n_rooms = draw(st.integers(1, 3))
    rooms = [{"id": f"room{i}", "name": f"Room {i}"} for i in range(n_rooms)]
    racks = [
        {"id": f"rack{i}", "room": f"room{draw(st.integers(0, n_rooms - 1))}"}
        for i in range(draw(st.integers(0, 4)))
    ]
    devices = []
    for i in range(draw(st.integers(0, 10))):
        dev = {"id": f"dev{i}", "kind": "server", "value": draw(st.integers(0, 2 * 10**9))}
        if racks and draw(st.booleans()):
            dev["rack"] = draw(st.sampled_from(racks))["id"]
        else:
            dev["room"] = f"room{draw(st.integers(0, n_rooms - 1))}"
        devices.append(dev)
    services = []
    for i in range(draw(st.integers(0, 8))):
        runs_on = draw(st.lists(st.sampled_from([d["id"] for d in devices]), max_size=3)) if devices else []
        depends_on = draw(st.lists(st.integers(0, i - 1), max_size=3, unique=True)) if i else []
        services.append({
            "id": f"svc{i}", "name": f"Service {i}", "criticality": draw(st.sampled_from(CRIT)),
            "runs_on": sorted(set(runs_on)), "depends_on": [f"svc{j}" for j in depends_on],
        })
    return SiteConfig.model_validate(
        {"site": {"name": "gen"}, "rooms": rooms, "racks": racks, "devices": devices, "services": services}
    )


@settings(max_examples=60, deadline=None)
@given(sites())
def test_room_value_is_its_racks_plus_free_standing_devices(cfg):
    inv = Inventory.from_config(cfg)
    for room in inv.rooms:
        racks = sum(inv.value(r.id) for r in inv.racks_in_room(room))
        free = sum(d.value for d in inv.free_standing(room))
        assert inv.value(room) == racks + free
        assert inv.impact(room).value_at_risk == inv.value(room)


@settings(max_examples=60, deadline=None)
@given(sites())
def test_every_device_is_counted_once(cfg):
    inv = Inventory.from_config(cfg)
    placed = [d.id for room in inv.rooms for d in inv.devices_in_room(room)]
    placed += [d.id for d in inv.unplaced_devices()]
    assert sorted(placed) == sorted(inv.devices)


def _reachable(cfg: SiteConfig, devices: set[str]) -> set[str]:
    """Brute force: the services on ``devices`` and everything that needs them, transitively."""
    hit = {s.id for s in cfg.services if devices & set(s.runs_on)}
    changed = True
    while changed:
        changed = False
        for s in cfg.services:
            if s.id not in hit and hit & set(s.depends_on):
                hit.add(s.id)
                changed = True
    return hit


@settings(max_examples=80, deadline=None)
@given(sites())
def test_services_hit_are_exactly_those_reachable_once_each(cfg):
    inv = Inventory.from_config(cfg)
    for target in [*inv.rooms, *inv.racks, *inv.devices]:
        imp = inv.impact(target)
        ids = [s.id for s in imp.services]
        assert len(ids) == len(set(ids)), "a service is counted twice"
        assert set(ids) == _reachable(cfg, {d.id for d in imp.devices})
        for svc in imp.services:
            assert svc.chain[0] == svc.id
            assert svc.chain[-1] in {d.id for d in imp.devices}
            if svc.direct:
                assert len(svc.chain) == 2
            else:
                # each step of the chain is a real depends_on edge
                for dependent, needed in zip(svc.chain, svc.chain[1:-1], strict=False):
                    assert needed in inv.services[dependent].depends_on
        if imp.services:
            assert imp.worst_criticality == max((s.criticality for s in imp.services), key=lambda c: c.rank)
        else:
            assert imp.worst_criticality is None


@settings(max_examples=40, deadline=None)
@given(sites())
def test_every_id_resolves_to_itself(cfg):
    inv = Inventory.from_config(cfg)
    for target in inv.all_targets():
        assert inv.resolve(f"{target.kind.value}:{target.id}") == target
        if target.kind is not TargetKind.sensor:
            assert inv.impact(target).target == target


@st.composite
def sites_with_sensors(draw: st.DrawFn) -> SiteConfig:
    cfg = draw(sites())
    sensors = []
    kinds = ["temperature", "leak", "humidity", "smoke"]
    zones = [None, "inlet-top", "inlet-bottom", "exhaust", "floor", "ceiling-above"]
    for i in range(draw(st.integers(0, 12))):
        sensor: dict[str, object] = {"id": f"sen{i}", "kind": draw(st.sampled_from(kinds))}
        where = draw(st.sampled_from(["room", "rack", "device"]))
        if where == "rack" and cfg.racks:
            sensor["rack"] = draw(st.sampled_from(cfg.racks)).id
            sensor["zone"] = draw(st.sampled_from(zones))
        elif where == "device" and cfg.devices:
            sensor["device"] = draw(st.sampled_from(cfg.devices)).id
        else:
            sensor["room"] = draw(st.sampled_from(cfg.rooms)).id
        sensors.append(sensor)
    data = cfg.model_dump(mode="json", exclude_defaults=True)
    data["sensors"] = sensors
    return SiteConfig.model_validate(data)


@settings(max_examples=40, deadline=None)
@given(sites_with_sensors())
def test_a_zone_is_uncovered_exactly_when_no_sensor_of_its_kind_hangs_there(cfg):
    from siaga.kinds import EXPECTED_RACK_COVERAGE

    inv = Inventory.from_config(cfg)
    for rack in inv.racks:
        gaps = {g.zone for g in inv.impact(rack).uncovered}
        for zone, kinds in EXPECTED_RACK_COVERAGE.items():
            covered = any(s.rack == rack and s.zone == zone and s.kind in kinds for s in cfg.sensors)
            assert (zone in gaps) is not covered


@settings(max_examples=40, deadline=None)
@given(sites_with_sensors())
def test_a_sensor_puts_at_stake_what_its_place_does(cfg):
    inv = Inventory.from_config(cfg)
    for sensor in cfg.sensors:
        imp = inv.impact(sensor.id)
        assert imp.watches is not None
        place = inv.impact(imp.watches)
        assert [d.id for d in imp.devices] == [d.id for d in place.devices]
        assert [s.id for s in imp.services] == [s.id for s in place.services]
        assert sensor.id in {s.id for s in imp.sensors} | {s.id for s in imp.room_sensors}
        alert = inv.impact_of_sensor(sensor.id)
        assert alert.value_at_risk == place.value_at_risk
        assert alert.devices == tuple(d.id for d in place.devices)
