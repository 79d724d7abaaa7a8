"""The ``wait`` step: until a TCP port is open or closed (a host coming up, or being off)."""

from __future__ import annotations

import asyncio
import contextlib
import time

from siaga.runbooks.plan import Action
from siaga.runbooks.steps.base import Outcome, StepContext, said


async def port_open(address: str, port: int, timeout_s: float = 1.0) -> bool:
    """Whether something accepts a TCP connection on ``address:port`` now."""
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(address, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def wait_port(address: str, port: int, until: str, timeout_s: float, poll_s: float) -> Outcome:
    """Poll ``address:port`` until it is ``until`` (open or closed), at most ``timeout_s``."""
    begin = time.monotonic()
    while True:
        if await port_open(address, port) == (until == "open"):
            waited = time.monotonic() - begin
            key = "runbook.step.wait.open" if until == "open" else "runbook.step.wait.closed"
            return Outcome(True, said(key, address=address, port=port, seconds=round(waited, 1)),
                           {"waited_s": round(waited, 2)})
        if time.monotonic() - begin >= timeout_s:
            key = "runbook.step.wait.not_open" if until == "open" else "runbook.step.wait.not_closed"
            return Outcome(False, said(key, address=address, port=port, timeout=round(timeout_s)),
                           {"timed_out": True})
        await asyncio.sleep(poll_s)


async def run(action: Action, ctx: StepContext) -> Outcome:
    assert action.address is not None and action.port is not None
    return await wait_port(action.address, action.port, action.until or "closed", action.timeout_s, ctx.poll_s)
