"""The running siaga: components as asyncio tasks under one supervisor, sharing a RuntimeContext."""

from typing import Any

from siaga.runtime.components import (
    Component,
    ComponentEntry,
    ComponentError,
    ComponentRun,
    load_components,
)
from siaga.runtime.context import Clock, RuntimeContext
from siaga.runtime.services import Services

__all__ = [
    "COMPONENTS",
    "DEMO_COMPONENTS",
    "Clock",
    "Component",
    "ComponentEntry",
    "ComponentError",
    "ComponentRun",
    "RuntimeContext",
    "Services",
    "load_components",
]


def __getattr__(name: str) -> Any:
    # The tables import every component, and every component imports this package: read them on demand.
    if name in ("COMPONENTS", "DEMO_COMPONENTS"):
        from siaga.runtime import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'siaga.runtime' has no attribute {name!r}")
