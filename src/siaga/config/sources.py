"""Config of the sensor sources: the ``source:`` block of a sensor and the ``mqtt:``, ``snmp:`` and
``http_push:`` sections of siaga.yaml.

A sensor's ``source`` is a union told apart by its ``type`` key (mqtt, http, snmp, simulator); a type siaga
does not read yet (modbus) is refused with a message saying so, never accepted and then ignored.
Secrets never sit inline: passwords, communities and tokens come from ``*_file`` paths (or, for an
HTTP token, its SHA-256 digest).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator, model_validator

from siaga.config.errors import Loc, Refusal
from siaga.config.types import EnvRef, Seconds, SecretFile, SecretPairs, Slug
from siaga.config.types import Strict as _Strict
from siaga.snmp_profiles import PROFILES

OID = r"^\.?[0-2](\.[0-9]+)+$"
SHA256_HEX = r"^[0-9a-fA-F]{64}$"

# --- the source block of a sensor ---------------------------------------------------------------


class PayloadFormat(StrEnum):
    """How the payload on a topic is written."""

    auto = "auto"  # a number, a word (ON/OFF, wet/dry...), a JSON object or a JSON batch array
    json = "json"  # a JSON object; the value under `field` (default "value")
    number = "number"  # a plain number (or word) as text
    batch = "batch"  # a JSON array of {"sensor", "value", "ts"} items
    zigbee2mqtt = "zigbee2mqtt"  # zigbee2mqtt's device JSON: water_leak, temperature, humidity, smoke, contact
    tasmota = "tasmota"  # Tasmota's tele/<device>/SENSOR JSON: {"Time": ..., "AM2301": {"Temperature": ...}}
    esphome = "esphome"  # ESPHome state topics: <node>/sensor/<name>/state holding "24.3" or "ON"/"OFF"


class _Transform(_Strict):
    scale: float = Field(default=1.0, description="Multiply the received value by this (e.g. 0.1 for tenths).")
    offset: float = Field(default=0.0, description="Then add this (e.g. a calibration offset).")
    fahrenheit: bool = Field(
        default=False, description="The device sends °F: siaga converts to °C at the edge (after scale/offset)."
    )
    invert: bool = Field(
        default=False,
        description=(
            "For a binary reading: 1 becomes 0 and 0 becomes 1 (zigbee2mqtt's `contact: true` means a "
            "closed door)."
        ),
    )


class MqttSensorSource(_Transform):
    """Readings arrive on an MQTT topic (one topic per sensor) or through a gateway of `mqtt.gateways`."""

    type: Literal["mqtt"] = Field(description="mqtt")
    topic: str | None = Field(
        default=None,
        description=(
            "The topic this sensor publishes on (after `mqtt.topic_prefix`). Leave empty when a gateway "
            "of `mqtt.gateways` carries it."
        ),
        examples=["zigbee2mqtt/leak-r1-ceiling"],
    )
    field: str | None = Field(
        default=None,
        description=(
            "Where the value sits in a JSON payload, dotted for nested objects (`water_leak`, "
            "`AM2301.Temperature`). Default: `value`, or the whole payload when it is a plain number."
        ),
    )
    format: PayloadFormat = Field(
        default=PayloadFormat.auto,
        description="auto, json, number, batch, zigbee2mqtt, tasmota or esphome.",
    )
    gateway: Slug | None = Field(
        default=None, description="Id of the gateway in `mqtt.gateways` that carries this sensor."
    )
    key: str | None = Field(
        default=None,
        description=(
            "The name the gateway gives this sensor (a field path of its JSON, the sensor name in its "
            "batch items, or an ESPHome object id). Default: the sensor's id."
        ),
    )

    @field_validator("topic")
    @classmethod
    def _plain_topic(cls, value: str | None) -> str | None:
        if value is not None:
            _check_topic(value, wildcards=False)
        return value

    @model_validator(mode="after")
    def _topic_or_gateway(self) -> MqttSensorSource:
        if self.topic is None and self.gateway is None:
            raise Refusal("config.source.mqtt_where")
        if self.topic is not None and self.gateway is not None:
            raise Refusal("config.source.mqtt_both")
        return self


class HttpSensorSource(_Transform, SecretPairs):
    """Readings are pushed to `POST /api/v1/readings` with a bearer token."""

    secret_pairs: ClassVar[dict[str, bool]] = {"token": False}

    type: Literal["http"] = Field(description="http")
    token: EnvRef | None = Field(
        default=None, description="This sensor's bearer token as ${ENV_VAR} (siaga keeps only its hash)."
    )
    token_file: SecretFile | None = Field(
        default=None, description="File holding this sensor's bearer token (siaga keeps only its hash)."
    )
    token_sha256: str | None = Field(
        default=None,
        pattern=SHA256_HEX,
        description="SHA-256 of the bearer token, in hex (`printf %s TOKEN | sha256sum`), instead of a file.",
    )
    gateway: Slug | None = Field(
        default=None, description="Id of the gateway in `http_push.gateways` whose token may push this sensor."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> HttpSensorSource:
        given = [k for k in ("token", "token_file", "token_sha256", "gateway") if getattr(self, k) is not None]
        if len(given) > 1:
            raise Refusal("config.source.http_one", given=", ".join(given))
        return self


class SnmpSensorSource(_Strict):
    """A value polled over SNMP from a device of `snmp.devices`."""

    type: Literal["snmp"] = Field(description="snmp")
    device: Slug = Field(description="Id of the agent in `snmp.devices`.")
    profile: str | None = Field(
        default=None, description="A ready profile (ups-mib); default: the device's profile."
    )
    metric: str | None = Field(
        default=None,
        description=(
            "A metric of the profile. ups-mib: on_battery, battery_charge, runtime, input_voltage, "
            "output_voltage, load, battery_temperature."
        ),
    )
    oid: str | None = Field(
        default=None, pattern=OID, description="Or any numeric OID to GET (e.g. an environment probe)."
    )
    scale: float = Field(default=1.0, description="Multiply the polled value by this (0.1 for tenths of a degree).")
    offset: float = Field(default=0.0, description="Then add this.")

    @model_validator(mode="after")
    def _metric_or_oid(self) -> SnmpSensorSource:
        if (self.metric is None) == (self.oid is None):
            raise Refusal("config.source.snmp_metric")
        return self


class SimulatorSensorSource(_Strict):
    """Readings come from the scenario the simulator replays: only `siaga demo` runs it (`siaga serve` refuses
    a sensor with this source; `siaga config check` warns)."""

    type: Literal["simulator"] = Field(description="simulator")


SOURCE_TYPES = ("mqtt", "http", "snmp", "simulator")
NOT_BUILT = {"modbus": "config.source.not_built.modbus"}
"""Source types people ask for that siaga does not read yet (each with its message key: what to do instead):
refused, never accepted and then ignored."""


def _known_type(value: Any) -> Any:
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            raise Refusal("config.source.type_missing", known=", ".join(SOURCE_TYPES))
        if kind in NOT_BUILT:
            raise Refusal(NOT_BUILT[kind], type=repr(kind))
        if kind not in SOURCE_TYPES:
            close = difflib.get_close_matches(str(kind), SOURCE_TYPES, n=1)
            if close:
                raise Refusal("config.source.type_unknown.close", type=repr(kind), close=repr(close[0]))
            raise Refusal("config.source.type_unknown", type=repr(kind), known=", ".join(SOURCE_TYPES))
    return value


SensorSource = Annotated[
    MqttSensorSource | HttpSensorSource | SnmpSensorSource | SimulatorSensorSource,
    Field(discriminator="type"),
    BeforeValidator(_known_type),
]


# --- mqtt: ----------------------------------------------------------------------------------------


class MqttTls(_Strict):
    """TLS towards the broker."""

    enabled: bool = Field(default=True, description="Use TLS.")
    ca_file: SecretFile | None = Field(default=None, description="CA certificate file (default: the system's).")
    cert_file: SecretFile | None = Field(default=None, description="Client certificate, for brokers that ask for one.")
    key_file: SecretFile | None = Field(default=None, description="The client certificate's key file.")
    insecure: bool = Field(default=False, description="Do not check the broker's host name (testing only).")


class MqttGateway(_Strict):
    """A topic whose payloads carry several sensors (a zigbee2mqtt bridge, a Tasmota node, a batch sender)."""

    id: Slug
    topic: str = Field(
        description="Topic filter (after `topic_prefix`); `+` and `#` wildcards allowed.",
        examples=["tele/rack-r3/SENSOR", "esphome-r3/sensor/+/state", "siaga/gw-1/readings"],
    )
    format: PayloadFormat = Field(
        default=PayloadFormat.auto, description="auto, json, batch, zigbee2mqtt, tasmota or esphome."
    )
    sensors: list[Slug] | None = Field(
        default=None,
        description=(
            "For a batch gateway: the sensor ids its items may name (default: any sensor mapped to it, "
            "or every sensor when none is)."
        ),
    )

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        _check_topic(value, wildcards=True)
        return value


class Mqtt(SecretPairs):
    """The MQTT broker siaga subscribes to."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": False}

    host: str = Field(default="127.0.0.1", description="Broker host name or address.")
    port: int = Field(default=1883, ge=1, le=65535, description="Broker port (8883 for TLS).")
    tls: MqttTls | None = Field(default=None, description="TLS settings; empty: plain TCP.")
    username: str | None = Field(default=None, description="User name, if the broker asks for one.")
    password: EnvRef | None = Field(default=None, description="The broker password as ${ENV_VAR}.")
    password_file: SecretFile | None = Field(default=None, description="File holding the broker password.")
    client_id: str = Field(
        default="siaga",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Fixed client id: the broker keeps siaga's persistent session under it.",
    )
    qos: Literal[0, 1, 2] = Field(default=1, description="QoS of the subscriptions (1: nothing lost on reconnect).")
    protocol: Literal["3.1.1", "5"] = Field(default="5", description="MQTT protocol version.")
    session_expiry_s: int = Field(
        default=86_400,
        ge=0,
        description="How long the broker keeps siaga's session (and queues its readings) while it is away (MQTT 5).",
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="Keepalive interval in seconds.")
    topic_prefix: str = Field(default="", description="Prefix put before every sensor and gateway topic.")
    reconnect_min_s: Seconds = Field(default=0.5, gt=0, description="First reconnect delay; doubles up to the max.")
    reconnect_max_s: Seconds = Field(default=30.0, gt=0, description="Longest delay between reconnect attempts.")
    unreachable_alert_s: Seconds = Field(
        default=60.0,
        gt=0,
        description="A broker unreachable this long raises a system alert (mqtt.unreachable).",
    )
    gateways: list[MqttGateway] = Field(default_factory=list, description="Topics carrying several sensors.")
    shared: Literal["auto", "on", "off"] = Field(
        default="auto",
        description=(
            "Share the sensors' messages across several siaga processes through an MQTT shared subscription "
            "(`$share/<shared_group>/<topic>`: each message goes to one process). `auto`: on when the store "
            "is PostgreSQL (several processes may run), off on SQLite (one process). When shared, the "
            "processes hold MQTT slots (leases `mqtt/<n>`, as many as processes) and connect as "
            "`<client_id>-<n>` with a persistent session of `shared_session_expiry_s`: what the broker "
            "queued for a process that died is taken by the next holder of its slot."
        ),
    )
    shared_group: str = Field(
        default="siaga",
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="The shared subscription's group: every siaga process of one site uses the same.",
    )
    shared_session_expiry_s: int = Field(
        default=3600,
        ge=0,
        description=(
            "How long the broker keeps a slot's session (its subscription and the messages queued for it) "
            "while no siaga process holds the slot: a process killed is replaced within `runtime.lease`, so "
            "this matters when every process is down. Longer keeps more of an outage's readings; the broker "
            "holds them meanwhile (per session at most mosquitto's `max_queued_messages`) and drops them "
            "when the session expires. 0: the session ends at the disconnect (what was in flight to a "
            "process killed is lost, and nothing is queued while every process is down)."
        ),
    )
    subscriber: Literal["process", "thread"] = Field(
        default="process",
        description=(
            "Where the MQTT client runs: `process` (a subscriber process of its own, on another core: "
            "the fastest) or `thread` (inside siaga's process)."
        ),
    )


# --- snmp: ----------------------------------------------------------------------------------------


class SnmpV3(SecretPairs):
    """SNMPv3 user (USM). The level follows from the protocols given: noAuthNoPriv, authNoPriv, authPriv."""

    secret_pairs: ClassVar[dict[str, bool]] = {"auth_password": False, "priv_password": False}

    user: str = Field(description="USM user name.")
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] | None = Field(
        default=None, description="Authentication: md5, sha, sha224, sha256, sha384 or sha512."
    )
    auth_password: EnvRef | None = Field(default=None, description="The authentication passphrase as ${ENV_VAR}.")
    auth_password_file: SecretFile | None = Field(
        default=None, description="File holding the authentication passphrase."
    )
    priv_protocol: Literal["des", "3des", "aes", "aes192", "aes256"] | None = Field(
        default=None, description="Privacy (encryption): des, 3des, aes, aes192 or aes256."
    )
    priv_password: EnvRef | None = Field(default=None, description="The privacy passphrase as ${ENV_VAR}.")
    priv_password_file: SecretFile | None = Field(default=None, description="File holding the privacy passphrase.")
    context: str = Field(default="", description="SNMPv3 context name, if the agent wants one.")

    @model_validator(mode="after")
    def _pairs(self) -> SnmpV3:
        if (self.auth_protocol is None) != (self.secret_ref("auth_password") is None):
            raise Refusal("config.source.snmp_auth", env="${ENV}")
        if (self.priv_protocol is None) != (self.secret_ref("priv_password") is None):
            raise Refusal("config.source.snmp_priv", env="${ENV}")
        if self.priv_protocol is not None and self.auth_protocol is None:
            raise Refusal("config.source.snmp_priv_auth")
        return self


class SnmpDevice(SecretPairs):
    """An SNMP agent siaga polls (a UPS card, an environment probe)."""

    secret_pairs: ClassVar[dict[str, bool]] = {"community": False}

    id: Slug
    host: str = Field(description="Agent host name or address.")
    port: int = Field(default=161, ge=1, le=65535, description="UDP port.")
    version: Literal["v2c", "v3"] = Field(default="v2c", description="v2c or v3.")
    community: EnvRef | None = Field(default=None, description="v2c: the community as ${ENV_VAR}.")
    community_file: SecretFile | None = Field(
        default=None, description="v2c: file holding the community (default: `public`)."
    )
    v3: SnmpV3 | None = Field(default=None, description="v3: the USM user.")
    interval_s: Seconds = Field(default=30.0, ge=1, description="Seconds between polls.")
    timeout_s: Seconds = Field(default=3.0, gt=0, description="Seconds to wait for an answer.")
    retries: int = Field(default=1, ge=0, le=10, description="Retries of an unanswered request.")
    profile: str | None = Field(default=None, description="Default profile of its sensors (ups-mib).")

    @model_validator(mode="after")
    def _v3_user(self) -> SnmpDevice:
        if self.version == "v3" and self.v3 is None:
            raise Refusal("config.source.snmp_v3_block")
        if self.version == "v2c" and self.v3 is not None:
            raise Refusal("config.source.snmp_v3_version")
        return self


class Snmp(_Strict):
    """SNMP agents polled by siaga."""

    devices: list[SnmpDevice] = Field(default_factory=list, description="The agents.")


# --- http_push: -----------------------------------------------------------------------------------


class HttpGateway(SecretPairs):
    """A device that pushes readings of several sensors with one token."""

    secret_pairs: ClassVar[dict[str, bool]] = {"token": False}

    id: Slug
    token: EnvRef | None = Field(default=None, description="The gateway's bearer token as ${ENV_VAR}.")
    token_file: SecretFile | None = Field(default=None, description="File holding the gateway's bearer token.")
    token_sha256: str | None = Field(
        default=None, pattern=SHA256_HEX, description="SHA-256 of the bearer token in hex, instead of a file."
    )

    @model_validator(mode="after")
    def _one_credential(self) -> HttpGateway:
        given = [k for k in ("token", "token_file", "token_sha256") if getattr(self, k) is not None]
        if len(given) != 1:
            raise Refusal("config.source.gateway_token", env="${ENV}")
        return self


class HttpPush(_Strict):
    """`POST /api/v1/readings`: sensors and gateways push readings over HTTP."""

    enabled: bool = Field(default=True, description="Serve the push endpoint.")
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger request bodies are refused (413)."
    )
    max_items: int = Field(default=5000, ge=1, description="Most readings in one request.")
    gateways: list[HttpGateway] = Field(default_factory=list, description="Tokens that push for several sensors.")


# --- cross checks ---------------------------------------------------------------------------------

Finding = tuple[Loc, str]


def _check_topic(value: str, *, wildcards: bool) -> None:
    if not value or len(value.encode()) > 65535 or "\x00" in value:
        raise Refusal("config.topic.invalid")
    parts = value.split("/")
    for i, part in enumerate(parts):
        if ("+" in part or "#" in part) and not wildcards:
            raise Refusal("config.topic.wildcards")
        if "#" in part and (part != "#" or i != len(parts) - 1):
            raise Refusal("config.topic.hash")
        if "+" in part and part != "+":
            raise Refusal("config.topic.plus")


def check_source_references(cfg: Any) -> list[Finding]:
    """Cross-field problems of the sources: gateways, SNMP devices and profile metrics that exist."""
    findings: list[Finding] = []
    mqtt: Mqtt | None = cfg.mqtt
    snmp: Snmp | None = cfg.snmp
    push: HttpPush | None = cfg.http_push
    mqtt_gw = {g.id for g in mqtt.gateways} if mqtt else set()
    http_gw = {g.id for g in push.gateways} if push else set()
    snmp_dev = {d.id: d for d in snmp.devices} if snmp else {}
    sensor_ids = {s.id for s in cfg.sensors}
    findings += _dupes("mqtt", "gateways", mqtt.gateways if mqtt else [])
    findings += _dupes("snmp", "devices", snmp.devices if snmp else [])
    findings += _dupes("http_push", "gateways", push.gateways if push else [])
    topics: dict[str, str] = {}
    for i, sensor in enumerate(cfg.sensors):
        src = sensor.source
        loc: Loc = ("sensors", i, "source")
        if isinstance(src, MqttSensorSource):
            if mqtt is None:
                findings.append(((*loc, "type"), "an mqtt sensor needs an `mqtt:` section (the broker)"))
            if src.gateway is not None and src.gateway not in mqtt_gw:
                findings.append(((*loc, "gateway"), f"unknown mqtt gateway {src.gateway!r}"))
            if src.topic is not None:
                implied = f"<{sensor.kind}>" if src.format is PayloadFormat.zigbee2mqtt else ""
                key = f"{src.topic}\x00{src.field or implied}"
                if key in topics:
                    findings.append(((*loc, "topic"), f"sensor {topics[key]} already reads this topic and field"))
                topics.setdefault(key, sensor.id)
        elif isinstance(src, HttpSensorSource):
            if src.gateway is not None and src.gateway not in http_gw:
                findings.append(((*loc, "gateway"), f"unknown http_push gateway {src.gateway!r}"))
            if src.gateway is None and src.secret_ref("token") is None and src.token_sha256 is None:
                findings.append(((*loc, "type"), "an http sensor needs token_file, token_sha256 or gateway "
                                                 "(or token: ${ENV})"))
        elif isinstance(src, SnmpSensorSource):
            dev = snmp_dev.get(src.device)
            if dev is None:
                findings.append(((*loc, "device"), f"unknown snmp device {src.device!r} (see snmp.devices)"))
                continue
            if src.metric is not None:
                profile = src.profile or dev.profile
                if profile is None:
                    findings.append(((*loc, "metric"), "a metric needs a profile (here or on the snmp device)"))
                elif profile not in PROFILES:
                    findings.append(
                        ((*loc, "profile"), f"unknown snmp profile {profile!r}; known: {', '.join(PROFILES)}")
                    )
                elif src.metric not in PROFILES[profile]:
                    findings.append(
                        (
                            (*loc, "metric"),
                            f"profile {profile} has no metric {src.metric!r}; "
                            f"known: {', '.join(PROFILES[profile])}",
                        )
                    )
    for i, gw in enumerate(mqtt.gateways if mqtt else []):
        for j, sid in enumerate(gw.sensors or []):
            if sid not in sensor_ids:
                findings.append((("mqtt", "gateways", i, "sensors", j), f"unknown sensor {sid!r}"))
    for i, dev in enumerate(snmp.devices if snmp else []):
        if dev.profile is not None and dev.profile not in PROFILES:
            msg = f"unknown snmp profile {dev.profile!r}; known: {', '.join(PROFILES)}"
            findings.append((("snmp", "devices", i, "profile"), msg))
    return findings


def demo_only_sources(cfg: Any) -> list[Finding]:
    """Sensors whose source only ``siaga demo`` feeds: under ``siaga serve`` they would never get a reading."""
    return [
        (("sensors", i, "source", "type"),
         "source type 'simulator' is fed only by `siaga demo`: under `siaga serve` this sensor would never "
         "get a reading (use mqtt, http or snmp)")
        for i, sensor in enumerate(cfg.sensors)
        if isinstance(sensor.source, SimulatorSensorSource)
    ]


def _dupes(section: str, key: str, items: Sequence[Any]) -> list[Finding]:
    seen: set[str] = set()
    out: list[Finding] = []
    for i, item in enumerate(items):
        if item.id in seen:
            out.append(((section, key, i, "id"), f"duplicate id {item.id!r}"))
        seen.add(item.id)
    return out

