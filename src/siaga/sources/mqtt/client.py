"""The MQTT source: a subscriber (paho-mqtt) whose readings go to the shared ingest path.

Why paho-mqtt: measured on our 2-core machine (bench/mqtt_clients.py), a bare paho subscriber drains
QoS 1 messages 2.5 to 4 times as fast as a bare aiomqtt one, whose per-message asyncio plumbing
costs more than the message itself.

Two ways to run it (``mqtt.subscriber``):

- ``process`` (default): paho and the decoding run in a subscriber process of their own
  (:mod:`siaga.sources.mqtt.subscriber`), on the other core; its batches are handed to ingest by a
  reader thread here. A message is acknowledged to the broker only once its readings are safe
  (committed to the store or spooled: ``durable``, the readings writer's ``when_durable``).
  A subscriber that dies is started again (after ``reconnect_min_s``, doubling up to ``reconnect_max_s``).
- ``thread``: paho's network thread runs in siaga's process and hands each message's readings to
  the (thread-safe) ``IngestSink.ingest`` itself; the message is acknowledged when its readings are safe
  (or once ingest returns, when no ``durable`` is given: tests and benches of the source alone).

Either way: QoS 1 with a persistent session (:mod:`siaga.sources.mqtt.receiver`), so what is
published while siaga is away is delivered when it is back. Several processes sharing the messages
(``mqtt.shared``) run one client per MQTT slot they hold (:mod:`siaga.cluster.slots`), each taking up
the persistent session of ``<client_id>-<n>``: what the broker queued for a process killed is taken
by the next holder of its slot; a broker unreachable for
``unreachable_alert_s`` raises the system condition ``mqtt.unreachable`` (critical: while it lasts
no leak is heard), cleared when the connection is back; malformed payloads are counted per reason
through ``IngestSink.reject``, logged at most once a minute per reason, never a crash. Storing happens
elsewhere (the readings writer), so receiving never waits for the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from siaga.cluster.slots import SlotKeeper
from siaga.config.sources import Mqtt
from siaga.i18n.messages import Message
from siaga.sources.mqtt.receiver import ClientSettings, Receiver
from siaga.sources.mqtt.routes import Problem, TopicTable, unmapped_topic
from siaga.sources.mqtt.subscriber import SubscriberProcess
from siaga.sources.ratelimit import RateLimitedLog
from siaga.sources.reading import IngestSink, RawReading
from siaga.vocab import AlertSink, Condition, Severity, SubjectKind
from siaga.waits import until_either

log = logging.getLogger("siaga.sources.mqtt")

UNREACHABLE_RULE = "mqtt.unreachable"
READOPT_S = 10.0
"""How often the process judging the broker (several processes) looks again for an open ``mqtt.unreachable``
alert it did not raise, while it has none: one raised by the judge before it can reach the store late."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class MqttStats:
    """What the subscriber has seen, for `siaga status` and the tests."""

    connected: bool = False
    connects: int = 0
    messages: int = 0
    batches: int = 0  # handed to ingest, one or more messages each (under load, many)
    readings: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    last_message_at: dt.datetime | None = None
    last_error: str | None = None
    disconnected_since: float | None = None  # monotonic
    restarts: int = 0  # times the subscriber process ended unexpectedly and was started again


@dataclass(frozen=True)
class SharedJudge:
    """Several processes share the messages (``mqtt.shared``): one process's lost connection is not a deaf
    site, since the broker deals its share to the connected ones. So the broker counts as unreachable only
    when no live process is connected, and one process judges it (the holder of ``notify``), so that an
    outage raises one alert and one page."""

    judges: Callable[[], bool]  # this process judges now
    others_connected: Callable[[], bool]  # another live process is connected to the broker now
    adopt: Callable[[], bool]  # take up the open mqtt.unreachable alert from the store; whether there is one


class MqttSource:
    """Subscribes to the sensors' topics and feeds the shared ingest path."""

    def __init__(
        self,
        cfg: Mqtt,
        table: TopicTable,
        sink: IngestSink,
        *,
        base_dir: Path | None = None,
        alerts: AlertSink | None = None,
        clock: Callable[[], dt.datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        durable: Callable[[int, Callable[[], None]], None] | None = None,
        shared: bool = False,
    ) -> None:
        self.cfg = cfg
        self.shared = shared  # one of several processes sharing the messages ($share/<group>/...)
        self.durable = durable  # when_durable(mark, callback): acknowledge only once readings are safe
        self.table = table
        self.sink = sink
        self.base_dir = base_dir
        self.alerts = alerts
        self.clock = clock
        self.monotonic = monotonic
        self.stats = MqttStats()
        self._alerted = False
        self._rlog = RateLimitedLog(log)
        self._stopping = False
        self.connected_event = threading.Event()
        self.subscriber_pid: int | None = None  # the (last started) subscriber process, while one runs
        self.judge: SharedJudge | None = None  # several processes: who judges the broker's reachability
        self._judging = False
        self._adopted_at = 0.0  # (monotonic) when this judge last looked for an open unreachable alert
        self.slots: SlotKeeper | None = None  # several processes on PostgreSQL: the MQTT slots held here
        self.session_id: int | None = None  # this process's runtime session (the slot keeper's member id)
        self._up: set[int | None] = set()  # the sessions (slots; None: the only one) connected now
        self.clients: dict[int | None, int | None] = {}  # the clients running: slot -> subscriber pid

    # --- what the receiver reports (paho's thread, or the reader of the subscriber's output) ------------

    def connected(self, session_present: bool, topics: int, slot: int | None = None) -> None:
        self._up.add(slot)
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.disconnected_since = None
        self.stats.last_error = None
        log.info(
            "connected to %s:%s (session %s, %d topics%s)",
            self.cfg.host, self.cfg.port, "resumed" if session_present else "new", topics,
            "" if slot is None else f", slot {slot}",
        )
        self.connected_event.set()

    def refused(self, reason: str) -> None:
        self.stats.last_error = f"broker refused the connection: {reason}"
        self._rlog.warning("mqtt_refused", f"{self.cfg.host}:{self.cfg.port}: {reason}")

    def disconnected(self, reason: str, slot: int | None = None, stopping: bool | None = None) -> None:
        was = slot in self._up
        self._up.discard(slot)
        if was and not (self._stopping if stopping is None else stopping):
            log.warning("disconnected from %s:%s: %s; reconnecting", self.cfg.host, self.cfg.port, reason)
        if self._up:
            return  # another of this process's sessions is connected: the broker is reachable
        self.stats.connected = False
        self.connected_event.clear()
        if self.stats.disconnected_since is None:
            self.stats.disconnected_since = self.monotonic()

    def received(self, messages: int, readings: list[RawReading], problems: list[Problem]) -> int:
        """Hand ``messages`` messages' readings to ingest and count their problems; returns the write mark.

        The caller acknowledges the messages once the readings up to the mark are safe
        (``durable(mark, ack)``; at once when the mark is 0: nothing to store).
        """
        stats = self.stats
        stats.messages += messages
        stats.batches += 1
        mark = 0
        if readings:
            now = self.clock()
            stats.readings += len(readings)
            stats.last_message_at = now
            try:
                mark = self.sink.ingest(readings, received_at=now).mark
            except Exception:
                log.exception("ingest failed for %d MQTT readings", len(readings))
        for problem in problems:
            reason, detail = problem
            stats.problems[reason] += 1
            self.sink.reject(reason, detail, source="mqtt", topic=unmapped_topic(problem))
            self._rlog.warning(reason, detail)
        return mark

    # --- the system alert for an unreachable broker ----------------------------------------------

    def _check_unreachable(self) -> None:
        if self.judge is not None:
            self._check_shared(self.judge)
            return
        since = self.stats.disconnected_since
        if since is not None and not self._alerted and self.monotonic() - since >= self.cfg.unreachable_alert_s:
            self._alerted = True
            down_s = self.monotonic() - since
            summary = Message("mqtt.unreachable", {"host": self.cfg.host, "port": self.cfg.port, "down_s": down_s})
            log.error("%s: no sensor readings arrive over MQTT (%s)", summary.english(),
                      self.stats.last_error or "no answer")
            self._submit(True, summary, down_s)
        elif since is None and self._alerted:
            self._alerted = False
            log.info("MQTT broker %s:%s reachable again", self.cfg.host, self.cfg.port)
            self._submit(False, Message("mqtt.reachable", {"host": self.cfg.host, "port": self.cfg.port}), None)

    def _check_shared(self, judge: SharedJudge) -> None:
        try:
            judges = judge.judges()
            if not judges:
                self._judging = False
                self._alerted = False  # the judge takes up what this process raised, and resolves it
                return
            if not self._judging:
                self._alerted = judge.adopt()
                self._judging = True
                self._adopted_at = self.monotonic()
            elif not self._alerted and self.monotonic() - self._adopted_at >= READOPT_S:
                # the judge before this process may have raised the alert just as it lost the role, and the
                # alert reached the store only after this process looked: look again now and then, so no
                # "unreachable" is left open (and unresolved by anyone) while the broker answers
                self._adopted_at = self.monotonic()
                self._alerted = judge.adopt()
            since = self.stats.disconnected_since
            long_down = since is not None and self.monotonic() - since >= self.cfg.unreachable_alert_s
            if long_down and not self._alerted and not judge.others_connected():
                self._alerted = True
                assert since is not None
                down_s = self.monotonic() - since
                summary = Message("mqtt.unreachable", {"host": self.cfg.host, "port": self.cfg.port, "down_s": down_s})
                log.error("%s: no siaga process receives sensor readings over MQTT (%s)", summary.english(),
                          self.stats.last_error or "no answer")
                self._submit(True, summary, down_s)
            elif self._alerted and (since is None or judge.others_connected()):
                self._alerted = False
                log.info("MQTT broker %s:%s reachable again", self.cfg.host, self.cfg.port)
                self._submit(False, Message("mqtt.reachable", {"host": self.cfg.host, "port": self.cfg.port}), None)
        except Exception as exc:  # the store cannot say: judged again at the next check
            self._rlog.warning("mqtt_judge", f"cannot judge the broker's reachability for the site: {exc!r}")

    def _submit(self, active: bool, summary: Message, down_s: float | None) -> None:
        if self.alerts is None:
            return
        self.alerts.submit(
            Condition(
                rule=UNREACHABLE_RULE,
                subject="mqtt",
                subject_kind=SubjectKind.system,
                active=active,
                severity=Severity.critical,
                at=self.clock(),
                summary=summary,
                params={"host": self.cfg.host, "port": self.cfg.port, "down_s": down_s},
                fire_at_once=True,
            )
        )

    async def _watch(self, stop: asyncio.Event, ended: asyncio.Event | None = None, check: bool = True) -> None:
        """Check the broker's reachability (``check``) every second until ``stop`` is set (or the subscriber
        process ``ended``: woken at once)."""
        ended = ended if ended is not None else asyncio.Event()
        while not stop.is_set() and not ended.is_set():
            await until_either(stop, ended, 1.0)
            if check:
                self._check_unreachable()

    # --- running ------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Subscribe until ``stop`` is set; then disconnect and hand over every reading received."""
        settings = ClientSettings.resolve(self.cfg, self.base_dir, self.shared)  # raises SecretError
        self.stats.disconnected_since = self.monotonic()
        self._stopping = False
        if self.shared and self.slots is not None:
            await self._run_slots(settings, self.slots, stop)
        else:
            # one process: its fixed client id (shared without a cluster, as on SQLite: slot 0's)
            await self._run_client(settings.for_slot(0) if self.shared else settings, _Link(self, None), stop)
        self._stopping = True

    async def _run_client(self, settings: ClientSettings, link: _Link, stop: asyncio.Event,
                          check: bool = True) -> None:
        if self.cfg.subscriber == "thread":
            await self._run_thread(settings, link, stop, check)
        else:
            await self._run_process(settings, link, stop, check)

    async def _run_slots(self, settings: ClientSettings, keeper: SlotKeeper, stop: asyncio.Event) -> None:
        """One client per slot held here: started when the slot is taken, stopped when it is given up or lost
        (the lease is released only once its client is gone: two clients never share a client id)."""
        keeper_stop = asyncio.Event()
        keeper_task = asyncio.create_task(keeper.run(self.session_id, keeper_stop))
        running: dict[int, tuple[asyncio.Event, asyncio.Task[None]]] = {}
        retry_at: dict[int, float] = {}
        next_check = 0.0
        try:
            while not stop.is_set():
                wanted = set(keeper.held()) if not keeper_task.done() else set()
                for slot, (own_stop, task) in list(running.items()):
                    if slot not in wanted:
                        own_stop.set()
                    if task.done():
                        del running[slot]
                        if not task.cancelled() and (exc := task.exception()) is not None:
                            log.error("mqtt: the client of slot %d failed: %r", slot, exc)
                            retry_at[slot] = self.monotonic() + self.cfg.reconnect_min_s
                        if slot not in wanted:
                            keeper.let_go(slot)
                for slot in sorted(wanted - running.keys()):
                    if self.monotonic() < retry_at.get(slot, 0.0):
                        continue
                    own_stop = asyncio.Event()
                    link = _Link(self, slot)
                    task = asyncio.create_task(self._run_client(settings.for_slot(slot), link, own_stop, check=False))
                    task.add_done_callback(lambda _t: keeper.changed.set())  # its slot is let go at once
                    running[slot] = (own_stop, task)
                if self.monotonic() >= next_check:
                    next_check = self.monotonic() + 1.0
                    self._check_unreachable()
                await keeper.wait_changed(max(0.05, next_check - self.monotonic()))
        finally:
            self._stopping = True
            for own_stop, _task in running.values():
                own_stop.set()
            await asyncio.gather(*(task for _s, task in running.values()), return_exceptions=True)
            keeper_stop.set()  # the leases go once every client is gone
            await keeper_task

    async def _run_thread(self, settings: ClientSettings, link: _Link, stop: asyncio.Event, check: bool) -> None:
        receiver = Receiver(settings, self.table, link, manual_ack=self.durable is not None)
        link.receiver = receiver
        self.clients[link.slot] = None
        receiver.start()
        try:
            await self._watch(stop, check=check)
        finally:
            link.stopping = True
            with contextlib.suppress(Exception):
                await asyncio.to_thread(receiver.unsubscribe)
            await asyncio.to_thread(receiver.stop)
            link.receiver = None
            self.clients.pop(link.slot, None)
            self.disconnected("stopped", link.slot, stopping=True)

    async def _run_process(self, settings: ClientSettings, link: _Link, stop: asyncio.Event, check: bool) -> None:
        delay = self.cfg.reconnect_min_s
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            ended = asyncio.Event()

            def on_end(ended: asyncio.Event = ended) -> None:  # the reader's thread
                with contextlib.suppress(RuntimeError):  # the loop is closed: siaga is stopping
                    loop.call_soon_threadsafe(ended.set)

            sub = SubscriberProcess(settings, self.table, link.event, self.received, self.durable, on_end)
            await asyncio.to_thread(sub.start)
            self.subscriber_pid = sub.pid
            self.clients[link.slot] = sub.pid
            started = self.monotonic()
            try:
                await self._watch(stop, ended, check)
            finally:
                if stop.is_set() or not sub.ended.is_set():
                    link.stopping = True
                await asyncio.to_thread(sub.stop)
                self.clients.pop(link.slot, None)
                if self.subscriber_pid == sub.pid:
                    self.subscriber_pid = None
            if stop.is_set():
                self.disconnected("stopped", link.slot, stopping=True)
                break
            # the subscriber died: no reading arrives until it is back
            self.disconnected("the subscriber process ended", link.slot)
            self.stats.restarts += 1
            log.error("mqtt: the subscriber process ended unexpectedly; starting it again in %.1f s", delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if check:
                self._check_unreachable()
            delay = self.cfg.reconnect_min_s if self.monotonic() - started > 60 else min(
                delay * 2, self.cfg.reconnect_max_s
            )


class _Link:
    """One broker session run here (a slot's; None: the only one): reports to the source under its slot and
    acknowledges its own receiver's messages (``subscriber: thread``)."""

    def __init__(self, source: MqttSource, slot: int | None) -> None:
        self.source = source
        self.slot = slot
        self.receiver: Receiver | None = None
        self.stopping = False

    def connected(self, session_present: bool, topics: int) -> None:
        self.stopping = False
        self.source.connected(session_present, topics, self.slot)

    def refused(self, reason: str) -> None:
        self.source.refused(reason)

    def disconnected(self, reason: str) -> None:
        self.source.disconnected(reason, self.slot, self.stopping or self.source._stopping)

    def message(self, mid: int, qos: int, readings: list[RawReading], problems: list[Problem]) -> None:
        source = self.source
        mark = 0
        try:
            mark = source.received(1, readings, problems)
        finally:
            receiver = self.receiver
            if qos and receiver is not None and receiver.manual_ack:
                if source.durable is None or not mark:
                    receiver.ack(mid, qos)
                else:
                    source.durable(mark, lambda: receiver.ack(mid, qos))

    def event(self, item: tuple[Any, ...]) -> None:
        """What the subscriber process reports (its reader thread)."""
        kind = item[0]
        if kind == "connected":
            self.connected(bool(item[1]), int(item[2]))
        elif kind == "refused":
            self.refused(str(item[1]))
        elif kind == "disconnected":
            self.disconnected(str(item[1]))
