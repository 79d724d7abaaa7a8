"""``sources.mqtt`` in ``siaga serve``: the MQTT subscriber, fed to the shared ingest path.

Not started by ``siaga demo`` (its readings come from the simulator; a demo machine has no broker).
"""

from __future__ import annotations

import asyncio
import datetime as dt

from siaga.cluster.slots import SlotKeeper
from siaga.config.secrets import SecretError
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.sources.mqtt.client import UNREACHABLE_RULE, MqttSource, SharedJudge
from siaga.sources.mqtt.routes import TopicTable


def others_connected(ctx: RuntimeContext) -> bool:
    """Whether another live process says (its share in ``meta``, written every second) it is connected."""
    from siaga.cluster.members import members
    from siaga.cluster.status import shares

    now = ctx.clock()
    with ctx.engine.connect() as conn:
        live = {m.session_id for m in members(conn, now, dt.timedelta(seconds=ctx.config.runtime.lease))}
        said = shares(conn)
    return any(said.get(s, {}).get("mqtt_connected") for s in live if s != ctx.session_id)


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
    cluster, manager = ctx.services.cluster, ctx.services.alerts
    if source.shared and cluster is not None and cluster.shared:
        # several processes: each runs the sessions of the MQTT slots it holds (siaga.cluster.slots)
        source.slots = SlotKeeper(ctx.engine, lease_s=ctx.config.runtime.lease, clock=ctx.clock)
    if source.shared and cluster is not None and cluster.shared and manager is not None:
        source.judge = SharedJudge(
            judges=lambda: cluster.holds("notify") if "notify" in cluster.roles else True,
            others_connected=lambda: others_connected(ctx),
            adopt=lambda: manager.adopt(["mqtt"]) >= 0 and manager.get(UNREACHABLE_RULE, "mqtt") is not None,
        )

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        source.session_id = ctx.session_id
        try:
            await source.run(stop)
        except SecretError as exc:
            raise ComponentError(f"mqtt: {exc}") from None

    return Component("sources.mqtt", run)
