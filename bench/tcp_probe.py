"""The TCP check's probe against its anchor, ``asyncio.open_connection`` (the probe before December 2026): checks
per CPU second of the checking process and the objects each check leaves in reference cycles (freed only by the
garbage collector, whose passes stop every thread of a process), over the same checks in the same run.

    PYTHONPATH=src .venv/bin/python bench/tcp_probe.py [--checks 20000] [--concurrency 200]

The listener is another process (accepting and closing), so only the checking side is measured. Prints one JSON
object: per probe ``checks_per_cpu_s``, ``cycle_objects_per_check`` and the collection's time for them, and
``cpu_ratio`` (the anchor's CPU per check over the probe's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

from siaga.checks.tcp import connect

LISTENER = """
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4096)
print(s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    c.close()
"""


async def anchor(host: str, port: int) -> None:
    """The probe as it was: streams opened, closed, waited for."""
    _reader, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def measure(probe: Callable[[str, int], Awaitable[None]], port: int, checks: int, concurrency: int
                  ) -> dict[str, float]:
    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        for start in range(0, checks, concurrency):
            await asyncio.gather(*(probe("127.0.0.1", port) for _ in range(min(concurrency, checks - start))))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        collect = time.perf_counter()
        left = gc.collect()
        collect = time.perf_counter() - collect
    finally:
        gc.enable()
    return {"checks": checks, "seconds": round(wall, 3), "cpu_s": round(cpu, 3),
            "checks_per_cpu_s": round(checks / max(cpu, 1e-9), 1), "cycle_objects_per_check": round(left / checks, 2),
            "collect_ms": round(collect * 1000, 1)}


async def main(port: int, checks: int, concurrency: int) -> dict[str, object]:
    await measure(connect, port, concurrency, concurrency)  # warm: the loop's first sockets, caches
    probe = await measure(connect, port, checks, concurrency)
    before = await measure(anchor, port, checks, concurrency)
    return {"probe": probe, "anchor_open_connection": before,
            "cpu_ratio": round(before["cpu_s"] / max(probe["cpu_s"], 1e-9), 2)}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checks", type=int, default=20_000)
    ap.add_argument("--concurrency", type=int, default=200)
    args = ap.parse_args()
    listener = subprocess.Popen([sys.executable, "-c", LISTENER], stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        print(json.dumps(asyncio.run(main(int(listener.stdout.readline()), args.checks, args.concurrency))))
    finally:
        listener.kill()
        listener.wait()
