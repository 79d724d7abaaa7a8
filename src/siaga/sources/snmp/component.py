"""``sources.snmp`` in ``siaga serve``: one polling loop per SNMP device, fed to the shared ingest path.

Not started by ``siaga demo`` (its readings come from the simulator).
"""

from __future__ import annotations

import asyncio

from siaga.config.secrets import SecretError
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext


def component(ctx: RuntimeContext) -> Component | None:
    cfg = ctx.config
    if cfg.snmp is None or not cfg.snmp.devices or ctx.demo:
        return None
    from pysnmp.hlapi.v3arch.asyncio import SnmpEngine

    from siaga.sources.snmp.poller import DevicePoller, points_by_device

    sink = ctx.services.ingest
    if sink is None:
        raise ComponentError("snmp: no ingest path to feed (ctx.services.ingest is not set)")
    points = points_by_device(cfg.snmp, cfg.sensors)
    engine = SnmpEngine()
    pollers: list[DevicePoller] = []
    for device in cfg.snmp.devices:
        if not points[device.id]:
            continue
        try:
            pollers.append(
                DevicePoller(device, points[device.id], sink, engine=engine,
                             base_dir=ctx.loaded.base_dir, clock=ctx.clock)
            )
        except SecretError as exc:
            raise ComponentError(f"snmp device {device.id}: {exc}") from None
    if not pollers:
        return None
    ctx.services.snmp = pollers

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await asyncio.gather(*(p.run(stop) for p in pollers))

    return Component("sources.snmp", run)
