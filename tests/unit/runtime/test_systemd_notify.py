"""sd_notify on a real unix datagram socket: READY, STATUS, WATCHDOG from the loop, STOPPING."""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from siaga.config import LoadedConfig, parse_config
from siaga.runtime import Component, RuntimeContext
from siaga.runtime.serve import run_siaga
from siaga.runtime.supervisor import mark_ready
from siaga.runtime.systemd import SystemdNotifier
from siaga.store import create_engine_for, sqlite_url, upgrade


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A socket like systemd's: AF_UNIX, datagrams, on a short path (sun_path holds 108 bytes)."""
    with tempfile.TemporaryDirectory(prefix="sd", dir="/tmp") as d:
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.setblocking(False)
        try:
            yield sock, path
        finally:
            sock.close()


def _drain(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


async def _receive(sock: socket.socket, want: str) -> list[str]:
    """Datagrams until one holds the line ``want`` (5 s at most)."""
    seen: list[str] = []
    try:
        async with asyncio.timeout(5):
            while not any(want in m.splitlines() for m in seen):
                await asyncio.sleep(0.01)  # lets the loop run: the feeding task lives on it
                seen += _drain(sock)
    except TimeoutError:
        raise AssertionError(f"no {want} in {seen}") from None
    return seen


async def test_a_blocked_event_loop_stops_the_watchdog_pings(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = SystemdNotifier(path, watchdog_usec=40_000)  # WATCHDOG=1 every 20 ms
    stop = asyncio.Event()
    feeding = asyncio.create_task(notifier.feed_watchdog(stop))
    await _receive(sock, "WATCHDOG=1")
    _drain(sock)
    time.sleep(0.3)  # noqa: ASYNC251 - the point: the loop hangs (a blocking call in a coroutine): 15 periods without a ping
    assert _drain(sock) == []
    await _receive(sock, "WATCHDOG=1")  # the loop runs again: so does the feeding
    stop.set()
    await feeding
    notifier.close()


def test_the_notifier_reads_systemds_environment(tmp_path: Path) -> None:
    n = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@siaga-test", "WATCHDOG_USEC": "30000000",
                                      "WATCHDOG_PID": str(os.getpid())})
    assert n.enabled and n.watchdog_interval == 15.0
    assert n._target() == "\0siaga-test"  # the abstract namespace
    other = SystemdNotifier.from_environ({"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000",
                                          "WATCHDOG_PID": "1"})
    assert other.enabled and other.watchdog_interval is None  # that watchdog watches another process
    off = SystemdNotifier.from_environ({})
    assert not off.enabled and not off.send("READY=1")
    gone = SystemdNotifier(str(tmp_path / "nobody-listens"))
    assert not gone.ready("x") and gone.failed == 1  # said in the log, never raised


async def test_serve_says_ready_once_serving_feeds_the_watchdog_and_says_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    loaded = LoadedConfig(parse_config("site: {name: Test, language: en}\n", "t.yaml"), tmp_path / "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "t.db"))
    upgrade(engine)
    ctx = RuntimeContext(loaded=loaded, engine=engine)
    up = asyncio.Event()

    async def web(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        await up.wait()
        mark_ready()
        await own.wait()

    async def other(_ctx: RuntimeContext, own: asyncio.Event) -> None:
        await own.wait()

    stop = asyncio.Event()
    notifier = SystemdNotifier(path, watchdog_usec=100_000)
    running = asyncio.create_task(run_siaga(
        ctx, [Component("web", web, critical=True), Component("other", other)], stop=stop, grace=1,
        notifier=notifier,
    ))
    before = await _receive(sock, "WATCHDOG=1")
    assert not any("READY=1" in m for m in before)  # not while the critical component is not up
    up.set()
    seen = await _receive(sock, "READY=1")
    [ready] = [m for m in seen if "READY=1" in m.splitlines()]
    assert "STATUS=watching: 2 components running" in ready.splitlines()
    assert f"MAINPID={os.getpid()}" in ready.splitlines()
    await _receive(sock, "WATCHDOG=1")
    stop.set()
    assert await asyncio.wait_for(running, 5) is None
    assert any("STOPPING=1" in m.splitlines() for m in _drain(sock))


async def test_status_names_the_components_that_restart(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    loaded = LoadedConfig(parse_config("site: {name: Test, language: en}\n", "t.yaml"), tmp_path / "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "t.db"))
    upgrade(engine)
    ctx = RuntimeContext(loaded=loaded, engine=engine)

    async def boom(_ctx: RuntimeContext, _own: asyncio.Event) -> None:
        raise RuntimeError("no")

    stop = asyncio.Event()
    running = asyncio.create_task(run_siaga(ctx, [Component("checks", boom)], stop=stop, grace=1,
                                            notifier=SystemdNotifier(path)))
    await _receive(sock, "STATUS=degraded, restarting: checks")
    stop.set()
    assert await asyncio.wait_for(running, 5) is None
