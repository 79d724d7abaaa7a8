"""Shares one inventory with everything ``siaga serve`` runs: ``ctx.services.inventory``.

The only module of ``siaga.inventory`` that knows about the runtime; the rest stays pure.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from siaga.inventory.graph import Inventory

if TYPE_CHECKING:
    from siaga.runtime.context import RuntimeContext

def component(ctx: RuntimeContext) -> None:
    """Build the inventory from the config and register it; no task to run."""
    ctx.services.inventory = Inventory.from_config(ctx.config)
