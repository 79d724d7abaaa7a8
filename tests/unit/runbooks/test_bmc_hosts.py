"""How a host is stopped (ssh, redfish, ipmi) and how siaga knows it is off (port, ping, power): the config
refuses a host it could not stop, the plan says the method and why, ipmitool's command is built as data."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from siaga.config import parse_config
from siaga.config.errors import ConfigError
from siaga.config.runbooks import Bmc, Host
from siaga.config.secret_refs import missing_secrets
from siaga.i18n import set_language
from siaga.inventory import Inventory
from siaga.runbooks import plan
from siaga.runbooks.messages import plan_json, plan_lines
from siaga.runbooks.steps import StepContext, ipmi
from siaga.runbooks.steps.bmc import BmcError
from siaga.runbooks.steps.power import pings

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
REDFISH = {"protocol": "redfish", "address": "https://10.9.0.11", "user": "siaga", "password_file": "bmc.pass"}
IPMI = {"protocol": "ipmi", "address": "10.9.0.21", "user": "siaga", "password_file": "ipmi.pass"}
SSH = {"address": "10.0.0.11", "key_file": "k", "known_hosts_file": "kh"}


@pytest.fixture(autouse=True)
def _english():
    set_language("en")
    yield
    set_language(None)


def site(hosts: list[dict[str, Any]], steps: list[dict[str, Any]] | None = None) -> str:
    return yaml.safe_dump({
        "site": {"name": "Bontang"},
        "rooms": [{"id": "room", "name": "Ruang Server"}],
        "racks": [{"id": "R1", "room": "room"}],
        "devices": [{"id": h["device"], "kind": "server", "rack": "R1"} for h in hosts],
        "runbooks": {"hosts": hosts,
                     "books": [{"id": "off", "steps": steps or [{"kind": "shutdown", "target": "R1"}]}]},
    })


@pytest.mark.parametrize(("entry", "via", "off"), [
    ({**SSH}, "ssh", "port"),
    ({"bmc": REDFISH}, "redfish", "power"),
    ({"bmc": IPMI}, "ipmi", "power"),
    ({**SSH, "bmc": IPMI}, "ssh", "power"),           # a key: SSH; a BMC: its power state says off
    ({**SSH, "bmc": REDFISH, "via": "redfish", "off_check": "ping"}, "redfish", "ping"),
])
def test_the_method_and_the_off_check_default_sensibly(entry, via, off):
    host = Host.model_validate({"device": "srv", **entry})
    assert (host.shutdown_via, host.off_by) == (via, off)


@pytest.mark.parametrize(("entry", "words"), [
    ({}, "key_file and known_hosts_file (SSH) or bmc"),
    ({"bmc": IPMI, "via": "redfish"}, "via: redfish needs a bmc with protocol: redfish"),
    ({**SSH, "off_check": "power"}, "off_check: power needs a bmc"),
    ({"bmc": REDFISH, "off_check": "ping"}, "off_check: ping needs the host's address"),
    ({"bmc": {**REDFISH, "address": "10.9.0.11"}}, "a Redfish BMC's address is its URL"),
    ({"bmc": {**IPMI, "address": "https://10.9.0.21"}}, "an IPMI BMC's address is a name or IP address"),
    ({"bmc": {k: v for k, v in IPMI.items() if k != "password_file"}}, "password_file (a file holding it)"),
])
def test_a_host_siaga_could_not_stop_is_refused_with_why(entry, words):
    with pytest.raises(ConfigError) as caught:
        parse_config(site([{"device": "srv", **entry}]))
    assert words in str(caught.value)


def test_config_check_names_a_missing_bmc_password_file(tmp_path: Path):
    cfg = parse_config(site([{"device": "srv", "bmc": REDFISH}]))
    found = missing_secrets(cfg, tmp_path, {})
    assert [(loc, msg.english().split(" ")[0]) for loc, msg in found] == [
        (("runbooks", "hosts", 0, "bmc", "password_file"), "file")]


def test_the_plan_says_the_method_and_why():
    cfg = parse_config(site([{"device": "srv-web", "bmc": {**REDFISH, "system": "1"}},
                             {"device": "srv-db", **SSH, "bmc": IPMI, "via": "ipmi", "off_check": "ping"}]))
    p = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW)
    text = "\n".join(plan_lines(p))
    assert "stop srv-web: Redfish GracefulShutdown at https://10.9.0.11 (system 1), then wait until its BMC " \
           "reports the power off" in text
    assert "how: Redfish, as its host entry has a BMC and no SSH key; off when its BMC reports the power off" in text
    assert "stop srv-db: IPMI soft power off at 10.9.0.21:623, then wait until 10.0.0.11 no longer answers ping" \
        in text
    assert "how: IPMI, as its host entry says (via: ipmi); off when 10.0.0.11 no longer answers ping, as its " \
           "host entry says (off_check: ping)" in text
    actions = {a["subject"]: a for a in plan_json(p)["actions"]}
    assert (actions["srv-db"]["via"], actions["srv-db"]["off_check"]) == ("ipmi", "ping")
    set_language("id")
    assert "how:" not in "\n".join(plan_lines(p))  # in the reader's language


def test_ipmitool_gets_the_password_by_file_never_on_its_command_line():
    bmc = Bmc.model_validate({**IPMI, "port": 6230, "cipher_suite": 3})
    args = ipmi.ipmitool_args(bmc, ["chassis", "power", "soft"], Path("/etc/siaga"))
    assert args == ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "10.9.0.21", "-p", "6230", "-U", "siaga",
                    "-N", "1", "-R", "2", "-f", "/etc/siaga/ipmi.pass", "chassis", "power", "soft"]
    by_env = Bmc.model_validate({**{k: v for k, v in IPMI.items() if k != "password_file"},
                                 "password": "${BMC_PASSWORD}"})
    assert "-E" in ipmi.ipmitool_args(by_env, ["chassis", "power", "status"])


def test_parse_power():
    assert ipmi.parse_power("Chassis Power is on\n") == "on"
    assert ipmi.parse_power("Chassis Power is off") == "off"
    assert ipmi.parse_power("") == "unknown"


def test_a_missing_ipmitool_says_how_to_install_it(tmp_path: Path):
    (tmp_path / "ipmi.pass").write_text("x\n")
    bmc = Bmc.model_validate(IPMI)
    ctx = StepContext(base_dir=tmp_path, ipmitool=str(tmp_path / "no-ipmitool"))
    with pytest.raises(BmcError) as caught:
        asyncio.run(ipmi.power_state(bmc, ctx))
    assert "apt-get install ipmitool" in str(caught.value)


def test_a_missing_ping_says_how_to_install_it(tmp_path: Path):
    with pytest.raises(BmcError) as caught:
        asyncio.run(pings("127.0.0.1", StepContext(ping=str(tmp_path / "no-ping"))))
    assert "apt-get install iputils-ping" in str(caught.value)


def test_a_power_step_waits_by_the_hosts_off_check_and_names_an_unknown_device():
    hosts = [{"device": "srv", "bmc": IPMI}]
    cfg = parse_config(site(hosts, [{"kind": "power", "device": "srv"}]))
    p = plan(cfg.runbooks.books[0], Inventory.from_config(cfg), cfg.runbooks, NOW)
    assert [(a.kind, a.subject, a.off_check, a.until) for a in p.actions] == [("power", "srv", "power", "off")]
    assert "wait until srv is off, by its BMC's power state" in "\n".join(plan_lines(p))
    with pytest.raises(ConfigError) as caught:
        parse_config(site(hosts, [{"kind": "power", "device": "nope"}]))
    assert "device 'nope' is not in runbooks.hosts" in str(caught.value)
