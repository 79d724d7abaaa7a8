"""Runs the components as asyncio tasks: restarts the ones that fail, stops them all on request.

A component that fails is restarted after a pause that doubles up to a limit (and starts small again
after a run longer than the limit), unless it is
critical: then siaga stops and says why. On stop, every component gets ``grace`` seconds to flush
and return; the ones still running after that are cancelled (and named in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext

GRACE_SECONDS = 5.0
RESTART_FIRST_PAUSE = 1.0
RESTART_MAX_PAUSE = 30.0

log = logging.getLogger("siaga.runtime")


class Supervisor:
    def __init__(
        self,
        ctx: RuntimeContext,
        components: list[Component],
        *,
        grace: float = GRACE_SECONDS,
        first_pause: float = RESTART_FIRST_PAUSE,
        max_pause: float = RESTART_MAX_PAUSE,
    ) -> None:
        self.ctx = ctx
        self.components = components
        self.grace = grace
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.failure: str | None = None
        self.restarts: dict[str, int] = {c.name: 0 for c in components}

    def _state(self, name: str, state: str) -> None:
        self.ctx.component_states[name] = state

    async def _guard(self, component: Component, stop: asyncio.Event) -> None:
        pause = self.first_pause
        loop = asyncio.get_running_loop()
        while True:
            self._state(component.name, "running")
            began = loop.time()
            try:
                await component.run(self.ctx, stop)
            except asyncio.CancelledError:
                self._state(component.name, "cancelled")
                raise
            except Exception as exc:
                reason = str(exc) if isinstance(exc, ComponentError) else f"{type(exc).__name__}: {exc}"
                if component.critical:
                    self._state(component.name, "failed")
                    log.error("component failed", extra={"component": component.name, "error": reason},
                              exc_info=not isinstance(exc, ComponentError))
                    if self.failure is None:
                        self.failure = f"{component.name}: {reason}"
                    stop.set()
                    return
                if loop.time() - began > self.max_pause:
                    pause = self.first_pause  # it ran well for a while: this is a new trouble
                self.restarts[component.name] += 1
                self._state(component.name, "restarting")
                log.warning(
                    "component failed; restarting",
                    extra={"component": component.name, "error": reason, "pause_s": pause},
                    exc_info=not isinstance(exc, ComponentError),
                )
                if stop.is_set():
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
                if stop.is_set():
                    self._state(component.name, "stopped")
                    return
                pause = min(pause * 2, self.max_pause)
                continue
            self._state(component.name, "stopped" if stop.is_set() else "finished")
            return

    async def run(self, stop: asyncio.Event) -> str | None:
        """Run until ``stop`` is set (or a critical component fails); return the failure, if any."""
        tasks = {
            asyncio.create_task(self._guard(c, stop), name=f"siaga:{c.name}"): c for c in self.components
        }
        log.info("started", extra={"components": [c.name for c in self.components]})
        await stop.wait()
        log.info("stopping", extra={"grace_s": self.grace})
        if not tasks:
            return self.failure
        _done, pending = await asyncio.wait(tasks, timeout=self.grace)
        if pending:
            names = sorted(tasks[t].name for t in pending)
            log.warning("components did not stop in time; cancelled", extra={"components": names})
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:  # pragma: no cover - guarded above
                log.error("component crashed", exc_info=task.exception())
        return self.failure
