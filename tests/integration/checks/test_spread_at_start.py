"""Many checks at one interval do not all run in the same second after a start: each runs at its phase
(within the interval, so every service has a verdict within one interval), and the next round too."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path

import pytest
from sqlalchemy import Engine

from siaga.checks.base import CheckResult
from siaga.checks.engine import ChecksEngine
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext

pytestmark = pytest.mark.integration

N, INTERVAL_S = 200, 4


def most_in_one_second(times: list[float]) -> int:
    times = sorted(times)
    most, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        most = max(most, hi - lo + 1)
    return most


def site(port: int) -> LoadedConfig:
    services = "\n".join(f"  - {{id: s{i}, name: S{i}}}" for i in range(N))
    checks = "\n".join(f"  - {{service: s{i}, type: tcp, host: 127.0.0.1, port: {port}, interval_s: {INTERVAL_S}}}"
                       for i in range(N))
    text = f"site: {{name: Test}}\nservices:\n{services}\nchecks:\n{checks}\n"
    return LoadedConfig(parse_config(text, "siaga.yaml"), Path("siaga.yaml").absolute())


async def test_checks_at_one_interval_start_spread_and_each_has_a_verdict_within_the_interval(
        db_engine: Engine) -> None:
    async def close(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    listener = await asyncio.start_server(close, "127.0.0.1", 0)  # a port that takes and closes connections
    runs: dict[str, list[float]] = defaultdict(list)  # check id -> when each of its results came
    try:
        loaded = site(listener.sockets[0].getsockname()[1])
        rt = RuntimeContext(loaded=loaded, engine=db_engine)
        engine = ChecksEngine(loaded.config, base_dir=Path.cwd())
        handle = engine.on_result

        def noted(result: CheckResult) -> float:
            assert result.ok, result.message
            runs[result.check_id].append(time.monotonic())
            return handle(result)

        engine.on_result = noted  # type: ignore[method-assign]
        stop = asyncio.Event()
        started = time.monotonic()
        task = asyncio.create_task(engine.run(rt, stop))
        await asyncio.sleep(2.5 * INTERVAL_S + 0.5)
        stop.set()
        await task
    finally:
        listener.close()
        await listener.wait_closed()
    assert len(runs) == N
    first = [at[0] - started for at in runs.values()]
    # every check has a verdict within one interval of the start (+ the engine's own start)
    assert max(first) < INTERVAL_S + 1.0, max(first)
    # evenly: ~40 a second; all at once would be 200 in one second
    assert most_in_one_second(first) <= N // 2, most_in_one_second(first)
    second = [at[1] - started for at in runs.values() if len(at) > 1]
    assert len(second) == N
    assert most_in_one_second(second) <= N // 2, most_in_one_second(second)
    # and on their cadence: the next run between half an interval and one and a half after the first
    assert all(0.5 * INTERVAL_S - 0.5 <= at[1] - at[0] <= 1.5 * INTERVAL_S + 0.5 for at in runs.values())
