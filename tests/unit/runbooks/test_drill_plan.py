"""The drill form of a runbook (pure): what a recovery drill runs instead, what it skips and why, and that a dns
step without a drill name refuses the whole drill."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml

from siaga.config import parse_config
from siaga.inventory import Inventory
from siaga.runbooks import plan
from siaga.runbooks.drill import DrillPlan, DrillRefused, drill_plan

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


def drilled(steps: list[dict[str, object]]) -> DrillPlan:
    cfg = parse_config(yaml.safe_dump({
        "site": {"name": "Colo"},
        "rooms": [{"id": "room", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "room"}],
        "devices": [{"id": "srv-web", "kind": "server", "rack": "R1", "u": 1}],
        "runbooks": {
            "hosts": [{"device": "srv-web", "address": "10.0.0.1", "key_file": "k", "known_hosts_file": "kh"}],
            "dns": [{"id": "ns", "address": "10.0.0.53", "zone": "bontangkota.go.id.", "tsig_name": "k",
                     "tsig_secret_file": "t"},
                    {"id": "ns-drill", "address": "10.0.0.54", "zone": "drill.bontangkota.go.id.", "tsig_name": "k",
                     "tsig_secret_file": "t"}],
            "books": [{"id": "failover", "steps": steps}],
        },
    }))
    book = cfg.runbooks.book("failover")
    assert book is not None
    return drill_plan(plan(book, Inventory.from_config(cfg), cfg.runbooks, NOW), cfg.runbooks)


def test_production_steps_are_skipped_and_the_rest_run_in_their_drill_form() -> None:
    d = drilled([
        {"kind": "shutdown", "target": "R1"},
        {"kind": "ssh", "device": "srv-web", "command": "systemctl stop php-fpm"},
        {"kind": "ssh", "device": "srv-web", "command": "systemctl stop nginx", "drill_command": "test -d /srv"},
        {"kind": "wait", "address": "10.0.0.80", "port": 443, "until": "open"},
        {"kind": "dns", "server": "ns", "name": "portal", "address": "10.0.0.80", "drill_name": "portal",
         "drill_server": "ns-drill"},
    ])
    actions = d.plan.actions
    assert [(a.number, a.kind, a.subject) for a in actions] == [
        (1, "ssh", "srv-web"), (2, "wait", "10.0.0.80:443"), (3, "dns", "portal")]
    assert actions[0].command == "test -d /srv"  # never the production command
    assert actions[2].dns is not None and actions[2].dns.zone == "drill.bontangkota.go.id."
    assert [(s.action.kind, s.reason.code) for s in d.skipped] == [
        ("shutdown", "drill_skip"), ("ssh", "drill_no_command")]


def test_a_dns_step_without_a_drill_name_refuses_the_drill() -> None:
    with pytest.raises(DrillRefused, match=r"step 2 \(dns portal\).*drill_name"):
        drilled([{"kind": "wait", "address": "10.0.0.80", "port": 443},
                 {"kind": "dns", "server": "ns", "name": "portal", "address": "10.0.0.80"}])


def test_a_runbook_with_nothing_but_production_steps_has_nothing_to_drill() -> None:
    with pytest.raises(DrillRefused, match="nothing to drill"):
        drilled([{"kind": "shutdown", "target": "R1"}])


def test_a_second_name_stays_on_the_step_s_own_server() -> None:
    d = drilled([{"kind": "dns", "server": "ns", "name": "portal", "address": "10.0.0.80",
                  "drill_name": "portal-drill"}])
    (action,) = d.plan.actions
    assert action.dns is not None and (action.name, action.dns.id) == ("portal-drill", "ns")

