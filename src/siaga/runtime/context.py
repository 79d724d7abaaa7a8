"""What every component of a running siaga shares: the config, the store, the clock, a logger, the services."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Connection, Engine

from siaga.config import LoadedConfig, SiteConfig
from siaga.runtime.services import Services
from siaga.runtime.status import ComponentStatus
from siaga.store.types import utcnow

T = TypeVar("T")
Clock = Callable[[], dt.datetime]


@dataclass
class RuntimeContext:
    """Handed to every component and router factory of ``siaga serve``.

    ``services`` (:class:`~siaga.runtime.services.Services`) is where features put what others use, one
    typed field each (``ctx.services.ingest``, ``ctx.services.alerts``...); component factories run in
    registration order, so a feature that provides a service is listed before the ones that use it.
    """

    loaded: LoadedConfig
    engine: Engine
    clock: Clock = utcnow
    logger: logging.Logger = field(default_factory=lambda: logging.getLogger("siaga"))
    host: str = "127.0.0.1"
    port: int = 8470
    demo: bool = False
    heartbeat_seconds: float = 30.0
    services: Services = field(default_factory=Services)
    session_id: int | None = None
    component_states: dict[str, str] = field(default_factory=dict)
    """Each component's state (``running``, ``restarting``...), written by the supervisor."""
    component_status: dict[str, ComponentStatus] = field(default_factory=dict)
    """The same with since, restarts and the last error (for ``/healthz`` and the degraded page)."""

    @property
    def config(self) -> SiteConfig:
        return self.loaded.config

    async def run_db(self, work: Callable[[Connection], T]) -> T:
        """Run ``work(conn)`` in one transaction on a worker thread, so the event loop never blocks."""

        def _in_thread() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        return await asyncio.to_thread(_in_thread)
