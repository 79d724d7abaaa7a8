"""The heartbeat: tells the store every ``ctx.heartbeat_seconds`` (30 s) that this siaga session is alive."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools

from sqlalchemy import Connection

from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext
from siaga.store.sessions import heartbeat


async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
    interval = ctx.heartbeat_seconds
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set() or ctx.session_id is None:
            return
        await ctx.run_db(functools.partial(_beat, session_id=ctx.session_id, now=ctx.clock()))


def _beat(conn: Connection, *, session_id: int, now: dt.datetime) -> None:
    heartbeat(conn, session_id, now)


component = Component("heartbeat", run)
