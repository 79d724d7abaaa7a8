"""Readings handed to the holder of their rule shard, over PostgreSQL ``LISTEN``/``NOTIFY``.

The process that received a reading stores it (the readings writer, as always) and, when another process
holds the sensor's rule shard (:mod:`siaga.cluster.rule_shards`), sends it on the channel
``siaga_readings`` at once (before its own commit: the holder's rules must not wait for the writer's
group commit; the store is the record a shard taken over replays). Every process listens; each takes
the readings of the shards it holds. A notification carries a JSON list of ``[sensor, value, ts_ms,
received_ms]`` (value ``null`` for the device's own online/offline word), cut to PostgreSQL's 8000-byte
payload limit.

Two threads per process, each with its own connection (autocommit, outside the engine's pool):
:class:`Publisher` (a queue the ingest path fills, drained into as few ``pg_notify`` calls as fit) and
:class:`Listener`. A connection that fails is opened again after a second; a listener that was away
asks for the shards it holds to be loaded again from the store (``on_gap``), since notifications sent
meanwhile are gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from sqlalchemy import Engine

from siaga.cluster.rule_shards import Handoff

log = logging.getLogger("siaga.cluster.handoff")

CHANNEL = "siaga_readings"
MAX_PAYLOAD = 7900  # PostgreSQL refuses a payload of 8000 bytes or more
RETRY_S = 1.0


def dsn(engine: Engine) -> str:
    """The engine's URL as a libpq connection string."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def payloads(items: list[Handoff]) -> list[str]:
    """``items`` as JSON lists, each under :data:`MAX_PAYLOAD` bytes."""
    out: list[str] = []
    chunk: list[str] = []
    size = 2
    for item in items:
        part = json.dumps(item, separators=(",", ":"))
        if chunk and size + len(part) + 1 > MAX_PAYLOAD:
            out.append("[" + ",".join(chunk) + "]")
            chunk, size = [], 2
        chunk.append(part)
        size += len(part) + 1
    if chunk:
        out.append("[" + ",".join(chunk) + "]")
    return out


def parse(payload: str) -> list[Handoff]:
    """The handoffs of one notification; a payload siaga did not write gives none."""
    try:
        raw: Any = json.loads(payload)
    except ValueError:
        return []
    out: list[Handoff] = []
    if not isinstance(raw, list):
        return out
    for item in raw:
        if (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str)
                and (item[1] is None or isinstance(item[1], int | float))
                and isinstance(item[2], int) and isinstance(item[3], int)):
            out.append((item[0], None if item[1] is None else float(item[1]), item[2], item[3]))
    return out


class Publisher:
    """Sends what the ingest path hands off, from a thread of its own."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.queue: queue.SimpleQueue[list[Handoff] | None] = queue.SimpleQueue()
        self.sent = 0
        self.failed = 0
        self._thread: threading.Thread | None = None

    def publish(self, items: list[Handoff]) -> None:
        """Thread-safe, never blocks."""
        self.queue.put(items)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="siaga-handoff-publish", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.queue.put(None)
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        conn: psycopg.Connection[Any] | None = None
        stopping = False
        while not stopping:
            first = self.queue.get()
            if first is None:
                break
            items = list(first)
            with contextlib.suppress(queue.Empty):
                while True:
                    more = self.queue.get_nowait()
                    if more is None:
                        stopping = True
                        break
                    items += more
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.conninfo, autocommit=True)
                for p in payloads(items):
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, p))
                self.sent += len(items)
            except psycopg.Error as exc:
                # the readings are in the store (or its spool): a shard's holder that missed them finds
                # them when it loads the shard again; the rules of this moment miss them
                self.failed += len(items)
                log.warning("cluster: cannot hand readings to their shard holders", extra={"error": str(exc)})
                if conn is not None:
                    with contextlib.suppress(Exception):
                        conn.close()
                conn = None
                time.sleep(RETRY_S)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()


class ChannelListener:
    """``LISTEN`` on one channel from a thread of its own; each notification's payload to ``on_payload``.
    ``on_gap`` is called when listening starts again after its connection failed (what was sent meanwhile
    is lost here)."""

    def __init__(self, conninfo: str, channel: str, on_payload: Callable[[str], object],
                 on_gap: Callable[[], object] = lambda: None) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self.on_payload = on_payload
        self.on_gap = on_gap
        self.listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"siaga-listen-{self.channel}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {self.channel}")
                    self.listening.set()
                    if not first:
                        self.on_gap()
                    first = False
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=0.5):
                            try:
                                self.on_payload(n.payload)
                            except Exception:
                                log.exception("cluster: handling a notification failed",
                                              extra={"channel": self.channel})
            except psycopg.Error as exc:
                self.listening.clear()
                if not self._stop.is_set():
                    log.warning("cluster: not listening; trying again", extra={"channel": self.channel,
                                                                               "error": str(exc)})
                first = False
                self._stop.wait(RETRY_S)
        self.listening.clear()


class Listener(ChannelListener):
    """Receives the readings handed off by every process and gives them to ``on_items`` (its thread); a
    listener that was away asks for its shards to be loaded again (``on_gap``)."""

    def __init__(self, conninfo: str, on_items: Callable[[list[Handoff]], object],
                 on_gap: Callable[[], object]) -> None:
        super().__init__(conninfo, CHANNEL, self._payload, on_gap)
        self.on_items = on_items
        self.received = 0

    def _payload(self, payload: str) -> None:
        items = parse(payload)
        if items:
            self.received += len(items)
            self.on_items(items)
