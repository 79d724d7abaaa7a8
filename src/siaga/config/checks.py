"""Service checks and maintenance windows in ``siaga.yaml``.

Checks sit in the top-level ``checks:`` list, each naming the ``service`` it watches (a service may
have several: its web site, its TLS certificate, its database). One list keeps a site with 10,000
endpoints easy to generate and lets a check exist for a service declared elsewhere in the file.

A service is *down* when any of its checks is down; the confirmation counts (N failures in a row
before down, M successes before up) smooth a flapping target. Secrets (database passwords, header
tokens) come from ``*_file`` paths or ``${ENV}`` references, never inline.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from siaga.config.errors import Refusal, unknown
from siaga.config.types import EnvRef, EnvText, Seconds, SecretFile, SecretPairs, Slug, Strict
from siaga.i18n.messages import Message

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "PTR", "SRV", "CAA")
HEARTBEAT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"  # a slug; a UUID is one too


class Confirm(Strict):
    """How many results in a row change a check's state (against flapping)."""

    failures: int = Field(
        default=3, ge=1, le=20,
        description="Failures in a row before the check is down; retried at retry_interval_s while in doubt.",
    )
    successes: int = Field(default=2, ge=1, le=20, description="Successes in a row before a down check is up again.")


class CheckBase(Strict):
    """What every check has: what it watches, how often, how patiently."""

    id: Slug | None = Field(
        default=None, description="A short id for the check; default: the service id and the type (portal-http)."
    )
    service: Slug = Field(description="Id of the service this check watches.")
    name: str | None = Field(default=None, description="A longer name shown next to the check.")
    interval_s: Seconds = Field(default=60, ge=1, le=86400, description="Time between two checks.")
    timeout_s: Seconds = Field(default=10, gt=0, le=300, description="Seconds before one attempt counts as failed.")
    retry_interval_s: Seconds = Field(
        default=10, gt=0, le=3600, description="Seconds between retries while the check is in doubt."
    )
    confirm: Confirm = Field(default_factory=Confirm, description="Results in a row needed to change state.")
    enabled: bool = Field(default=True, description="false: keep it in the file but do not run it.")

    @property
    def check_id(self) -> str:
        return self.id or f"{self.service}-{self.type_name}"

    @property
    def type_name(self) -> str:
        return str(getattr(self, "type"))  # noqa: B009 - every subclass declares its literal type

    def target_host(self) -> str:
        """The host this check talks to (for per-host politeness); '' when none."""
        return ""


class HttpCheck(CheckBase):
    """An HTTP(S) request: status, keyword, JSON value, latency."""

    type: Literal["http"] = Field(description="http: fetch a URL.")
    url: str = Field(description="The URL to fetch (http:// or https://).", examples=["https://bontangkota.go.id"])
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = Field(default="GET", description="HTTP method.")
    headers: dict[str, EnvText] = Field(
        default_factory=dict, description="Request headers; a value may be a ${ENV} reference (for tokens)."
    )
    body: str | None = Field(default=None, description="Request body (for POST/PUT).")
    expected_status: list[int] = Field(
        default_factory=list,
        description="Status codes that count as up; empty: any 2xx or 3xx (after redirects when followed).",
    )
    keyword: str | None = Field(default=None, description="Text the body must contain.")
    keyword_absent: str | None = Field(default=None, description="Text the body must not contain (e.g. 'Error').")
    json_path: str | None = Field(
        default=None, description="A JSONPath into the JSON body that must match ($.status); see json_expected.",
    )
    json_expected: str | int | float | bool | None = Field(
        default=None, description="The value found at json_path must equal this; empty: the path must exist.",
    )
    max_latency_ms: float | None = Field(
        default=None, gt=0, description="Slower than this (milliseconds) counts as a failure."
    )
    follow_redirects: bool = Field(default=True, description="Follow redirects to the final page.")
    verify_tls: bool = Field(default=True, description="Check the server's certificate (https).")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise Refusal("config.check.url", value=repr(value))
        return value

    @field_validator("expected_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        for code in value:
            if not 100 <= code <= 599:
                raise Refusal("config.check.status", code=str(code))
        return value

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, value: str | None) -> str | None:
        if value is not None:
            from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
            from jsonpath_ng.ext.parser import parse

            try:
                parse(value)
            except (JsonPathLexerError, JsonPathParserError, Exception) as exc:
                raise Refusal("config.check.json_path", value=repr(value), error=str(exc)) from None
        return value

    def target_host(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


class TcpCheck(CheckBase):
    """A TCP connection to a port."""

    type: Literal["tcp"] = Field(description="tcp: open a TCP connection.")
    host: str = Field(description="Host name or address.")
    port: int = Field(ge=1, le=65535, description="TCP port.")

    def target_host(self) -> str:
        return f"{self.host}:{self.port}"


def _host_port(value: str, default_port: int) -> tuple[str, int]:
    m = re.fullmatch(r"\[([0-9a-fA-F:]+)\](?::(\d+))?|([^:]+)(?::(\d+))?|([0-9a-fA-F:]+)", value)
    if not m:
        raise Refusal("config.check.address", value=repr(value))
    host = m.group(1) or m.group(3) or m.group(5)
    port = int(m.group(2) or m.group(4) or default_port)
    if not 1 <= port <= 65535:
        raise Refusal("config.check.port", port=str(port))
    return host, port


class DnsCheck(CheckBase):
    """A DNS query: record type, expected answers, chosen resolver."""

    type: Literal["dns"] = Field(description="dns: resolve a name.")
    query: str = Field(description="The name to resolve.", examples=["bontangkota.go.id"])
    record_type: str = Field(default="A", description="Record type: " + ", ".join(RECORD_TYPES) + ".")
    expected: list[str] = Field(
        default_factory=list,
        description="Answers that must all be present (e.g. addresses); empty: any answer will do.",
    )
    resolver: str | None = Field(
        default=None, description="Resolver to ask as address[:port] (e.g. 10.0.0.53:53); empty: the system's."
    )

    @field_validator("record_type")
    @classmethod
    def _record_type(cls, value: str) -> str:
        up = value.upper()
        if up not in RECORD_TYPES:
            raise Refusal("config.check.record_type", value=repr(value), known=", ".join(RECORD_TYPES))
        return up

    @field_validator("resolver")
    @classmethod
    def _resolver(cls, value: str | None) -> str | None:
        if value is not None:
            host, _port = _host_port(value, 53)
            try:
                ipaddress.ip_address(host)
            except ValueError:
                raise Refusal("config.check.resolver", value=repr(value)) from None
        return value

    def resolver_address(self) -> tuple[str, int] | None:
        return None if self.resolver is None else _host_port(self.resolver, 53)

    def target_host(self) -> str:
        return self.resolver or "system-resolver"


class TlsCheck(CheckBase):
    """The TLS certificate of a server: days left before it expires."""

    type: Literal["tls"] = Field(description="tls: check a certificate's expiry.")
    host: str = Field(description="Host name or address to connect to.")
    port: int = Field(default=443, ge=1, le=65535, description="TCP port.")
    server_name: str | None = Field(default=None, description="Name to ask for (SNI) and verify; default: host.")
    warning_days: int = Field(default=21, ge=0, description="Fewer days left than this: a warning.")
    critical_days: int = Field(default=7, ge=0, description="Fewer days left than this: critical.")
    verify: bool = Field(default=True, description="Also require a certificate chain the system trusts.")
    ca_file: SecretFile | None = Field(
        default=None, description="Extra CA certificates (PEM) to trust, e.g. an in-house CA."
    )
    interval_s: Seconds = Field(default=3600, ge=1, le=86400, description="Time between two checks.")

    @model_validator(mode="after")
    def _order(self) -> TlsCheck:
        if self.critical_days > self.warning_days:
            raise Refusal("config.check.days_order")
        return self

    def target_host(self) -> str:
        return f"{self.host}:{self.port}"


class HeartbeatCheck(CheckBase):
    """A job that pings siaga (``POST`` or ``GET /ping/<ping_id>``); silence past period + grace is down."""

    type: Literal["heartbeat"] = Field(description="heartbeat: wait for pings from a job.")
    ping_id: str | None = Field(
        default=None,
        pattern=HEARTBEAT_ID,
        description="The last part of the ping URL: a slug or a UUID (harder to guess); default: the check id.",
    )
    period_s: Seconds = Field(gt=0, description="Seconds between two expected pings (the job's schedule).")
    grace_s: Seconds = Field(default=300, ge=0, description="Seconds of lateness tolerated before down.")
    interval_s: Seconds = Field(default=30, ge=1, le=86400, description="Seconds between two looks at the last ping.")

    @property
    def ping_key(self) -> str:
        return self.ping_id or self.check_id


class DatabaseCheck(CheckBase, SecretPairs):
    """Log in to a database and run a query."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": False}

    type: Literal["database"] = Field(description="database: log in and run a query.")
    engine: Literal["postgresql", "mysql"] = Field(description="postgresql or mysql (MySQL and MariaDB).")
    host: str = Field(description="Host name or address.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Port; default 5432 or 3306.")
    database: str | None = Field(default=None, description="Database name.")
    user: str = Field(description="User to log in as.")
    password: EnvRef | None = Field(default=None, description="Password as a ${ENV} reference.")
    password_file: SecretFile | None = Field(
        default=None, description="File holding the password (relative to the config)."
    )
    query: str = Field(default="SELECT 1", description="Query to run; it must succeed.")
    expected: str | None = Field(
        default=None, description="The first column of the first row, as text, must equal this."
    )

    @property
    def effective_port(self) -> int:
        return self.port or (5432 if self.engine == "postgresql" else 3306)

    def target_host(self) -> str:
        return f"{self.host}:{self.effective_port}"


Check = Annotated[
    HttpCheck | TcpCheck | DnsCheck | TlsCheck | HeartbeatCheck | DatabaseCheck,
    Field(discriminator="type"),
]


class MaintenanceWindow(Strict):
    """Planned work: checks keep running, but the time is excluded from uptime and shown as maintenance."""

    id: Slug
    title: str = Field(description="What is being done, as the public should read it.")
    starts_at: dt.datetime = Field(
        description="Start; without a zone it is the site's local time (WITA for Bontang).",
        examples=["2025-07-20T22:00"],
    )
    ends_at: dt.datetime = Field(description="End; without a zone it is the site's local time.")
    services: list[Slug] = Field(default_factory=list, description="Ids of the services affected; empty: all.")
    description: str | None = Field(default=None, description="More detail for the status page.")
    places: list[Slug] = Field(
        default_factory=list,
        description="Notify: ids of rooms, racks or devices whose alerts are recorded but not paged meanwhile.",
    )
    rules: list[str] = Field(
        default_factory=list,
        description="Notify: only alerts of these rules (names or patterns such as temperature.*) are silenced.",
    )

    @model_validator(mode="after")
    def _order(self) -> MaintenanceWindow:
        if self.ends_at <= self.starts_at:
            raise Refusal("config.maintenance.order")
        return self


def check_findings(checks: list[CheckBase], services: set[str]) -> list[tuple[tuple[str | int, ...], Message]]:
    """Cross-field problems of the checks: unknown services, duplicate ids and ping ids."""

    out: list[tuple[tuple[str | int, ...], Message]] = []
    ids: dict[str, int] = {}
    pings: dict[str, int] = {}
    for i, check in enumerate(checks):
        if check.service not in services:
            out.append((("checks", i, "service"), unknown("service", check.service, services)))
        cid = check.check_id
        if cid in ids:
            out.append(
                (("checks", i, "id"), Message("config.check.duplicate_id", {"id": repr(cid),
                                                                            "other": f"checks[{ids[cid]}]"}))
            )
        else:
            ids[cid] = i
        if isinstance(check, HeartbeatCheck):
            key = check.ping_key
            if key in pings:
                out.append((("checks", i, "ping_id"), Message("config.check.ping_id", {
                    "id": repr(key), "other": f"checks[{pings[key]}]"})))
            else:
                pings[key] = i
    return out


def maintenance_findings(
    windows: list[MaintenanceWindow], services: set[str]
) -> list[tuple[tuple[str | int, ...], Message]]:
    out: list[tuple[tuple[str | int, ...], Message]] = []
    for i, window in enumerate(windows):
        for j, sid in enumerate(window.services):
            if sid not in services:
                out.append((("maintenance", i, "services", j), unknown("service", sid, ())))
    return out
