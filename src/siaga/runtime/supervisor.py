"""Runs the components as asyncio tasks, crash-only: a component that fails or ends is started again.

- Every component gets a stop event of its own, set when siaga stops: a component that sets it (or
  returns early) ends only itself, never siaga.
- A component that raises, or returns while siaga is not stopping, is ``restarting``: started again
  after a pause that doubles from ``first_pause`` to ``max_pause``; it is ``running`` (healthy) again once
  a run has lasted ``healthy_after`` seconds, and the next failure starts a new streak with a short pause.
  While a component is restarting, ``/healthz`` is 503 and names it; after ``page_after`` seconds siaga
  pages "siaga degraded: <component>, since ..." (:mod:`siaga.runtime.degraded`), resolved when healthy.
- The one failure that ends siaga (exit 1) is a *start* failure of a critical component: it raises
  before it has said it is up (:func:`mark_ready`), e.g. the web server cannot bind its port. After it
  has been up once, a critical component is restarted like the others.
- On stop, every component gets ``grace`` seconds to flush and return; the ones still running after
  that are cancelled (and named in the log).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import Callable

from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.runtime.degraded import DEGRADED_PAGE_AFTER, DegradedPager
from siaga.runtime.status import ComponentStatus
from siaga.store.engine import first_error_line

GRACE_SECONDS = 5.0
RESTART_FIRST_PAUSE = 1.0
RESTART_MAX_PAUSE = 30.0
HEALTHY_AFTER = 5.0
"""A restarted component counts as healthy again (``running``) after a run this long without failing."""

ENDED_BY_ITSELF = "ended by itself"

log = logging.getLogger("siaga.runtime")

_READY: contextvars.ContextVar[Callable[[], None] | None] = contextvars.ContextVar("siaga_ready", default=None)


def mark_ready() -> None:
    """Called by a component (or a task it started) once it is up: e.g. the web server has bound its port.

    Only critical components need it: until then, their failure is a start failure and ends siaga.
    Outside a supervised component it does nothing.
    """
    ready = _READY.get()
    if ready is not None:
        ready()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ComponentError):
        return str(exc)
    if isinstance(exc, SystemExit):
        return f"SystemExit({exc.code!r})"
    return f"{type(exc).__name__}: {first_error_line(exc)}" if str(exc).strip() else type(exc).__name__


class Supervisor:
    def __init__(
        self,
        ctx: RuntimeContext,
        components: list[Component],
        *,
        grace: float = GRACE_SECONDS,
        first_pause: float = RESTART_FIRST_PAUSE,
        max_pause: float = RESTART_MAX_PAUSE,
        healthy_after: float = HEALTHY_AFTER,
        page_after: float = DEGRADED_PAGE_AFTER,
        start_failure_is_fatal: bool = True,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.components = components
        self.grace = grace
        self.first_pause = first_pause
        self.max_pause = max_pause
        self.healthy_after = healthy_after
        self.page_after = page_after
        self.start_failure_is_fatal = start_failure_is_fatal
        self.on_change = on_change
        self.failure: str | None = None
        self.restarts: dict[str, int] = {c.name: 0 for c in components}
        self.ready = asyncio.Event()
        """Set once every critical component has said it is up (at once when there are none)."""
        self._up: set[str] = set()
        self._critical = {c.name for c in components if c.critical}
        self._own_stop: dict[str, asyncio.Event] = {}
        self._run_no: dict[str, int] = {c.name: 0 for c in components}
        if not self._critical:
            self.ready.set()

    @property
    def status(self) -> dict[str, ComponentStatus]:
        return self.ctx.component_status

    def _state(self, name: str, state: str, *, error: str | None = None) -> None:
        now, mono = self.ctx.clock(), asyncio.get_running_loop().time()
        current = self.ctx.component_status.get(name)
        if current is None:
            current = ComponentStatus(state, now, mono)
            self.ctx.component_status[name] = current
        elif state == "restarting" and current.state == "restarting":
            pass  # the same streak: `since` stays the first failure
        elif state != current.state:
            current.state, current.since, current.since_monotonic = state, now, mono
        if error is not None:
            current.last_error, current.last_failure_at = error, now
            current.restarts = self.restarts.get(name, 0)
        self.ctx.component_states[name] = state
        if self.on_change is not None:
            self.on_change()

    def _on_ready(self, name: str) -> None:
        if name in self._up:
            return
        self._up.add(name)
        if self._critical <= self._up:
            self.ready.set()

    def _healthy(self, name: str, run_no: int) -> None:
        """A restarted component ran ``healthy_after`` seconds: running (healthy) again."""
        status = self.ctx.component_status.get(name)
        if self._run_no[name] == run_no and status is not None and status.state == "restarting":
            log.info("component healthy again", extra={"component": name, "restarts": self.restarts[name]})
            self._state(name, "running")

    async def _guard(self, component: Component, stop: asyncio.Event) -> None:
        name = component.name
        pause = self.first_pause
        loop = asyncio.get_running_loop()
        if not component.critical:
            self._on_ready(name)
        while True:
            own = asyncio.Event()
            self._own_stop[name] = own
            if stop.is_set():
                own.set()
            self._run_no[name] += 1
            restarting = self.ctx.component_states.get(name) == "restarting"
            if not restarting:
                self._state(name, "running")
            healthy = loop.call_later(self.healthy_after, self._healthy, name, self._run_no[name])
            token = _READY.set(lambda: self._on_ready(name))
            error: str | None = None
            trace: BaseException | None = None  # the exception whose trace the log shows (not a ComponentError)
            run = component.run
            cluster = self.ctx.services.cluster
            if component.role is not None and cluster is not None:
                run = cluster.gated(component.role, run)
            try:
                await run(self.ctx, own)
                if not stop.is_set():
                    error = ENDED_BY_ITSELF
            except asyncio.CancelledError:
                self._state(name, "cancelled")
                raise
            except (Exception, SystemExit) as exc:  # SystemExit: uvicorn ends a failed start with sys.exit(1)
                error, trace = _reason(exc), None if isinstance(exc, ComponentError) else exc
            finally:
                _READY.reset(token)
                healthy.cancel()
            if error is None:
                self._state(name, "stopped")
                return
            if stop.is_set():
                log.error("component failed while stopping", extra={"component": name, "error": error},
                          exc_info=trace)
                self._state(name, "stopped")
                return
            if component.critical and name not in self._up and self.start_failure_is_fatal:
                log.error("component failed", extra={"component": name, "error": error}, exc_info=trace)
                self._state(name, "failed", error=error)
                if self.failure is None:
                    self.failure = f"{name}: {error}"
                stop.set()
                return
            if self.ctx.component_states.get(name) != "restarting":
                pause = self.first_pause  # it was healthy: this is a new trouble
            self.restarts[name] += 1
            self._state(name, "restarting", error=error)
            log.warning(
                "component failed; restarting" if error != ENDED_BY_ITSELF else "component ended; restarting",
                extra={"component": name, "error": error, "pause_s": pause, "restarts": self.restarts[name]},
                exc_info=trace,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if stop.is_set():
                self._state(name, "stopped")
                return
            pause = min(pause * 2, self.max_pause)

    async def run(self, stop: asyncio.Event) -> str | None:
        """Run until ``stop`` is set (or a critical component cannot start); return that failure, if any."""
        tasks = {
            asyncio.create_task(self._guard(c, stop), name=f"siaga:{c.name}"): c for c in self.components
        }
        pager = DegradedPager(self.ctx, page_after=self.page_after)
        paging = asyncio.create_task(pager.run(self.ctx.component_status, stop), name="siaga:degraded-pager")
        log.info("started", extra={"components": [c.name for c in self.components]})
        await stop.wait()
        for own in self._own_stop.values():
            own.set()
        log.info("stopping", extra={"grace_s": self.grace})
        if tasks:
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
        try:
            await asyncio.wait_for(paging, self.grace)
        except Exception:
            log.exception("the degraded pager did not end cleanly")
        return self.failure
