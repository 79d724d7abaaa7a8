"""``sources.mqtt`` in ``siaga serve``: the MQTT subscriber, fed to the shared ingest path.

Not started by ``siaga demo`` (its readings come from the simulator; a demo machine has no broker).
"""

from __future__ import annotations

import asyncio

from siaga.config.secrets import SecretError
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.sources.mqtt.client import MqttSource
from siaga.sources.mqtt.routes import TopicTable


def shared(setting: str, dialect: str) -> bool:
    """Whether this process shares the sensors' messages with others (``mqtt.shared``): ``auto`` is on with
    PostgreSQL (several processes may run on it), off with SQLite (one process)."""
    return setting == "on" or (setting == "auto" and dialect != "sqlite")


def component(ctx: RuntimeContext) -> Component | None:
    cfg = ctx.config
    if cfg.mqtt is None or ctx.demo:
        return None
    table = TopicTable.from_config(cfg.mqtt, cfg.sensors)
    if not table.subscriptions():
        return None
    sink = ctx.services.ingest
    if sink is None:
        raise ComponentError("mqtt: no ingest path to feed (ctx.services.ingest is not set)")
    writer = ctx.services.readings_writer
    source = MqttSource(cfg.mqtt, table, sink, base_dir=ctx.loaded.base_dir, alerts=ctx.services.alerts,
                        clock=ctx.clock, durable=writer.when_durable if writer is not None else None,
                        shared=shared(cfg.mqtt.shared, ctx.engine.dialect.name))
    ctx.services.mqtt = source

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        try:
            await source.run(stop)
        except SecretError as exc:
            raise ComponentError(f"mqtt: {exc}") from None

    return Component("sources.mqtt", run)
