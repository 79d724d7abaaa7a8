"""Start and stop a whole siaga: store, session record, components, signals."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import functools
import logging
import os
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from siaga import __version__
from siaga.cluster.members import membership_window
from siaga.config import ConfigError, LoadedConfig
from siaga.i18n import _, ngettext, using_language
from siaga.runtime.components import Component, ComponentEntry, load_components
from siaga.runtime.context import RuntimeContext
from siaga.runtime.services import Services
from siaga.runtime.stalls import STALLS
from siaga.runtime.supervisor import GRACE_SECONDS, Supervisor
from siaga.runtime.systemd import SystemdNotifier
from siaga.store.engine import StoreError, first_error_line
from siaga.store.events import record_event
from siaga.store.sessions import last_session, start_session, stop_session

log = logging.getLogger("siaga.runtime")


def component_entries(demo: bool) -> list[ComponentEntry | str]:
    from siaga.runtime.registry import COMPONENTS, DEMO_COMPONENTS  # every component: only when serving

    return [*COMPONENTS, *(DEMO_COMPONENTS if demo else [])]


def build_components(ctx: RuntimeContext, entries: Iterable[ComponentEntry | str] | None = None) -> list[Component]:
    return load_components(ctx, component_entries(ctx.demo) if entries is None else entries)


ConfigReloader = Callable[[], LoadedConfig]
"""Reads the config again (raising ConfigError when it is not valid): what SIGHUP calls."""


@dataclass
class _Next:
    ctx: RuntimeContext
    components: list[Component]


async def run_siaga(
    ctx: RuntimeContext,
    components: list[Component],
    *,
    duration: float | None = None,
    grace: float = GRACE_SECONDS,
    stop: asyncio.Event | None = None,
    reload_config: ConfigReloader | None = None,
    reload: asyncio.Event | None = None,
    build: Callable[[RuntimeContext], list[Component]] | None = None,
    notifier: SystemdNotifier | None = None,
) -> str | None:
    """Run ``components`` until SIGINT/SIGTERM (or ``duration`` seconds); return a failure message or None.

    With ``reload_config``, SIGHUP (or setting ``reload``) reads the config again: when it is valid,
    the components stop (with their grace), are built again from the new config and start again; when
    it is not, siaga says why in the log and goes on with the config it has. ``build`` makes the
    components of a new context (default: the registration table, :func:`build_components`). The runtime session is
    recorded in the store: started before the components, stopped after them; a reload is an event.

    The return is None only after a stop request (signal, ``duration``, ``stop``): a component that fails
    or ends is restarted (:class:`~siaga.runtime.supervisor.Supervisor`), never the end of siaga; the
    one failure returned is a critical component that cannot start. ``notifier`` (default: from
    ``$NOTIFY_SOCKET``) tells systemd READY, STATUS, WATCHDOG, RELOADING and STOPPING.
    """
    stop = stop or asyncio.Event()
    notifier = notifier or SystemdNotifier.from_environ()
    reload = reload or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    handlers: list[tuple[signal.Signals, asyncio.Event]] = [(signal.SIGINT, stop), (signal.SIGTERM, stop)]
    if reload_config is not None and hasattr(signal, "SIGHUP"):
        handlers.append((signal.SIGHUP, reload))
    for sig, event in handlers:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, _on_signal, event, sig)
            installed.append(sig)
    if duration is not None:
        loop.call_later(duration, stop.set)

    started = ctx.clock()

    shared = ctx.engine.dialect.name == "postgresql"  # several processes may run on this store
    alive_within = membership_window(ctx.config.runtime.lease, shared)

    def _start(conn: Connection) -> int:
        previous = last_session(conn)
        # on a shared store the last session may be another process, running: not a run that stopped badly
        if previous is not None and previous.stopped_at is None and not (
                shared and previous.last_seen_at >= started - alive_within):
            log.warning(
                "the previous run did not stop cleanly",
                extra={"session": previous.id, "last_seen_at": previous.last_seen_at.isoformat()},
            )
        sid = start_session(conn, started)
        record_event(conn, "siaga.started", subject="siaga", actor="siaga", at=started,
                     data={"session": sid, "version": __version__, "pid": os.getpid(),
                           "components": [c.name for c in components]})
        return sid

    try:
        ctx.session_id = await ctx.run_db(_start)
    except DBAPIError as exc:
        reason = first_error_line(exc)
        raise StoreError(_("cannot record the start in the store: {reason}").format(reason=reason)) from None
    session_id = ctx.session_id
    log.info("siaga is running", extra={"session": session_id, "version": __version__})
    failure: str | None = None
    feeding = asyncio.create_task(notifier.feed_watchdog(stop), name="siaga:watchdog")
    watching = asyncio.create_task(STALLS.watch_loop(stop), name="siaga:loop-lag")
    first_cycle = True
    try:
        while True:
            cycle_stop = asyncio.Event()
            pending: list[_Next] = []
            watcher = asyncio.create_task(
                _watch(ctx, stop, reload, cycle_stop, reload_config, build or build_components, pending, notifier),
                name="siaga:reload-watch",
            )
            status = _StatusLine(ctx, notifier)
            settings = ctx.config.runtime
            supervisor = Supervisor(
                ctx, components, grace=grace, max_pause=settings.restart_max_pause,
                healthy_after=settings.healthy_after, page_after=settings.degraded_page_after,
                start_failure_is_fatal=first_cycle, on_change=status.update,
            )
            announce = asyncio.create_task(_announce_ready(supervisor, status, notifier), name="siaga:ready")
            try:
                failure = await supervisor.run(cycle_stop)
            finally:
                for task in (watcher, announce):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            if failure is not None or stop.is_set() or not pending:
                break
            first_cycle = False
            ctx, components = pending[0].ctx, pending[0].components
            reloaded_at = ctx.clock()
            names = [c.name for c in components]
            try:
                await ctx.run_db(
                    functools.partial(
                        _record, kind="siaga.reloaded", at=reloaded_at,
                        data={"session": session_id, "components": names},
                    )
                )
            except DBAPIError as exc:  # the store is down: the reload goes on, only its record is missing
                log.error("cannot record the reload in the store", extra={"error": first_error_line(exc)})
            log.info("config reloaded", extra={"session": session_id, "components": names})
    finally:
        notifier.stopping()
        for task in (feeding, watching):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for sig in installed:
            loop.remove_signal_handler(sig)
        stopped = ctx.clock()

        def _stop(conn: Connection) -> None:
            stop_session(conn, session_id, stopped)
            record_event(conn, "siaga.stopped", subject="siaga", actor="siaga", at=stopped,
                         data={"session": session_id})

        try:
            await ctx.run_db(_stop)
        except DBAPIError as exc:  # the components are stopped already: say so and end anyway
            log.error("cannot record the stop in the store", extra={"error": first_error_line(exc)})
    log.info("siaga stopped", extra={"session": session_id, "failure": failure})
    notifier.close()
    return failure


class _StatusLine:
    """systemd's STATUS= for ``systemctl status``: how many components run, which are degraded."""

    def __init__(self, ctx: RuntimeContext, notifier: SystemdNotifier) -> None:
        self.ctx = ctx
        self.notifier = notifier
        self.last = ""

    def text(self) -> str:
        with using_language(str(self.ctx.config.site.language.value)):
            bad = sorted(n for n, s in self.ctx.component_status.items() if s.degraded)
            if bad:
                return _("degraded, restarting: {names}").format(names=", ".join(bad))
            n = len(self.ctx.component_states)
            return ngettext("watching: {count} component running", "watching: {count} components running", n
                            ).format(count=n)

    def update(self) -> None:
        if not self.notifier.enabled:
            return
        text = self.text()
        if text != self.last:
            self.last = text
            self.notifier.status(text)


async def _announce_ready(supervisor: Supervisor, status: _StatusLine, notifier: SystemdNotifier) -> None:
    """READY=1 once every critical component is up (the web server listens): at start and after a reload."""
    await supervisor.ready.wait()
    status.last = status.text()
    notifier.ready(status.last)


def _record(conn: Connection, *, kind: str, at: dt.datetime, data: dict[str, object]) -> None:
    record_event(conn, kind, subject="siaga", actor="siaga", at=at, data=data)


async def _watch(
    ctx: RuntimeContext,
    stop: asyncio.Event,
    reload: asyncio.Event,
    cycle_stop: asyncio.Event,
    reload_config: ConfigReloader | None,
    build: Callable[[RuntimeContext], list[Component]],
    pending: list[_Next],
    notifier: SystemdNotifier,
) -> None:
    """End the current cycle on stop, or on a reload request whose new config is good."""
    while True:
        waits = {asyncio.create_task(stop.wait()), asyncio.create_task(reload.wait())}
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        if stop.is_set():
            notifier.stopping()
            cycle_stop.set()
            return
        reload.clear()
        if reload_config is None:
            continue
        nxt = await _prepare_reload(ctx, reload_config, build)
        if nxt is not None:
            notifier.reloading()
            pending.append(nxt)
            cycle_stop.set()
            return


async def _prepare_reload(
    ctx: RuntimeContext, reload_config: ConfigReloader, build: Callable[[RuntimeContext], list[Component]]
) -> _Next | None:
    try:
        loaded = await asyncio.to_thread(reload_config)
    except ConfigError as exc:
        log.error(
            "the config has problems; going on with the one loaded before",
            extra={"problems": [str(p) for p in exc.problems]},
        )
        return None
    except Exception as exc:  # the file is gone, unreadable...: never the end of the watch (nor of siaga)
        log.error("cannot read the config again; going on with the one loaded before",
                  extra={"error": f"{type(exc).__name__}: {exc}"})
        return None
    if loaded.config.store != ctx.config.store:
        log.warning("store settings changed: they take effect at the next start, not on reload")
    new_ctx = dataclasses.replace(
        ctx, loaded=loaded, host=loaded.config.web.host, port=loaded.config.web.port,
        services=Services(), component_states={}, component_status={},
    )
    try:
        components = build(new_ctx)
    except Exception as exc:
        log.error("cannot build the components of the new config; going on with the old one",
                  extra={"error": f"{type(exc).__name__}: {exc}"})
        return None
    return _Next(new_ctx, components)


def _on_signal(event: asyncio.Event, sig: int) -> None:
    name = signal.Signals(sig).name
    log.info("signal received; reloading" if name == "SIGHUP" else "signal received; stopping",
             extra={"signal": name})
    event.set()
