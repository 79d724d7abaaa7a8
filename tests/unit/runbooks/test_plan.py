"""The runbook planner (pure): shutdown order from the inventory, with why; what it leaves to people."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.config import parse_config
from siaga.config.errors import ConfigError
from siaga.inventory import Inventory
from siaga.runbooks import plan
from siaga.runbooks.plan import shutdown_order

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


def config(devices: list[dict[str, Any]], services: list[dict[str, Any]], hosts: list[str],
           target: str = "R1") -> str:
    import yaml

    return yaml.safe_dump({
        "site": {"name": "Bontang"},
        "rooms": [{"id": "room", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "room"}, {"id": "R2", "room": "room"}],
        "devices": devices,
        "services": services,
        "runbooks": {
            "hosts": [{"device": d, "address": f"10.0.0.{i + 1}", "key_file": "k", "known_hosts_file": "kh"}
                      for i, d in enumerate(hosts)],
            "books": [{"id": "off", "steps": [{"kind": "shutdown", "target": target}]}],
        },
    })


def order(devices: list[dict[str, Any]], services: list[dict[str, Any]], hosts: list[str],
          target: str = "R1") -> list[tuple[str, str]]:
    cfg = parse_config(config(devices, services, hosts, target))
    p = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW)
    return [(a.subject, a.reason.code) for a in p.actions]


def dev(ident: str, kind: str = "server", rack: str = "R1") -> dict[str, Any]:
    return {"id": ident, "kind": kind, "rack": rack}


def svc(ident: str, on: str, needs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": ident, "name": ident, "runs_on": [on], "depends_on": list(needs)}


CASES = [
    # devices, services, hosts -> (device, why) in order
    ([dev("a-db"), dev("z-web")], [svc("db", "a-db"), svc("web", "z-web", ("db",))], ["a-db", "z-web"],
     [("z-web", "first"), ("a-db", "after")]),
    ([dev("san", "storage"), dev("db"), dev("app")],
     [svc("pg", "db"), svc("portal", "app", ("pg",))], ["san", "db", "app"],
     [("app", "first"), ("db", "after"), ("san", "storage")]),
    ([dev("web"), dev("db"), dev("sw", "switch")], [svc("pg", "db"), svc("portal", "web", ("pg",))], ["web", "db"],
     [("web", "first"), ("db", "after")]),
    ([dev("web"), dev("db")], [svc("pg", "db"), svc("portal", "web", ("pg",))], ["db"],  # web not reachable
     [("db", "first")]),
    ([dev("web"), dev("db", rack="R2")], [svc("pg", "db"), svc("portal", "web", ("pg",))], ["web", "db"],
     [("web", "first")]),  # R2 is not the target
    ([dev("idle")], [], ["idle"], [("idle", "idle")]),
]


@pytest.mark.parametrize(("devices", "services", "hosts", "expected"), CASES)
def test_shutdown_follows_the_inventory(devices, services, hosts, expected):
    assert order(devices, services, hosts) == expected


def test_devices_left_on_or_to_people_are_said_with_why():
    cfg = parse_config(config([dev("web"), dev("sw", "switch"), dev("ups", "ups")], [], []))
    p = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW)
    assert p.actions == ()
    assert {x.device: x.reason.code for x in p.left} == {"web": "unreachable", "sw": "kept_on", "ups": "kept_on"}


def test_a_room_target_takes_every_rack():
    got = order([dev("web"), dev("db", rack="R2")], [svc("pg", "db"), svc("portal", "web", ("pg",))],
                ["web", "db"], target="room")
    assert got == [("web", "first"), ("db", "after")]


def test_config_check_names_bad_references_with_their_line():
    text = config([dev("web")], [], ["web", "ghost"], target="R9")
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    problems = {p.field: p for p in exc.value.problems}
    assert "unknown device 'ghost'" in problems["runbooks.hosts[1].device"].message
    assert "unknown room, rack or device 'R9'" in problems["runbooks.books[0].steps[0].target"].message
    assert problems["runbooks.books[0].steps[0].target"].line > 1


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_every_device_stops_before_the_devices_its_services_need(data):
    n = data.draw(st.integers(1, 7))
    names = [f"d{i}" for i in range(n)]
    # an acyclic dependency: service s{i} may need services of lower index only
    services = []
    for i, name in enumerate(names):
        needs = data.draw(st.lists(st.integers(0, max(i - 1, 0)), max_size=3, unique=True)) if i else []
        services.append(svc(f"s{i}", name, tuple(f"s{j}" for j in needs if j != i)))
    cfg = parse_config(config([dev(x) for x in names], services, names))
    inv = Inventory.from_config(cfg)
    got = [d.id for d, _ in shutdown_order(inv, list(cfg.devices))]
    assert sorted(got) == sorted(names)
    position = {d: k for k, d in enumerate(got)}
    for s in services:
        for need in s["depends_on"]:
            assert position[s["runs_on"][0]] < position[f"d{need[1:]}"]
