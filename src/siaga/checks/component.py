"""The ``checks`` component of ``siaga serve``: the :class:`~siaga.checks.engine.ChecksEngine` on the
runtime, with the alert manager's hooks and, in the demo, the local stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from siaga.alerts.model import Alert, AlertSink
from siaga.checks.base import Probe
from siaga.checks.engine import ChecksEngine
from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext


def _alert_hooks(rt: RuntimeContext) -> tuple[AlertSink | None, Callable[[], Sequence[Alert]] | None]:
    """The alert manager's submit and active-alerts hooks, when one is registered."""
    manager: Any = rt.services.get("alerts.manager") or rt.services.get("alerts.sink")
    if manager is None:
        return None, None
    active = getattr(manager, "active", None)  # AlertManager.active() -> list[Alert]
    return manager, active if callable(active) else None


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
        rt.services["checks.standin"] = standin
    engine = ChecksEngine(
        rt.config, base_dir=rt.loaded.base_dir, clock=rt.clock, redirects=redirects, probes=probes,
    )
    rt.services["checks.engine"] = engine

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        # looked up now, not in the factory: the alert manager may be registered after us
        engine.monitor.sink, engine.monitor.active_alerts = _alert_hooks(ctx)
        status_cache: Any = ctx.services.get("checks.status_cache")
        warm = asyncio.create_task(status_cache.get()) if status_cache is not None else None  # first view fast
        if standin is not None:
            await standin.start()
            engine.ctx.redirects.update(standin.redirects())
        try:
            await engine.run(ctx, stop)
        finally:
            if warm is not None and not warm.done():
                warm.cancel()
            if standin is not None:
                await standin.stop()

    return Component("checks", run)
