"""The heartbeat: tells the store every ``ctx.heartbeat_seconds`` (30 s) that this siaga session is alive.

A beat the store refuses is not a failure of the heartbeat (``/healthz`` names the store already): it
says so once, beats again at the next interval, and says when the store takes beats again. The next
beat that lands moves ``last_seen_at`` past the outage, so it does not count as "siaga not watching".
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext
from siaga.store.engine import first_error_line
from siaga.store.sessions import heartbeat

log = logging.getLogger("siaga.runtime")


async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
    interval = ctx.heartbeat_seconds
    failing = False
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        if stop.is_set() or ctx.session_id is None:
            continue
        try:
            await ctx.run_db(functools.partial(_beat, session_id=ctx.session_id, now=ctx.clock()))
        except DBAPIError as exc:
            if not failing:
                log.warning("heartbeat: the store refuses it; trying again at the next beat",
                            extra={"error": first_error_line(exc)})
            failing = True
            continue
        if failing:
            log.info("heartbeat: the store takes it again")
        failing = False


def _beat(conn: Connection, *, session_id: int, now: dt.datetime) -> None:
    heartbeat(conn, session_id, now)


component = Component("heartbeat", run)
