"""A whole sensing siaga for the MQTT benchmarks: the Bontang site plus bench sensors, the real MQTT
source, ingest path, rules, alert manager and readings writer, on SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, func, select

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.readings.tables import readings
from siaga.readings.writer import ReadingWriter
from siaga.rules.engine import RulesEngine
from siaga.runtime.heap import settle_heap
from siaga.sources.ingest import Ingest
from siaga.sources.mqtt.client import MqttSource
from siaga.sources.mqtt.routes import TopicTable
from siaga.store import create_engine_for, sqlite_url, upgrade

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "siaga" / "examples" / "bontang.yaml"
BENCH_SENSORS = [f"bench-t{i}" for i in range(50)]


def site_config(broker_port: int, client_id: str) -> SiteConfig:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["mqtt"] = {"host": "127.0.0.1", "port": broker_port, "client_id": client_id,
                    "subscriber": os.environ.get("BENCH_SUBSCRIBER", "process"),
                    "gateways": [{"id": "bench", "topic": "bench/batch", "format": "batch"}]}
    data["rules"] = {"flapping": {"enabled": False}}  # the benches flip leaks on and off on purpose
    data["sensors"] += [
        {"id": sid, "kind": "temperature", "room": "ruang-server", "source": {"type": "mqtt", "topic": f"bench/{sid}"}}
        for sid in BENCH_SENSORS
    ]
    return parse_config(yaml.safe_dump(data))


@dataclass
class Site:
    cfg: SiteConfig
    engine: Engine
    ingest: Ingest
    manager: AlertManager
    writer: ReadingWriter

    def source(self) -> MqttSource:
        assert self.cfg.mqtt is not None
        durable = self.writer.when_durable if os.environ.get("BENCH_NO_WRITER") != "1" else None
        return MqttSource(self.cfg.mqtt, TopicTable.from_config(self.cfg.mqtt, self.cfg.sensors), self.ingest,
                          alerts=self.manager, durable=durable)

    def stored(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(readings)).scalar_one())


def make_site(db_url: str | None, folder: Path, broker_port: int, client_id: str) -> Site:
    folder.mkdir(parents=True, exist_ok=True)
    engine = create_engine_for(db_url or sqlite_url(folder / "siaga.db"))
    upgrade(engine)
    cfg = site_config(broker_port, client_id)
    now = dt.datetime.now(dt.UTC)
    manager = AlertManager(engine, impact_of=impact_resolver(cfg))
    manager.load(now)
    ingest = Ingest(cfg, rules=RulesEngine(cfg, now=now), alerts=manager)
    writer = ReadingWriter(ingest, engine, flush_interval=cfg.readings.flush_interval)
    settle_heap()  # as `siaga serve` does once its components are built
    return Site(cfg, engine, ingest, manager, writer)


def _tick(site: Site, now: dt.datetime) -> None:
    site.ingest.tick(now)
    site.manager.tick(now)


@contextlib.asynccontextmanager
async def running(site: Site, source: MqttSource) -> AsyncIterator[MqttSource]:
    """The MQTT source, the writer (flush every second) and the rules' tick, until the block ends."""
    stop = asyncio.Event()

    async def writer() -> None:  # as `siaga serve`'s: every second, and at once when a message waits for its ack
        await site.writer.serve(stop)

    async def ticker() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            await asyncio.to_thread(_tick, site, dt.datetime.now(dt.UTC))

    stop_source = asyncio.Event()
    source_task = asyncio.create_task(source.run(stop_source))
    tasks: list[asyncio.Task[None]] = []
    if os.environ.get("BENCH_NO_WRITER") != "1":
        tasks.append(asyncio.create_task(writer()))
    if not os.environ.get("BENCH_NO_WRITER"):
        tasks.append(asyncio.create_task(ticker()))
    try:
        assert await asyncio.to_thread(source.connected_event.wait, 15), "siaga never connected to the broker"
        await asyncio.sleep(0.2)
        yield source
    finally:
        stop_source.set()  # the writer goes on until the source is done: its last batches are acknowledged
        await source_task
        stop.set()
        await asyncio.gather(*tasks)
        await site.writer.flush()
