"""SNMP polling against a real agent (snmpsim serving an RFC 1628 UPS-MIB record), into the real ingest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from siaga.config.loader import parse_config
from siaga.sources.ingest import Ingest
from siaga.sources.mqtt.testbroker import free_port
from siaga.sources.snmp.poller import DevicePoller, points_by_device

pytestmark = pytest.mark.integration

SENSORS = """
sensors:
  - {id: ups-on-battery, kind: ups_on_battery, room: room, source: {type: snmp, device: ups, metric: on_battery}}
  - {id: ups-charge, kind: ups_battery_charge, room: room, source: {type: snmp, device: ups, metric: battery_charge}}
  - {id: ups-runtime, kind: ups_runtime, room: room, source: {type: snmp, device: ups, metric: runtime}}
  - {id: ups-input, kind: voltage, room: room, source: {type: snmp, device: ups, metric: input_voltage}}
  - {id: ups-load, kind: ups_load, room: room, source: {type: snmp, device: ups, metric: load}}
  - {id: probe-temp, kind: temperature, room: room,
     source: {type: snmp, device: ups, oid: .1.3.6.1.4.1.99999.1.1.0, scale: 0.1}}
"""


def poller(tmp_path: Path, device: str, extra_sensors: str = "") -> tuple[DevicePoller, Ingest]:
    (tmp_path / "community").write_text("ups-card\n")
    (tmp_path / "auth").write_text("auth-pass-123\n")
    (tmp_path / "priv").write_text("priv-pass-456\n")
    cfg = parse_config(
        "site: {name: T}\nrooms: [{id: room, name: R}]\nsnmp:\n  devices:\n    - " + device + SENSORS + extra_sensors
    )
    assert cfg.snmp is not None
    ingest = Ingest(cfg)
    points = points_by_device(cfg.snmp, cfg.sensors)
    dev = cfg.snmp.devices[0]
    return DevicePoller(dev, points[dev.id], ingest, base_dir=tmp_path), ingest


def values(ingest: Ingest) -> dict[str, float]:
    return {s: v for s, (_ts, v, _rx) in ingest.last.items()}


EXPECTED = {
    "ups-on-battery": 1.0,  # upsOutputSource battery(5)
    "ups-charge": 87.0,
    "ups-runtime": 42 * 60.0,  # minutes to seconds
    "ups-input": 221.0,
    "ups-load": 37.0,
    "probe-temp": pytest.approx(24.5),
}


async def test_v2c_ups_mib_profile_and_a_mapped_oid(snmp_agent: Any, tmp_path: Path) -> None:
    p, ingest = poller(tmp_path, f"{{id: ups, host: 127.0.0.1, port: {snmp_agent.port}, community_file: community,"
                                 " profile: ups-mib, timeout_s: 2}")
    assert await p.poll_once() == 6
    assert values(ingest) == EXPECTED
    assert not ingest.counts.keys() - {"accepted"}


async def test_v3_auth_priv_with_a_context(snmp_agent: Any, tmp_path: Path) -> None:
    dev = (f"{{id: ups, host: 127.0.0.1, port: {snmp_agent.port}, version: v3, profile: ups-mib, timeout_s: 2,"
           " v3: {user: siaga, auth_protocol: sha, auth_password_file: auth, priv_protocol: aes,"
           " priv_password_file: priv, context: ups-card}}")
    p, ingest = poller(tmp_path, dev)
    assert await p.poll_once() == 6
    assert values(ingest) == EXPECTED


async def test_a_wrong_community_leaves_the_sensors_stale_not_zero(snmp_agent: Any, tmp_path: Path) -> None:
    p, ingest = poller(tmp_path, f"{{id: ups, host: 127.0.0.1, port: {snmp_agent.port}, profile: ups-mib,"
                                 " timeout_s: 0.3, retries: 0}")  # community `public`: not served
    assert await p.poll_once() == 0
    assert ingest.last == {}  # no reading at all, so the stale rule can speak
    assert ingest.counts["snmp_timeout"] == 1 and p.failures == 1


async def test_an_agent_that_is_not_there_is_counted_never_raised(tmp_path: Path) -> None:
    p, ingest = poller(tmp_path, f"{{id: ups, host: 127.0.0.1, port: {free_port()}, profile: ups-mib,"
                                 " timeout_s: 0.2, retries: 0}")
    assert await p.poll_once() == 0
    assert ingest.last == {} and ingest.counts["snmp_timeout"] == 1


async def test_an_oid_the_agent_lacks_is_counted_and_the_rest_arrive(snmp_agent: Any, tmp_path: Path) -> None:
    extra = ("  - {id: missing, kind: temperature, room: room,"
             " source: {type: snmp, device: ups, oid: 1.3.6.1.4.1.99999.9.9.0}}\n")
    p, ingest = poller(tmp_path, f"{{id: ups, host: 127.0.0.1, port: {snmp_agent.port}, community_file: community,"
                                 " profile: ups-mib, timeout_s: 2}", extra)
    assert await p.poll_once() == 6
    assert "missing" not in ingest.last
    assert ingest.counts["snmp_no_such_object"] == 1
