"""TCP checks: a connection to a port opens."""

from __future__ import annotations

import asyncio
import contextlib
import time

from siaga.checks.base import CheckFailed, Observation, ProbeContext, connect_failure
from siaga.config.checks import TcpCheck
from siaga.i18n.messages import Message


class TcpProbe:
    def __init__(self, check: TcpCheck) -> None:
        self.check = check

    async def probe(self, ctx: ProbeContext) -> Observation:
        host, port = ctx.redirects.get(self.check.host, (self.check.host, self.check.port))
        start = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(host, port)
        except OSError as exc:
            raise CheckFailed(connect_failure(exc, f"{self.check.host}:{self.check.port}")) from None
        latency = round((time.perf_counter() - start) * 1000, 2)
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return Observation(latency_ms=latency,
                           said=Message("check.ok.tcp", {"port": self.check.port, "latency_ms": round(latency)}))
