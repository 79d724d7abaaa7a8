"""The public status page tells what is known from the start: checks run at once, the snapshot follows
the live states, and services without data are never summed up as "all operational"."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from siaga.checks.base import CheckResult
from siaga.checks.component import component
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext
from siaga.web.app import create_app

pytestmark = pytest.mark.integration

ALL_UP = ("Semua layanan beroperasi", "All services are operational")


def site(base: str, tmp_path: Path) -> LoadedConfig:
    # 60 s intervals: with the old spread of first runs a service could stay unknown for a minute
    text = f"""
site: {{name: Diskominfo Kota Bontang, timezone: Asia/Makassar, language: id}}
services:
  - {{id: portal, name: Portal bontangkota.go.id, criticality: vital}}
  - {{id: berita, name: Berita kota}}
  - {{id: absensi, name: Absensi pegawai}}
checks:
  - {{service: portal, type: http, url: "{base}/down", interval_s: 60, retry_interval_s: 0.2, timeout_s: 2}}
  - {{service: berita, type: http, url: "{base}/healthy", interval_s: 60, keyword: Bontang}}
  - {{service: absensi, type: http, url: "{base}/slow", interval_s: 60, timeout_s: 5}}
"""
    return LoadedConfig(parse_config(text, "siaga.yaml"), tmp_path / "siaga.yaml")


async def test_the_status_page_is_right_within_15_s_of_start_and_never_all_operational_in_the_dark(
    http_peer, db_engine: Engine, tmp_path: Path
) -> None:
    rt = RuntimeContext(loaded=site(http_peer.base, tmp_path), engine=db_engine)
    checks = component(rt)
    assert checks is not None
    app = create_app(rt)
    stop = asyncio.Event()
    started = time.monotonic()
    task = asyncio.create_task(checks.run(rt, stop))
    seen: list[tuple[str, dict[str, int]]] = []
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga") as client:
            final = None
            while time.monotonic() - started < 15:
                data = (await client.get("/api/v1/status")).json()
                html = (await client.get("/status")).text
                seen.append((data["summary"], data["counts"]))
                if data["counts"]["unknown"]:
                    assert data["summary"] != "operational" and data["status"] != "up", data
                    assert not any(text in html for text in ALL_UP), html
                if data["counts"] == {"up": 2, "down": 1, "unknown": 0, "maintenance": 0}:
                    final = data, html
                    break
                await asyncio.sleep(0.1)
            assert final is not None, f"not right within 15 s of start: {seen[-3:]}"
            data, html = final
            assert data["summary"] == "outage" and [s["id"] for s in data["down"]] == ["portal"]
            assert "1 layanan mati" in html
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


@pytest.mark.parametrize("lang, text", [("id", "1 dari 3 layanan belum ada datanya"),
                                        ("en", "1 of 3 services have no data yet")])
async def test_services_without_data_are_counted_not_called_operational(
    http_peer, db_engine: Engine, tmp_path: Path, lang: str, text: str
) -> None:
    rt = RuntimeContext(loaded=site(http_peer.base, tmp_path), engine=db_engine)
    checks = component(rt)
    assert checks is not None
    engine = rt.services.checks
    assert engine is not None
    now = dt.datetime.now(dt.UTC)
    engine.on_result(CheckResult("portal-http", "portal", now, True, 5.0, "HTTP 200"))
    engine.on_result(CheckResult("berita-http", "berita", now, True, 5.0, "HTTP 200"))
    app = create_app(rt)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga") as client:
        data = (await client.get("/api/v1/status")).json()
        html = (await client.get(f"/status?lang={lang}")).text
    assert data["status"] == "unknown" and data["summary"] == "partly_unknown"
    assert data["counts"] == {"up": 2, "down": 0, "unknown": 1, "maintenance": 0}
    assert text in html and not any(t in html for t in ALL_UP)
