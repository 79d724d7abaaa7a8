"""Live updates: a broker that tells every open page what changed, sent as Server-Sent Events.

Pages listen on ``/events`` (htmx's SSE extension) and re-fetch the fragments an event names
(``alerts``, ``readings``, ``services``, ``backups``). The broker only says *what* changed; the
fragment routes decide what each person may see. What changes reaches the broker from the routes of this
process and, on PostgreSQL, from the store itself (``LISTEN siaga_live``: every process's writes), else
from a poller that compares the tables' versions every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

TOPICS = ("alerts", "readings", "services", "backups")
LIVE_CHANNEL = "siaga_live"
"""PostgreSQL: the channel the tables' triggers notify with the topic that changed (migration
``cluster_0002``), so a change made by any process reaches the pages of every process."""


class Broker:
    """Fan-out of change notices to subscribers (each an asyncio queue); never blocks a publisher."""

    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = set()
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def publish(self, topic: str, data: dict[str, Any] | None = None) -> None:
        """Tell every subscriber ``topic`` changed; safe to call from any thread."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is not None and running is not loop:
            loop.call_soon_threadsafe(self._put, topic, data or {})
        else:
            self._put(topic, data or {})

    def _put(self, topic: str, data: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a slow page: drop its oldest notice, it re-fetches anyway
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait((topic, data))

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[tuple[str, dict[str, Any]]]]:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


def sse_message(event: str, data: dict[str, Any] | str) -> str:
    """One Server-Sent Event."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = "".join(f"data: {line}\n" for line in payload.splitlines() or [""])
    return f"event: {event}\n{lines}\n"
