"""The MQTT subscriber in a process of its own (``mqtt.subscriber: process``, the default).

Why a process: paho-mqtt handles every QoS 1 message in Python (read, parse, PUBACK), and so do our
decoding, the rules and the readings writer. In one process they share one interpreter lock and
single-reading messages ran at about half the rate a bare paho subscriber reaches
(bench/ingest_throughput.py). Here paho and the decoding run in the subscriber process, on the
other core, and siaga's process only validates, runs the rules and stores.

The subscriber (``python -m siaga.sources.mqtt.subscriber``) talks to siaga over its stdin and stdout,
one pickled tuple at a time (both ends are siaga; nothing else writes there):

- siaga -> subscriber: first ``(ClientSettings, TopicTable)``; then ``("took",)`` as soon as it has read a
  batch off the pipe, ``("ack", [(mid, qos), ...])`` once each batch's readings are safe (committed to the
  store, or spooled), and ``("stop",)``.
  End of input means siaga is gone: stop at once.
- subscriber -> siaga: ``("connected", session_present, topics)``, ``("refused", reason)``,
  ``("disconnected", reason)``, ``("batch", messages, readings, problems, acks)`` with readings as
  ``(sensor, value, ts)`` tuples, and ``("stopped",)`` last.

No reading is acknowledged to the broker before it is safe in siaga: paho runs with manual
acknowledgement and a message's PUBACK goes out when siaga answers its batch with ``ack``, which it
does once the batch's readings are committed or spooled (``ReadingWriter.when_durable``; a batch
without readings, at once). Batches go on meanwhile: the next ones are ingested (and their rules run,
so a leak pages at once) while the store commits the earlier ones. A message
that arrives after ``stop`` is neither forwarded nor acknowledged, so the broker keeps it in the
persistent session and delivers it on the next start. If either side dies, what was not acknowledged
is delivered again (QoS 1 is at least once).

A batch is whatever arrived while siaga was still taking the previous one: one message when the room is
quiet (a leak crosses in well under a millisecond), hundreds under load. While the previous batch is
still in the pipe (siaga busy with the one before), the subscriber keeps adding to the open batch
instead of sending a batch of one message behind it: a message waits no longer (siaga would have taken
it after that batch anyway), and what a batch costs whatever its size (a pickle, a wake-up, a write to the
store, an acknowledgement) is paid once for many messages (in ``bench/cluster.py``'s ingest, 13-14
messages a batch against 9-10 before). siaga says ``took`` when it has read a batch, and the flusher sends
the one held meanwhile then: it sleeps until told, not on a clock (woken every 2 ms, it cost a busy
subscriber 240 wake-ups a second).
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import logging
import os
import pickle
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from siaga.sources.mqtt.receiver import ClientSettings, Receiver
from siaga.sources.mqtt.routes import Problem, TopicTable
from siaga.sources.reading import RawReading

log = logging.getLogger("siaga.sources.mqtt")

PROTOCOL = pickle.HIGHEST_PROTOCOL
MAX_BATCH = 500  # messages per batch at most (under load the socket is never empty)
MAX_BATCH_READINGS = 2000  # readings per batch at most: a leak behind a batch waits for its ingest
FLUSH_AFTER_S = 0.002  # a batch left open this long, siaga not behind, is sent by the flusher
TOOK_WAIT_S = 0.05  # while siaga is behind, the flusher looks again after this at the latest (siaga says "took")
STOP_ACK_WAIT_S = 5.0  # at stop, how long the subscriber waits for siaga to acknowledge what it sent

Item = tuple[Any, ...]
ReadingTuple = tuple[str, object, Any]


def unread(f: Any) -> int:
    """Bytes waiting to be read in a socket or a pipe (``FIONREAD``; either end of a pipe), 0 when it cannot
    say (closed, or not a file). Thread-safe: a buffer of its own each call."""
    n = array.array("i", [0])
    try:
        fcntl.ioctl(f.fileno(), termios.FIONREAD, n, True)
    except (OSError, ValueError):
        return 0
    return n[0]


def _send(out: IO[bytes], obj: object) -> None:
    pickle.dump(obj, out, protocol=PROTOCOL)
    out.flush()


# --- the subscriber process ------------------------------------------------------------------------


class Forwarder:
    """Batches what paho's thread reports and sends it to siaga; hands siaga's acknowledgements to paho.

    Batching happens in paho's network thread: a message's readings join the open batch, and the batch
    goes out at once when the socket holds nothing more to read (a quiet room: one message per batch,
    no delay) or when it is full; while siaga has not taken the batch sent before, the open batch is held. A
    flusher thread sends a batch held when siaga says it took the one before (``took``), or left open for
    ``FLUSH_AFTER_S`` (the bytes waiting on the socket were not a message). The command thread reads siaga's
    answers and acknowledges each batch's messages.
    """

    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.receiver: Receiver | None = None
        self.stopping = False
        self.parent_gone = False
        self._lock = threading.Lock()  # the open batch
        self._closed = False  # the last batch is sent: later messages are left to the broker
        self._messages = 0
        self._readings: list[ReadingTuple] = []
        self._problems: list[Problem] = []
        self._acks: list[tuple[int, int]] = []
        self._opened = 0.0  # monotonic time the open batch got its first message
        self._unacked = 0  # batches sent that siaga has not acknowledged yet
        self._acked = threading.Condition()
        self._wake = threading.Event()  # an open batch for the flusher to watch
        self._took = threading.Event()  # siaga read a batch off the pipe: a batch held may go now

    # ReceiverHandler (paho's network thread)
    def connected(self, session_present: bool, topics: int) -> None:
        self._event(("connected", session_present, topics))

    def refused(self, reason: str) -> None:
        self._event(("refused", reason))

    def disconnected(self, reason: str) -> None:
        self._event(("disconnected", reason))

    def message(self, mid: int, qos: int, readings: list[RawReading], problems: list[Problem]) -> None:
        with self._lock:
            if self._closed:
                return  # neither forwarded nor acknowledged: the broker delivers it again next time
            if not self._messages:
                self._opened = time.monotonic()
            self._messages += 1
            for r in readings:
                self._readings.append((r.sensor, r.value, r.ts))
            if problems:
                self._problems += problems
            if qos:
                self._acks.append((mid, qos))
            if (self._messages < MAX_BATCH and len(self._readings) < MAX_BATCH_READINGS
                    and (self._more_to_read() or self._siaga_behind())):
                if not self._wake.is_set():
                    self._wake.set()  # the flusher sends it if no other message comes soon
                return
            self._flush_locked()

    def _more_to_read(self) -> bool:
        """The broker's socket holds bytes paho has not read yet (more of a message, or another)."""
        sock = self.receiver.client.socket() if self.receiver is not None else None
        return sock is not None and unread(sock) > 0

    def _siaga_behind(self) -> bool:
        """siaga has not taken all of the batch sent last: its bytes are still in the pipe."""
        return unread(self.out) > 0

    def _event(self, event: Item) -> None:
        with self._lock:
            self._flush_locked()  # what came before it goes first
            self.send(event)

    def _flush_locked(self) -> None:
        if not self._messages:
            return
        batch = ("batch", self._messages, self._readings, self._problems, self._acks)
        self._messages, self._readings, self._problems, self._acks = 0, [], [], []
        with self._acked:
            self._unacked += 1
        self.send(batch)

    def _ack(self, acks: list[tuple[int, int]]) -> None:
        """Siaga has ingested a batch: acknowledge its messages to the broker (paho queues the PUBACKs)."""
        if self.receiver is not None:
            for mid, qos in acks:
                self.receiver.ack(mid, qos)
        with self._acked:
            self._unacked -= 1
            self._acked.notify_all()

    # commands from siaga (a thread of their own)
    def read_commands(self, inp: IO[bytes]) -> None:
        try:
            while True:
                cmd = pickle.load(inp)
                if cmd[0] == "ack":
                    self._ack(cmd[1])
                elif cmd[0] == "took":
                    self._took.set()
                elif cmd[0] == "stop":
                    self.stopping = True
                    break
        except (EOFError, OSError, pickle.UnpicklingError):
            self.parent_gone = True
            self.stopping = True
        self._wake.set()
        with self._acked:
            self._acked.notify_all()
        if not self.parent_gone:  # after "stop", siaga still acknowledges what it was sent
            try:
                while True:
                    cmd = pickle.load(inp)
                    if cmd[0] == "ack":
                        self._ack(cmd[1])
            except (EOFError, OSError, pickle.UnpicklingError):
                self.parent_gone = True

    # the flusher (the subscriber's main thread)
    def run(self) -> None:
        """Send batches held or left open until stopped; then send the last one and wait for its
        acknowledgement."""
        while not self.stopping:
            if not self._messages:
                self._wake.clear()
                if not self._messages:
                    self._wake.wait(1.0)  # no open batch: sleep until there is one
                continue
            if self._siaga_behind():
                # held until siaga takes the batch before it: it says so (a message arriving meanwhile finds
                # the pipe empty and sends the batch itself); the pipe is what tells, the word only wakes
                self._took.wait(TOOK_WAIT_S)
                self._took.clear()
                continue
            wait = self._opened + FLUSH_AFTER_S - time.monotonic()
            if wait > 0:
                time.sleep(wait)
                continue
            with self._lock:
                if not self._siaga_behind():  # a message may have sent it, and opened another, meanwhile
                    self._flush_locked()
        if self.receiver is not None and not self.parent_gone:
            # a shared subscriber whose session ends at the disconnect: the broker sends the next messages to
            # the other processes; what came before is still forwarded and acknowledged (a persistent slot
            # session keeps its subscription: Receiver.unsubscribe does nothing)
            with contextlib.suppress(Exception):
                self.receiver.unsubscribe()
        with self._lock:
            # the last batch: one sent later could be ingested after the PUBACKs stopped, and be
            # delivered again at the next start
            self._closed = True
            self._flush_locked()
        with self._acked:
            self._acked.wait_for(lambda: self._unacked <= 0 or self.parent_gone, STOP_ACK_WAIT_S)

    def send(self, obj: object) -> None:
        if self.parent_gone:
            return
        try:
            _send(self.out, obj)
        except (BrokenPipeError, OSError):
            self.parent_gone = True
            self.stopping = True


def main() -> None:
    """``python -m siaga.sources.mqtt.subscriber``: read the settings from stdin, forward until stopped."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print of any library goes to stderr, never into the stream to siaga
    from siaga import netguard

    netguard.install()
    inp = sys.stdin.buffer
    settings, table = pickle.load(inp)
    forwarder = Forwarder(out)
    receiver = Receiver(settings, table, forwarder, manual_ack=True)
    forwarder.receiver = receiver
    threading.Thread(target=forwarder.read_commands, args=(inp,), name="siaga-commands", daemon=True).start()
    receiver.start()
    try:
        forwarder.run()
    finally:
        with contextlib.suppress(Exception):
            receiver.stop()
        forwarder.send(("stopped",))
        # not a normal interpreter exit: the command thread is blocked reading stdin, which siaga
        # closes only after "stopped"; everything worth keeping has been sent
        os._exit(0)


# --- siaga's side -----------------------------------------------------------------------------------


class SubscriberProcess:
    """Starts the subscriber, hands its batches and events to callbacks (from a reader thread), stops it."""

    def __init__(
        self,
        settings: ClientSettings,
        table: TopicTable,
        on_event: Callable[[Item], None],
        on_batch: Callable[[int, list[RawReading], list[Problem]], int],
        when_durable: Callable[[int, Callable[[], None]], None] | None = None,
        on_end: Callable[[], None] = lambda: None,
    ) -> None:
        self.settings = settings
        self.table = table
        self.on_event = on_event
        self.on_batch = on_batch  # returns the batch's write mark (IngestResult.mark)
        self.when_durable = when_durable
        self.ended = threading.Event()  # the subscriber's output ended (stopped, or died)
        self.on_end = on_end  # called (from the reader's thread) once ``ended`` is set
        self.clean = False  # it said it stopped
        self._proc: subprocess.Popen[bytes] | None = None
        self._write_lock = threading.Lock()
        self._reader: threading.Thread | None = None

    def start(self) -> None:
        import siaga

        env = dict(os.environ)
        here = str(Path(siaga.__file__).resolve().parents[1])  # the same siaga as this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "siaga.sources.mqtt.subscriber"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            close_fds=True,
        )
        self._write((self.settings, self.table))
        self._reader = threading.Thread(target=self._read, name="siaga-mqtt-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _write(self, obj: object) -> None:
        proc = self._proc
        if proc is None or proc.stdin is None:
            return
        # a subscriber that is gone: the reader sees the end of its output and reports it
        with self._write_lock, contextlib.suppress(OSError, ValueError):
            _send(proc.stdin, obj)

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        stream = self._proc.stdout
        try:
            while True:
                item = pickle.load(stream)
                kind = item[0]
                if kind == "batch":
                    self._write(("took",))  # the subscriber sends what it held meanwhile
                    _kind, messages, tuples, problems, acks = item
                    mark = 0
                    try:
                        mark = self.on_batch(messages, [RawReading(s, v, t, "mqtt") for s, v, t in tuples], problems)
                    finally:
                        self._ack_when_safe(mark, acks)
                elif kind == "stopped":
                    self.clean = True
                    break
                else:
                    self.on_event(item)
        except (EOFError, OSError, ValueError, pickle.UnpicklingError):
            pass  # the subscriber is gone (or stop closed its output)
        except Exception:  # a bug in a callback must not leave the subscriber waiting forever
            log.exception("mqtt: handling the subscriber's output failed")
        finally:
            self.ended.set()
            self.on_end()

    def _ack_when_safe(self, mark: int, acks: list[tuple[int, int]]) -> None:
        if self.when_durable is None or not mark:
            self._write(("ack", acks))
        else:
            self.when_durable(mark, lambda: self._write(("ack", acks)))

    def stop(self, timeout: float = STOP_ACK_WAIT_S + 5.0) -> None:
        """Ask the subscriber to stop, take in what it still sends, and wait for it to exit."""
        proc = self._proc
        if proc is None:
            return
        self._write(("stop",))
        deadline = time.monotonic() + timeout
        self.ended.wait(timeout)
        with self._write_lock:
            if proc.stdin is not None:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("mqtt: the subscriber process did not stop in %.0f s; killing it", timeout)
            proc.kill()
            proc.wait()
        if self._reader is not None:
            self._reader.join(5)
        if proc.stdout is not None:
            proc.stdout.close()
        self._proc = None


if __name__ == "__main__":
    main()
