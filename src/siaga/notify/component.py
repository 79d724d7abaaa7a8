"""Notify in ``siaga serve``: the worker (and the Telegram bot) as components, the service for others.

``ctx.services.notify`` is the :class:`NotifyService`: publish transitions to it, ask it to
acknowledge a link. It subscribes itself to the alerts hub (``ctx.services.alerts``) when there is one,
and acknowledges through its ``ack``/``resolve``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from siaga.backup.status import verified_copy_lookup
from siaga.notify.engine import Notifier
from siaga.notify.keyfile import load_or_create_key
from siaga.notify.service import WAKE_CHANNEL, NotifyService
from siaga.notify.transports import DemoTransports, Transports
from siaga.runtime.components import Component
from siaga.store.engine import spool_dir
from siaga.store.spool import Spool

if TYPE_CHECKING:
    from siaga.alerts.manager import AlertManager
    from siaga.alerts.model import Alert
    from siaga.runtime.context import RuntimeContext

class ManagerActions:
    """The alert manager's ``ack``/``resolve`` (blocking: they write the store) as notify's AlertActions."""

    def __init__(self, manager: AlertManager) -> None:
        self.manager = manager

    async def acknowledge(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Alert:
        return await asyncio.to_thread(self.manager.ack, alert_id, by, via, note)

    async def resolve(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Alert:
        return await asyncio.to_thread(self.manager.resolve, alert_id, by, via, note)


def data_dir(ctx: RuntimeContext) -> Path:
    d = Path(ctx.config.store.data_dir).expanduser()
    return d if d.is_absolute() else ctx.loaded.base_dir / d


def key_path(ctx: RuntimeContext) -> Path:
    configured = ctx.config.notification.ack.key_file
    if configured:
        p = Path(configured).expanduser()
        return p if p.is_absolute() else ctx.loaded.base_dir / p
    return data_dir(ctx) / "ack.key"


def public_url(ctx: RuntimeContext) -> str:
    return ctx.config.web.public_url or f"http://{ctx.host}:{ctx.port}"


def build_service(ctx: RuntimeContext) -> NotifyService:
    # Once backups exist, messages say when each service hit was last copied off site (verified).
    last_backup = verified_copy_lookup(ctx.config, ctx.engine) if ctx.config.backups else None
    notifier = Notifier(
        ctx.config, key=load_or_create_key(key_path(ctx)), public_url=public_url(ctx), last_backup=last_backup
    )
    transports = (DemoTransports if ctx.demo else Transports)(ctx.config, ctx.loaded.base_dir)
    return NotifyService(ctx.engine, notifier, transports, clock=ctx.clock,
                         spool=Spool(spool_dir(ctx.loaded), "notify"))


def warm_up(svc: NotifyService, now: dt.datetime) -> None:
    """Pay the first-use costs at start (apprise's plugins, templates, locale data), not on the first page;
    done while the components are built, so :func:`siaga.runtime.heap.settle_heap` freezes what it loaded."""
    svc.transports.warm_up()
    svc.notifier.warm_up(now)


def component(ctx: RuntimeContext) -> list[Component] | None:
    """Nothing to run without channels; else the worker, and the bot when one is configured."""
    if not ctx.config.notification.channels:
        return None
    svc = build_service(ctx)
    warm_up(svc, ctx.clock())
    ctx.services.notify = svc
    if ctx.services.cluster is not None:  # every process follows alerts; the holder of "notify" plans and sends
        svc.fence = ctx.services.cluster.declare("notify")

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        manager = ctx.services.alerts
        if svc.actions is None and manager is not None:
            svc.actions = ManagerActions(manager)
        if manager is not None:
            svc.stored_id = manager.stored_id  # provisional ids of alerts the store took late
        tasks = []
        queue = None
        if manager is not None:
            queue = manager.subscribe()
            tasks.append(asyncio.create_task(svc.consume(queue, stop)))
        wake = None
        cluster = ctx.services.cluster
        if cluster is not None and cluster.shared:  # woken when another process stores an alert's change
            from siaga.cluster.handoff import ChannelListener
            from siaga.store.engine import libpq_dsn as dsn

            loop = asyncio.get_running_loop()

            def woken(*_payload: object) -> None:
                loop.call_soon_threadsafe(svc.woken)

            wake = ChannelListener(dsn(ctx.engine), WAKE_CHANNEL, woken, woken)
            wake.start()
        try:
            await svc.run(stop)
        finally:
            if wake is not None:
                await asyncio.to_thread(wake.stop)
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if manager is not None and queue is not None:
                manager.unsubscribe(queue)
            await svc.transports.aclose()

    out = [Component("notify", run)]
    bot_cfg = ctx.config.notification.telegram_bot
    if bot_cfg is not None and not ctx.demo:
        from siaga.notify.telegram_bot import TelegramBot

        bot = TelegramBot(svc, bot_cfg)

        async def run_bot(ctx: RuntimeContext, stop: asyncio.Event) -> None:
            await bot.run(stop)

        out.append(Component("notify.telegram", run_bot, role="notify.telegram"))
    return out
