"""Readings handed to the holder of their rule shard, over PostgreSQL ``LISTEN``/``NOTIFY``.

The process that received a reading stores it (the readings writer, as always) and, when another process
holds the sensor's rule shard (:mod:`siaga.cluster.rule_shards`), sends it on the channel
``siaga_readings`` at once (before its own commit: the holder's rules must not wait for the writer's
group commit; the store is the record a shard taken over replays). Every process listens; each takes
the readings of the shards it holds. A notification carries one or more parts, one a line: a JSON list
of ``[sensor, value, ts_ms, received_ms]`` (value ``null`` for the device's own online/offline word), the
readings of one shard, behind the shard's number (``<shard>|<list>``); a notification stays under
PostgreSQL's 8000-byte payload limit. The parts are encoded by the thread that received the readings, at
the end of its batch (while they are in its cache: the same encoding in the publisher's thread, woken
every few milliseconds, cost three times the CPU), and the publisher packs the parts of all shards into
as few notifications as fit (one wake-up of each listener per statement, not one a shard). A
process reads the list only of a shard it holds or is loading: the others' are kept as they came (the
text, for the seconds :class:`~siaga.cluster.rule_shards.Recent` keeps them) and read only if that
process takes their shard, so each reading handed off is parsed once, by its holder, not by every process.

Two threads per process, each with its own connection (autocommit, outside the engine's pool):
:class:`Publisher` (a queue the ingest path fills, drained into as few ``pg_notify`` calls as fit) and
:class:`Listener`. A connection that fails is opened again after a second; a listener that was away
asks for the shards it holds to be loaded again from the store (``on_gap``), since notifications sent
meanwhile are gone.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import pq

from siaga.cluster.rule_shards import Handoff

log = logging.getLogger("siaga.cluster.handoff")

CHANNEL = "siaga_readings"
MAX_PAYLOAD = 7900  # PostgreSQL refuses a payload of 8000 bytes or more
RETRY_S = 1.0
LINGER_S = 0.005
"""After the first reading to hand off, the publisher waits this long for more, so a busy ingest sends a few
notifications a statement, not one round trip a reading (the CPU that cost was most of what a second
process added); a reading's way to its shard's holder is this much longer."""


def payloads(shard: int, items: list[Handoff]) -> list[str]:
    """The readings of ``shard`` as ``<shard>|<JSON list>`` notifications, each under :data:`MAX_PAYLOAD` bytes
    (the JSON is ASCII: a character is a byte). The list is encoded once: a longer one is cut between two
    items of the text (a sensor id, a number cannot hold ``],[``), not encoded again in halves."""
    head = f"{shard}|"
    body = json.dumps(items, separators=(",", ":"))
    if len(head) + len(body) < MAX_PAYLOAD or len(items) == 1:
        return [head + body]
    room = MAX_PAYLOAD - len(head) - 4  # the brackets around a part's items
    out: list[str] = []
    group: list[str] = []
    size = 0
    for item in body[2:-2].split("],["):
        if group and size + 3 + len(item) >= room:
            out.append(head + "[[" + "],[".join(group) + "]]")
            group, size = [], 0
        size += len(item) + (3 if group else 0)
        group.append(item)
    out.append(head + "[[" + "],[".join(group) + "]]")
    return out


def pack(parts: list[str]) -> list[str]:
    """``parts`` (each under :data:`MAX_PAYLOAD`) as few notifications as fit, in order, one part a line."""
    notes: list[str] = []
    group: list[str] = []
    size = 0
    for p in parts:
        if group and size + 1 + len(p) >= MAX_PAYLOAD:
            notes.append("\n".join(group))
            group, size = [], 0
        size += len(p) + (1 if group else 0)
        group.append(p)
    if group:
        notes.append("\n".join(group))
    return notes


def split(payload: str) -> tuple[int, str] | None:
    """A part's shard and its list (still text); ``None`` for one siaga did not write."""
    head, bar, body = payload.partition("|")
    if not bar or not head.isdigit():
        return None
    return int(head), body


@functools.cache
def notify_sql(n: int) -> bytes:
    """One statement sending ``n`` notifications, in order (a round trip and one statement for a batch: an
    execute each, even pipelined, cost the publisher a third more CPU a reading)."""
    return ("SELECT " + ", ".join(f"pg_notify(${2 * i + 1}, ${2 * i + 2})" for i in range(n))).encode()


def send(pgconn: Any, notes: list[str]) -> None:
    """Send ``notes`` on :data:`CHANNEL` in one statement through libpq itself (psycopg's cursor layer cost
    the publisher more CPU than the notifications; the call lets other threads run while it waits)."""
    channel = CHANNEL.encode()
    res = pgconn.exec_params(notify_sql(len(notes)), [x for p in notes for x in (channel, p.encode())])
    if res.status != pq.ExecStatus.TUPLES_OK:
        raise psycopg.OperationalError(res.get_error_message() or pgconn.get_error_message())


class Publisher:
    """Sends what the ingest path hands off, from a thread of its own."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self.queue: queue.SimpleQueue[tuple[list[str], int] | None] = queue.SimpleQueue()
        self.sent = 0
        self.failed = 0
        self._thread: threading.Thread | None = None

    def publish(self, shard: int, items: list[Handoff]) -> None:
        """Hand ``items`` (readings of ``shard``) to the shard's holder: encoded here, in the caller's thread,
        and sent from the publisher's. Thread-safe, never blocks."""
        self.queue.put((payloads(shard, items), len(items)))

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
            time.sleep(LINGER_S)
            parts, count = list(first[0]), first[1]
            with contextlib.suppress(queue.Empty):
                while True:
                    more = self.queue.get_nowait()
                    if more is None:
                        stopping = True
                        break
                    parts += more[0]
                    count += more[1]
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.conninfo, autocommit=True)
                send(conn.pgconn, pack(parts))
                self.sent += count
            except psycopg.Error as exc:
                # the readings are in the store (or its spool): a shard's holder that missed them finds
                # them when it loads the shard again; the rules of this moment miss them
                self.failed += count
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
    """Receives the readings handed off by every process and gives each notification's parts, (shard, list
    still text) in order, to ``on_parts`` in one call (its thread); a listener that was away asks for its
    shards to be loaded again (``on_gap``)."""

    def __init__(self, conninfo: str, on_parts: Callable[[list[tuple[int, str]]], object],
                 on_gap: Callable[[], object]) -> None:
        super().__init__(conninfo, CHANNEL, self._payload, on_gap)
        self.on_parts = on_parts
        self.received = 0  # notifications
        self.foreign = 0  # notifications (parts of them) siaga did not write

    def _payload(self, payload: str) -> None:
        self.received += 1
        parts: list[tuple[int, str]] = []
        for part in payload.split("\n"):
            got = split(part)
            if got is None:
                self.foreign += 1
            else:
                parts.append(got)
        if parts:
            self.on_parts(parts)
