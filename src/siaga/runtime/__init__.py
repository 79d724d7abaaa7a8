"""The running siaga: components as asyncio tasks under one supervisor, sharing a RuntimeContext."""

from siaga.runtime.components import (
    COMPONENTS,
    DEMO_COMPONENTS,
    Component,
    ComponentError,
    ComponentRun,
    load_components,
)
from siaga.runtime.context import Clock, RuntimeContext

__all__ = [
    "COMPONENTS",
    "DEMO_COMPONENTS",
    "Clock",
    "Component",
    "ComponentError",
    "ComponentRun",
    "RuntimeContext",
    "load_components",
]
