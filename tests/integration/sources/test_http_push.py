"""HTTP push through a real uvicorn on loopback, into the real ingest path."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from siaga.config.loader import parse_config
from siaga.sources.http.push import PATH, PushEndpoint, make_router
from siaga.sources.ingest import Ingest
from siaga.sources.mqtt.testbroker import free_port
from siaga.web.errors import install_error_handlers

pytestmark = pytest.mark.integration

GW_TOKEN = "gw-secret-token-r3r4"
SENSOR_TOKEN = "sensor-secret-r4-top"

CONFIG = f"""
site: {{name: Test}}
rooms: [{{id: room, name: Room}}]
racks: [{{id: R3, room: room}}, {{id: R4, room: room}}]
http_push:
  max_body_bytes: 4096
  max_items: 20
  gateways: [{{id: gw-r3r4, token_file: gw.token}}]
sensors:
  - {{id: temp-r3-top, kind: temperature, rack: R3, source: {{type: http, gateway: gw-r3r4}}}}
  - {{id: temp-r3-bottom, kind: temperature, rack: R3, source: {{type: http, gateway: gw-r3r4}}}}
  - {{id: temp-r4-top, kind: temperature, rack: R4,
     source: {{type: http, token_sha256: {hashlib.sha256(SENSOR_TOKEN.encode()).hexdigest()}, fahrenheit: true}}}}
"""


class Server:
    def __init__(self, ingest: Ingest, base: str) -> None:
        self.ingest = ingest
        self.base = base


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "gw.token").write_text(GW_TOKEN + "\n")
    cfg = parse_config(CONFIG)
    ingest = Ingest(cfg)
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(make_router(PushEndpoint.from_config(cfg.http_push, cfg.sensors, ingest, tmp_path)))
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(ingest, f"http://127.0.0.1:{port}")
    finally:
        uv.should_exit = True
        thread.join(10)


def post(server: Server, body: object = None, *, token: str | None = GW_TOKEN, content: bytes | None = None,
         headers: dict[str, str] | None = None) -> httpx.Response:
    h = dict(headers or {})
    if token is not None:
        h["Authorization"] = f"Bearer {token}"
    if content is not None:
        return httpx.post(server.base + PATH, content=content, headers=h)
    return httpx.post(server.base + PATH, json=body, headers=h)


def test_a_gateway_batch_is_accepted_whole(server: Server) -> None:
    r = post(server, {"readings": [
        {"sensor": "temp-r3-top", "value": 24.5, "ts": time.time() - 5},
        {"sensor": "temp-r3-bottom", "value": "22.0"},
    ]})
    assert r.status_code == 200
    assert r.json()["accepted"] == 2 and [x["status"] for x in r.json()["results"]] == ["accepted", "accepted"]
    assert server.ingest.last["temp-r3-top"][1] == 24.5


def test_partial_acceptance_reports_each_refused_item_with_its_reason(server: Server) -> None:
    r = post(server, [
        {"sensor": "temp-r3-top", "value": 25.0},
        {"sensor": "temp-r3-top", "value": 900},  # not a room on fire: a broken probe
        {"sensor": "temp-r4-top", "value": 20},  # another sensor's
        {"sensor": "temp-r3-bottom", "value": 21, "ts": "soon"},
        {"sensor": "nope", "value": 1},
        {"value": 1},
        {"sensor": "temp-r3-bottom", "value": "NaN"},
    ])
    assert r.status_code == 207
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == 6
    assert [x.get("reason") for x in body["results"]] == [
        None, "out_of_range", "forbidden", "bad_timestamp", "forbidden", "bad_item", "non_finite",
    ]
    assert server.ingest.counts["out_of_range"] == 1 and server.ingest.counts["forbidden"] == 2


def test_a_sensor_token_pushes_its_own_sensor_without_naming_it(server: Server) -> None:
    r = post(server, {"value": 77.0}, token=SENSOR_TOKEN)  # °F, converted at the edge
    assert r.status_code == 200, r.text
    assert server.ingest.last["temp-r4-top"][1] == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("token", "headers"), [(None, None), ("wrong-token", None), (None, {"Authorization": "Basic eDp5"})]
)
def test_no_or_unknown_token_is_401_in_the_error_shape(
    server: Server, token: str | None, headers: dict[str, str] | None
) -> None:
    r = post(server, {"sensor": "temp-r3-top", "value": 1}, token=token, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["status"] == 401 and r.json()["error"]["message"]
    assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_token_pushing_only_others_sensors_is_403(server: Server) -> None:
    r = post(server, {"sensor": "temp-r3-top", "value": 20}, token=SENSOR_TOKEN)
    assert r.status_code == 403 and r.json()["error"]["status"] == 403


def test_bodies_over_the_limit_are_413_announced_or_streamed(server: Server) -> None:
    big = b"[" + b",".join(b'{"sensor": "temp-r3-top", "value": 20}' for _ in range(200)) + b"]"
    r = post(server, content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["status"] == 413

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 512):
            yield big[i : i + 512]

    r = httpx.post(server.base + PATH, content=chunks(), headers={"Authorization": f"Bearer {GW_TOKEN}"})
    assert r.status_code == 413
    many = [{"sensor": "temp-r3-top", "value": 20}] * 21
    assert post(server, many).status_code == 413


@pytest.mark.parametrize("content", [b"{not json", b'"a string"', b"[]", b'{"readings": 3}',
                                     b"[" * 2000 + b"]" * 2000, b'{"readings":' * 300 + b"1" + b"}" * 300])
def test_bodies_that_are_not_readings_are_422(server: Server, content: bytes) -> None:
    r = post(server, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"]["status"] == 422


async def test_the_answer_waits_until_the_readings_are_stored(tmp_path: Path) -> None:
    import asyncio

    from sqlalchemy import func, select

    from siaga.readings.tables import readings
    from siaga.readings.writer import ReadingWriter
    from siaga.store import create_engine_for, sqlite_url, upgrade

    (tmp_path / "gw.token").write_text(GW_TOKEN + "\n")
    cfg = parse_config(CONFIG)
    engine = create_engine_for(sqlite_url(tmp_path / "s.db"))
    upgrade(engine)
    ingest = Ingest(cfg)
    writer = ReadingWriter(ingest, engine, flush_interval=60.0)  # no periodic flush during the test
    app = FastAPI()
    install_error_handlers(app)
    endpoint = PushEndpoint.from_config(cfg.http_push, cfg.sensors, ingest, tmp_path, writer.when_durable)
    app.include_router(make_router(endpoint))
    stop = asyncio.Event()
    flushing = asyncio.create_task(writer.serve(stop))
    await asyncio.sleep(0)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga") as client:
            r = await client.post(PATH, headers={"Authorization": f"Bearer {GW_TOKEN}"},
                                  json={"readings": [{"sensor": "temp-r3-top", "value": 24.1}]})
        assert r.status_code == 200, r.text
        with engine.connect() as conn:  # stored before the answer, not at the next flush a minute later
            assert conn.execute(select(func.count()).select_from(readings)).scalar_one() == 1
    finally:
        stop.set()
        await flushing
        engine.dispose()
