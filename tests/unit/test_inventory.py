"""The inventory graph and impact on the Bontang example and on small sites."""

from __future__ import annotations

from pathlib import Path

import pytest

from siaga.alerts.model import Impact as AlertImpact
from siaga.config import SiteConfig, load_config
from siaga.config.models import Criticality
from siaga.inventory import (
    AmbiguousTarget,
    Inventory,
    Target,
    TargetKind,
    UnknownTarget,
    WrongKind,
    ZoneGap,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "siaga" / "examples" / "bontang.yaml"
R1_SERVERS = {"srv-web-1", "srv-web-2", "srv-db-1", "srv-db-2", "srv-app-1", "srv-app-2"}


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return Inventory.from_config(load_config(EXAMPLE).config)


def site(**sections) -> Inventory:
    data = {"site": {"name": "t"}, **sections}
    return Inventory.from_config(SiteConfig.model_validate(data))


def test_rack_r1_holds_the_six_servers_worth_5_5_billion(inv):
    imp = inv.impact("R1")
    servers = {d.id for d in imp.devices if d.kind == "server"}
    assert servers == R1_SERVERS
    by_kind = {k.kind: (k.count, k.value) for k in imp.by_kind}
    assert by_kind["server"] == (6, 5_500_000_000)
    assert imp.value_at_risk == sum(d.value for d in imp.devices)
    assert imp.room == "ruang-server" and imp.rack == "R1"


def test_impact_of_r1_reaches_simpeg_through_db_utama(inv):
    imp = inv.impact("R1")
    hits = {s.id: s for s in imp.services}
    assert {"portal", "absensi", "e-office", "ppid", "berita", "db-utama"} <= {s.id for s in imp.direct_services}
    simpeg = hits["simpeg"]
    assert not simpeg.direct
    assert simpeg.chain[:2] == ("simpeg", "db-utama")
    assert simpeg.chain[-1] in {"srv-db-1", "srv-db-2"}
    assert imp.worst_criticality is Criticality.vital


def test_services_reached_directly_are_not_listed_again(inv):
    imp = inv.impact("R1")
    ids = [s.id for s in imp.services]
    assert len(ids) == len(set(ids))
    assert next(s for s in imp.services if s.id == "portal").direct  # also depends on db-utama


def test_sensors_covering_r1_and_the_room(inv):
    imp = inv.impact("R1")
    assert {s.id for s in imp.sensors} >= {"leak-r1-ceiling", "leak-r1-floor", "temp-r1-top", "temp-r1-bottom"}
    assert {s.id for s in imp.room_sensors} == {"humidity-room", "temp-room", "smoke-room", "door-room"}
    assert imp.uncovered == ()


def test_rack_without_leak_sensors_shows_its_uncovered_zones(inv):
    imp = inv.impact("R4")
    assert ZoneGap("R4", "ceiling-above", ("leak",)) in imp.uncovered
    assert ZoneGap("R4", "floor", ("leak",)) in imp.uncovered
    assert all(g.zone not in ("inlet-top", "inlet-bottom") for g in imp.uncovered)


def test_room_impact_is_everything_in_it(inv):
    imp = inv.impact("ruang-server")
    assert {d.id for d in imp.devices} == set(inv.devices)
    assert imp.value_at_risk == inv.value("ruang-server") == sum(d.value for d in inv.devices.values())
    assert {s.id for s in imp.services} == set(inv.services)
    assert {g.rack for g in imp.uncovered} == {"R2", "R3", "R4"}


def test_device_impact_is_partial_when_a_service_runs_elsewhere_too(inv):
    imp = inv.impact("srv-db-1")
    db = next(s for s in imp.services if s.id == "db-utama")
    assert db.direct and db.partial and db.devices == ("srv-db-1",)
    assert all(s.partial for s in imp.dependent_services)
    assert [d.id for d in imp.devices] == ["srv-db-1"]
    assert imp.rack == "R1"


def test_device_impact_is_full_when_its_service_has_nowhere_else(inv):
    imp = inv.impact("srv-simpeg")
    simpeg = next(s for s in imp.services if s.id == "simpeg")
    assert simpeg.direct and not simpeg.partial
    absensi = next(s for s in imp.services if s.id == "absensi")
    assert absensi.chain == ("absensi", "simpeg", "srv-simpeg")


def test_service_impact_lists_its_dependents(inv):
    imp = inv.impact("db-utama")
    assert imp.devices == () and imp.value_at_risk == 0
    assert imp.services[0].id == "db-utama"
    assert {s.id for s in imp.dependent_services} == {"portal", "absensi", "e-office", "simpeg", "ppid", "berita"}
    ppid = next(s for s in imp.services if s.id == "ppid")
    assert ppid.chain == ("ppid", "portal", "db-utama")


def test_sensor_impact_is_the_rack_it_watches(inv):
    imp = inv.impact("leak-r1-ceiling")
    assert imp.target == Target(TargetKind.sensor, "leak-r1-ceiling")
    assert imp.watches == Target(TargetKind.rack, "R1")
    assert imp.zone == "ceiling-above"
    assert {d.id for d in imp.devices} >= R1_SERVERS


def test_room_sensor_impact_is_the_room(inv):
    imp = inv.impact("smoke-room")
    assert imp.watches == Target(TargetKind.room, "ruang-server")
    assert len(imp.devices) == len(inv.devices)


def test_device_sensor_watches_the_rack_of_its_device(inv):
    assert inv.impact("ups1-load").watches == Target(TargetKind.rack, "R4")


def test_impact_of_sensor_fills_the_alert_impact(inv):
    got = inv.impact_of_sensor("leak-r1-ceiling")
    assert isinstance(got, AlertImpact)
    assert got.rack == "R1" and got.zone == "ceiling-above" and got.room == "ruang-server"
    assert set(got.devices) >= R1_SERVERS
    assert "simpeg" in got.services
    assert got.value_at_risk == inv.value("R1")
    assert got.worst_criticality == "vital"


def test_impact_of_an_unknown_sensor_is_an_error(inv):
    with pytest.raises(UnknownTarget):
        inv.impact_of_sensor("R1")  # a rack, not a sensor


def test_impact_for_alert_is_lenient(inv):
    assert inv.impact_for_alert("backup", "nightly") == AlertImpact()
    assert inv.impact_for_alert("sensor", "gone") == AlertImpact()
    assert "portal" in inv.impact_for_alert("service", "db-utama").services


def test_unknown_target_suggests_close_ids(inv):
    with pytest.raises(UnknownTarget) as err:
        inv.resolve("srv-web")
    assert "did you mean" in str(err.value)
    assert "srv-web-1" in err.value.choices


def test_unknown_target_without_anything_close(inv):
    with pytest.raises(UnknownTarget) as err:
        inv.resolve("zzzzzz")
    assert err.value.choices == ()
    assert "did you mean" not in str(err.value)


def test_case_is_forgiven_when_it_names_one_thing(inv):
    assert inv.resolve("r1") == Target(TargetKind.rack, "R1")


def test_an_id_used_twice_is_ambiguous_until_qualified():
    inv = site(
        rooms=[{"id": "a", "name": "A"}],
        racks=[{"id": "x", "room": "a"}],
        devices=[{"id": "x", "kind": "server", "rack": "x"}],
    )
    with pytest.raises(AmbiguousTarget) as err:
        inv.resolve("x")
    assert set(err.value.choices) == {"rack:x", "device:x"}
    assert inv.resolve("device:x") == Target(TargetKind.device, "x")
    assert inv.resolve("rack:x") == Target(TargetKind.rack, "x")


def test_contents_of_a_room_and_a_rack(inv):
    room = inv.contents("ruang-server")
    assert [r.id for r in room.racks] == ["R1", "R2", "R3", "R4"]
    assert {d.id for d in room.free_standing} == {"pac-1", "pac-2"}
    rack = inv.contents("R1")
    assert rack.devices[0].id == "srv-web-1"  # top of the rack first
    assert rack.devices[-1].id == "pdu-r1"
    assert rack.value == inv.value("R1")
    assert {s.id for s in rack.services} == {"portal", "absensi", "e-office", "ppid", "berita", "db-utama"}


def test_contents_of_a_device_is_the_wrong_question(inv):
    with pytest.raises(WrongKind):
        inv.contents("srv-web-1")


def test_value_of_a_device(inv):
    assert inv.value("srv-db-1") == 1_100_000_000


def test_free_standing_device_sensor_without_rack():
    inv = site(
        rooms=[{"id": "a", "name": "A"}],
        devices=[{"id": "ac", "kind": "cooling", "room": "a", "value": 10}],
        sensors=[{"id": "ac-air", "kind": "airflow", "device": "ac"}],
    )
    assert inv.place_of_sensor("ac-air").room == "a"
    imp = inv.impact("ac-air")
    assert imp.watches == Target(TargetKind.room, "a")
    assert imp.value_at_risk == 10


def test_unplaced_device_is_listed():
    inv = site(devices=[{"id": "loose", "kind": "other", "value": 5}])
    assert [d.id for d in inv.unplaced_devices()] == ["loose"]
    imp = inv.impact("loose")
    assert imp.room is None and imp.rack is None and imp.value_at_risk == 5


def test_to_dict_is_json_ready(inv):
    import json

    data = json.loads(json.dumps(inv.impact("R1").to_dict()))
    assert data["target"] == {"kind": "rack", "id": "R1", "name": "Rak server aplikasi"}
    assert data["worst_criticality"] == "vital"
    simpeg = next(s for s in data["services"] if s["id"] == "simpeg")
    assert simpeg["direct"] is False and simpeg["chain"][:2] == ["simpeg", "db-utama"]


def test_serve_shares_one_inventory_as_a_service():
    from siaga.config import load_config
    from siaga.inventory.component import component
    from siaga.runtime.context import RuntimeContext
    from siaga.runtime.registry import COMPONENTS

    ctx = RuntimeContext(loaded=load_config(EXAMPLE), engine=None)  # type: ignore[arg-type]
    assert component(ctx) is None
    inv = ctx.services.inventory
    assert isinstance(inv, Inventory)
    assert "leak-r1-ceiling" in inv.sensors
    assert component in COMPONENTS


def test_a_service_alert_carries_the_devices_it_runs_on_and_their_value(inv):
    found = inv.impact_for_alert("service", "portal")
    assert found.devices == ("srv-web-1", "srv-web-2")
    assert found.value_at_risk == sum(inv.devices[d].value for d in found.devices) > 0
    assert "portal" in found.services and found.rack == "R1"
