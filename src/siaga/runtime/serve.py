"""Start and stop a whole siaga: store, session record, components, signals."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterable

from sqlalchemy import Connection

from siaga import __version__
from siaga.runtime.components import COMPONENTS, DEMO_COMPONENTS, Component, load_components
from siaga.runtime.context import RuntimeContext
from siaga.runtime.supervisor import GRACE_SECONDS, Supervisor
from siaga.store.events import record_event
from siaga.store.sessions import last_session, start_session, stop_session

log = logging.getLogger("siaga.runtime")


def component_entries(demo: bool) -> list[str]:
    return [*COMPONENTS, *(DEMO_COMPONENTS if demo else [])]


def build_components(ctx: RuntimeContext, entries: Iterable[str] | None = None) -> list[Component]:
    return load_components(ctx, component_entries(ctx.demo) if entries is None else entries)


async def run_siaga(
    ctx: RuntimeContext,
    components: list[Component],
    *,
    duration: float | None = None,
    grace: float = GRACE_SECONDS,
    stop: asyncio.Event | None = None,
) -> str | None:
    """Run ``components`` until SIGINT/SIGTERM (or ``duration`` seconds); return a failure message or None.

    The runtime session is recorded in the store: started before the components, stopped after them.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _on_signal, stop, sig)
            installed.append(sig)
    if duration is not None:
        loop.call_later(duration, stop.set)

    started = ctx.clock()

    def _start(conn: Connection) -> int:
        previous = last_session(conn)
        if previous is not None and previous.stopped_at is None:
            log.warning(
                "the previous run did not stop cleanly",
                extra={"session": previous.id, "last_seen_at": previous.last_seen_at.isoformat()},
            )
        sid = start_session(conn, started)
        record_event(conn, "siaga.started", subject="siaga", actor="siaga", at=started,
                     data={"session": sid, "version": __version__, "pid": os.getpid(),
                           "components": [c.name for c in components]})
        return sid

    ctx.session_id = await ctx.run_db(_start)
    log.info("siaga is running", extra={"session": ctx.session_id, "version": __version__})
    try:
        failure = await Supervisor(ctx, components, grace=grace).run(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        session_id = ctx.session_id
        stopped = ctx.clock()

        def _stop(conn: Connection) -> None:
            stop_session(conn, session_id, stopped)
            record_event(conn, "siaga.stopped", subject="siaga", actor="siaga", at=stopped,
                         data={"session": session_id})

        await ctx.run_db(_stop)
    log.info("siaga stopped", extra={"session": session_id, "failure": failure})
    return failure


def _on_signal(stop: asyncio.Event, sig: int) -> None:
    log.info("signal received; stopping", extra={"signal": signal.Signals(sig).name})
    stop.set()
