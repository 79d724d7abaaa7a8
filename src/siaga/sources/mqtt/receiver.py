"""The paho-mqtt client and the decoding of each message: the part of the MQTT source that receives.

One :class:`Receiver` runs either inside siaga's process (``mqtt.subscriber: thread``) or in a
subscriber process of its own (``process``, the default; see :mod:`siaga.sources.mqtt.subscriber`).
Either way it reports to a :class:`ReceiverHandler` from paho's network thread: connection
changes, and each message's readings and problems.

- QoS 1 with a persistent session under a fixed client id (MQTT 5: clean_start False and a session
  expiry; 3.1.1: clean_session False): the broker keeps what is published while siaga is away and
  delivers it on reconnect. Several processes sharing the messages: the client id is a slot's,
  ``<client_id>-<n>`` (:mod:`siaga.cluster.slots`), so a session outlives the process that opened it and
  whoever takes the slot next gets what was queued for it.
- Reconnects with exponential backoff (paho's, from ``reconnect_min_s`` up to ``reconnect_max_s``).
- With ``manual_ack`` a QoS 1/2 message is acknowledged only when :meth:`Receiver.ack` is called
  with its id (the subscriber process does so once siaga's ingest path has its readings).
"""

from __future__ import annotations

import dataclasses
import ssl
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from siaga.config.sources import Mqtt
from siaga.sources.mqtt.routes import Problem, TopicTable
from siaga.sources.reading import RawReading

RECEIVE_MAXIMUM = 1000  # QoS 1 messages the broker may have in flight to siaga (MQTT 5 Receive Maximum)


@dataclass(frozen=True)
class ClientSettings:
    """Everything the paho client needs, resolved in siaga's process (so it can cross to the subscriber)."""

    cfg: Mqtt
    password: str | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    shared_group: str | None = None  # subscribe as $share/<group>/<topic>, one session per slot
    slot: int | None = None  # the slot whose session this client takes up when shared (siaga.cluster.slots)

    @property
    def client_id(self) -> str:
        if self.shared_group is None or self.slot is None:
            return self.cfg.client_id
        return f"{self.cfg.client_id}-{self.slot}"

    @property
    def session_expiry_s(self) -> int:
        return self.cfg.shared_session_expiry_s if self.shared_group is not None else self.cfg.session_expiry_s

    def topic(self, topic: str) -> str:
        """What to subscribe to for ``topic`` (its shared subscription when shared)."""
        return f"$share/{self.shared_group}/{topic}" if self.shared_group is not None else topic

    @property
    def persistent(self) -> bool:
        """Whether the broker keeps the session after a disconnect (and queues for it)."""
        return self.session_expiry_s > 0

    def for_slot(self, slot: int) -> ClientSettings:
        """The settings of a shared client taking up slot ``slot``'s session (client id ``<client_id>-<slot>``)."""
        return dataclasses.replace(self, slot=slot)

    @classmethod
    def resolve(cls, cfg: Mqtt, base_dir: Path | None, shared: bool = False, slot: int | None = None
                ) -> ClientSettings:
        """Read the password file and make the TLS paths absolute (raises SecretError). ``shared``: one of
        several siaga processes sharing the messages (MQTT shared subscriptions), as ``slot``."""
        settings = cls._resolve(cfg, base_dir)
        if not shared:
            return settings
        return dataclasses.replace(settings, shared_group=cfg.shared_group, slot=slot)

    @classmethod
    def _resolve(cls, cfg: Mqtt, base_dir: Path | None) -> ClientSettings:

        def path(p: str | None) -> str | None:
            if p is None:
                return None
            q = Path(p)
            return str(base_dir / q) if not q.is_absolute() and base_dir is not None else str(q)

        password = cfg.read_secret("password", base_dir)
        tls = cfg.tls
        if tls is None or not tls.enabled:
            return cls(cfg, password)
        return cls(cfg, password, path(tls.ca_file), path(tls.cert_file), path(tls.key_file))


class ReceiverHandler(Protocol):
    """Where a receiver reports, called from paho's network thread."""

    def connected(self, session_present: bool, topics: int) -> None: ...

    def refused(self, reason: str) -> None: ...

    def disconnected(self, reason: str) -> None: ...

    def message(self, mid: int, qos: int, readings: list[RawReading], problems: list[Problem]) -> None: ...


class Receiver:
    """A paho client subscribed to the table's topics, decoding each message at the edge."""

    def __init__(
        self, settings: ClientSettings, table: TopicTable, handler: ReceiverHandler, *, manual_ack: bool = False
    ) -> None:
        self.settings = settings
        self.table = table
        self.handler = handler
        self.manual_ack = manual_ack
        self.client = self._make_client()

    def _make_client(self) -> paho.Client:
        s = self.settings
        cfg = s.cfg
        v5 = cfg.protocol == "5"
        client = paho.Client(
            paho.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
            client_id=s.client_id,
            clean_session=None if v5 else (s.shared_group is not None and s.session_expiry_s == 0),
            protocol=paho.MQTTv5 if v5 else paho.MQTTv311,
            manual_ack=self.manual_ack,
        )
        client.max_inflight_messages_set(RECEIVE_MAXIMUM)
        client.reconnect_delay_set(min_delay=cfg.reconnect_min_s, max_delay=cfg.reconnect_max_s)  # type: ignore[arg-type]
        if cfg.username is not None:
            client.username_pw_set(cfg.username, s.password)
        if cfg.tls is not None and cfg.tls.enabled:
            client.tls_set(
                ca_certs=s.ca_file, certfile=s.cert_file, keyfile=s.key_file, tls_version=ssl.PROTOCOL_TLS_CLIENT
            )
            client.tls_insecure_set(cfg.tls.insecure)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _on_connect(self, client: paho.Client, _u: object, flags: Any, rc: Any, _props: object) -> None:
        if getattr(rc, "is_failure", False):
            self.handler.refused(str(rc))
            return
        subs: list[tuple[str, int]] = [(self.settings.topic(t), self.settings.cfg.qos)
                                       for t in self.table.subscriptions()]
        if subs:
            client.subscribe(subs)
        self.handler.connected(bool(getattr(flags, "session_present", False)), len(subs))

    def _on_disconnect(self, _c: object, _u: object, _flags: object, rc: Any, _props: object) -> None:
        self.handler.disconnected(str(rc))

    def _on_message(self, _c: object, _u: object, msg: paho.MQTTMessage) -> None:
        try:
            readings, problems = self.table.decode(msg.topic, bytes(msg.payload))
        except Exception as exc:  # a bug in decoding must never stop the network thread
            readings, problems = [], [("decode_error", f"{msg.topic}: {exc!r}")]
        self.handler.message(msg.mid, msg.qos, readings, problems)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with ``manual_ack`` (thread-safe; paho queues the PUBACK)."""
        self.client.ack(mid, qos)

    def start(self) -> None:
        """Connect in the background (paho's network thread); reconnects on its own."""
        cfg = self.settings.cfg
        kwargs: dict[str, Any] = {}
        if cfg.protocol == "5":
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = self.settings.session_expiry_s
            props.ReceiveMaximum = RECEIVE_MAXIMUM
            kwargs = {"clean_start": False, "properties": props}
        self.client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, **kwargs)
        self.client.loop_start()

    def unsubscribe(self, timeout_s: float = 2.0) -> None:
        """A shared subscriber whose session ends at the disconnect (``shared_session_expiry_s: 0``), about to
        stop: ask the broker to send it nothing more (the next messages go to the other processes), and wait
        for its answer. What it sent before is handed over and acknowledged as usual.

        A persistent slot session keeps its subscription: what the broker deals it after the stop is queued
        in the session for the next holder of the slot (another process takes it within a round of the
        slot keeper), and nothing is lost when every process stops at once."""
        if self.settings.shared_group is None or self.settings.persistent or not self.client.is_connected():
            return
        done = threading.Event()
        self.client.on_unsubscribe = lambda *_a: done.set()
        topics = [self.settings.topic(t) for t in self.table.subscriptions()]
        if topics:
            self.client.unsubscribe(topics)
            done.wait(timeout_s)

    def stop(self, flush_s: float = 2.0) -> None:
        """Send what paho has queued (PUBACKs above all), disconnect, and wait for its network thread to end.

        A DISCONNECT queued right behind PUBACKs handed over from another thread lost some of them (the
        broker then delivered those messages again at the next start: tested under load), so the queue
        is let to drain first.
        """
        deadline = time.monotonic() + flush_s
        while self.client.want_write() and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.02)  # the last packet taken off the queue is on its way
        try:
            self.client.disconnect()
        finally:
            self.client.loop_stop()
