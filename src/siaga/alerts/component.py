"""The alerts hub of ``siaga serve``: one :class:`~siaga.alerts.manager.AlertManager`, ``ctx.services.alerts``.

Every observer hands it conditions (the sensing rules, checks, backups, the sources' system alerts),
the notifier and the web subscribe to its transitions and act through it (acknowledge, resolve,
notes). Built here, before the components that use it; the impact of an alert comes from the
runtime's one inventory (``ctx.services.inventory``). Its clock tick (hold times, acknowledgements
made by other processes) runs in ``sensing.rules``, right after the rules' own tick. It witnesses the
alerts this process sees as its runtime session (``ctx.session_id``): one open alert per (rule, subject)
across the processes of a cluster, resolved when the last live process that sees it stops seeing it.
"""

from __future__ import annotations

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.cluster.members import membership_window
from siaga.inventory.graph import Inventory
from siaga.runtime.context import RuntimeContext
from siaga.store.engine import spool_dir
from siaga.store.spool import Spool


def build(ctx: RuntimeContext) -> AlertManager:
    """The alert manager of ``ctx``'s site, with the open alerts loaded from the store (after what an
    earlier run spooled while the store could not write, in ``store.spool_dir``)."""
    inventory = ctx.services.inventory or Inventory.from_config(ctx.config)
    manager = AlertManager(ctx.engine, impact_of=impact_resolver(inventory), clock=ctx.clock,
                           spool=Spool(spool_dir(ctx.loaded), "alerts"),
                           unavailable_after_s=ctx.config.store.unavailable_after,
                           session=lambda: ctx.session_id,
                           witness_window_s=membership_window(ctx.config.runtime.lease,
                                                              ctx.engine.dialect.name != "sqlite").total_seconds(),
                           witness_grace_s=ctx.config.runtime.witness_grace)
    manager.load(ctx.clock())
    return manager


def component(ctx: RuntimeContext) -> None:
    """Build the hub and share it as ``ctx.services.alerts``; no task of its own."""
    ctx.services.alerts = build(ctx)
