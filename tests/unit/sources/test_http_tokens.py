"""HTTP push tokens: kept hashed, found by constant-time comparison, one principal per sensor or gateway."""

from __future__ import annotations

import hashlib
from pathlib import Path

from siaga.config.loader import parse_config
from siaga.sources.http.push import PushEndpoint
from siaga.sources.http.tokens import TokenTable
from siaga.sources.memory import MemorySink


def cfg(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "gw.token").write_text("gateway-token\n")
    digest = hashlib.sha256(b"sensor-token").hexdigest()
    return parse_config(f"""
site: {{name: T}}
rooms: [{{id: room, name: R}}]
http_push: {{gateways: [{{id: gw, token_file: gw.token}}, {{id: lost, token_file: missing.token}}]}}
sensors:
  - {{id: a, kind: temperature, room: room, source: {{type: http, gateway: gw}}}}
  - {{id: b, kind: temperature, room: room, source: {{type: http, gateway: gw}}}}
  - {{id: c, kind: temperature, room: room, source: {{type: http, token_sha256: {digest}}}}}
""")


def test_tokens_are_kept_as_digests_and_name_their_sensors(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    table, problems = TokenTable.from_config(c.http_push, c.sensors, tmp_path)
    assert problems and "gateway lost" in problems[0] and "missing.token" in problems[0]
    gw = table.find("gateway-token")
    assert gw is not None and gw.name == "gateway:gw" and gw.sensors == {"a", "b"}
    sensor = table.find("sensor-token")
    assert sensor is not None and sensor.sensors == {"c"}
    assert table.find("gateway-token ") is None and table.find("") is None
    assert all(b"gateway-token" not in p.digest for p in table.principals)


def test_refused_items_are_counted_through_the_sink(tmp_path: Path) -> None:
    c = cfg(tmp_path)
    sink = MemorySink()
    ep = PushEndpoint.from_config(c.http_push, c.sensors, sink, tmp_path)
    principal = ep.authenticate("Bearer gateway-token")
    status, body = ep.handle(principal, b'[{"sensor": "a", "value": 1}, {"sensor": "c", "value": 2}, 7]')
    assert status == 207 and body["accepted"] == 1
    assert sink.rejects == {"forbidden": 1, "bad_item": 1}
