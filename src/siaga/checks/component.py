"""The ``checks`` component of ``siaga serve``: the :class:`~siaga.checks.engine.ChecksEngine` on the
runtime, with the alert manager's hooks and, in the demo, the local stand-in.

On PostgreSQL every process runs it, each on its share of the services (the shard map of
:mod:`siaga.cluster.shards`: slots as leases); the daily tallies are the ``checks`` role's."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from siaga.alerts.model import Alert, AlertSink
from siaga.checks.base import Probe
from siaga.checks.engine import ChecksEngine
from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext


def _alert_hooks(rt: RuntimeContext) -> tuple[AlertSink | None, Callable[[], Sequence[Alert]] | None]:
    """The alerts hub's submit and active-alerts hooks, when there is a hub."""
    hub: AlertSink | None = rt.services.alerts
    if hub is None:
        return None, None
    active = getattr(hub, "active", None)  # AlertManager.active() -> list[Alert]; a plain sink has none
    return hub, active if callable(active) else None


def component(rt: RuntimeContext) -> Component | None:
    """The ``checks`` component of ``siaga serve`` (None when the site has no enabled checks)."""
    if not any(c.enabled for c in rt.config.checks):
        return None
    redirects: dict[str, tuple[str, int]] = {}
    probes: dict[str, Probe] = {}
    standin = None
    if rt.demo:
        from siaga.checks.standin import StandIn

        standin = StandIn(rt.config)
        redirects = standin.redirects()
        probes = standin.probes()
        rt.services.checks_standin = standin
    engine = ChecksEngine(
        rt.config, base_dir=rt.loaded.base_dir, clock=rt.clock, redirects=redirects, probes=probes,
    )
    rt.services.checks = engine
    cluster = rt.services.cluster
    if cluster is not None and cluster.shared:
        engine.share(cluster.shard("checks"), cluster.declare("checks"), None)

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        # looked up when it starts, not in the factory: the status page makes its cache when the app is built
        sink, engine.monitor.active_alerts = _alert_hooks(ctx)
        from siaga.peers.probes import agreed_sink  # probes from both places: down when the locations agree

        engine.monitor.sink = agreed_sink(ctx, engine.monitor, sink)
        adopt = getattr(ctx.services.alerts, "adopt", None)  # AlertManager.adopt; a plain sink has none
        if engine.shard is not None and callable(adopt):
            engine.take_up = adopt
        status_cache = ctx.services.status_cache
        fresh = None  # the status page: built now (first view fast), then kept as fresh as the docs say
        if status_cache is not None:
            fresh = asyncio.create_task(status_cache.keep_fresh(stop, engine.live_status))
        if standin is not None:
            await standin.start()
            engine.ctx.redirects.update(standin.redirects())
        try:
            await engine.run(ctx, stop)
        finally:
            if fresh is not None and not fresh.done():
                fresh.cancel()
            if standin is not None:
                await standin.stop()

    return Component("checks", run)
