"""The ``peers:`` section of siaga.yaml: the other siaga processes this one watches or is watched by.

A room's siaga and the colocation's siaga name each other here: each peer has an id, a role (this siaga
*watches* that peer, or *is watched by* it), the URL it answers on, a shared secret (from a file or the
environment, never inline) and the heartbeat settings. A colocation siaga can watch several rooms: each
room is one entry, and its id is the subject of the alerts raised about it (``peer.silent``), so an
escalation policy matching ``subjects: [<room id>]`` pages that room's people. With no peers, siaga
runs alone.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from siaga.config.checks import DnsCheck, HttpCheck, TcpCheck, TlsCheck
from siaga.config.errors import Refusal
from siaga.config.types import Duration, EnvRef, SecretFile, SecretPairs, Slug, Strict


class PeerRole(StrEnum):
    """How this siaga stands to a peer."""

    watches = "watches"  # this siaga watches that peer: the colocation's entry for a room
    watched_by = "watched_by"  # that peer watches this siaga: the room's entry for its colocation


class PeerTls(Strict):
    """Mutual TLS towards a peer: this siaga's client certificate and the CA that signed the peer's."""

    cert_file: SecretFile = Field(description="This siaga's client certificate (PEM).")
    key_file: SecretFile = Field(description="The private key of that certificate (PEM).")
    ca_file: SecretFile = Field(description="The CA certificate the peer's server certificate must chain to (PEM).")


ProbeCheck = Annotated[HttpCheck | TcpCheck | DnsCheck | TlsCheck, Field(discriminator="type")]
"""A check of a watched room that the colocation runs too (the types that work from outside)."""


class Peer(SecretPairs):
    """Another siaga: a room this siaga watches, or the colocation that watches this siaga."""

    secret_pairs: ClassVar[dict[str, bool]] = {"secret": True}

    id: Slug = Field(description="The peer's id: the subject of the alerts about it (e.g. the room's site id).")
    name: str | None = Field(
        default=None, description="The peer's name as people say it (e.g. Ruang Server Diskominfo).",
        examples=["Ruang Server Diskominfo Bontang"],
    )
    role: PeerRole = Field(
        description="watches: this siaga watches that peer (a room, seen from the colocation); "
        "watched_by: that peer watches this siaga (the colocation, seen from the room)."
    )
    url: str = Field(description="Base URL of the peer's siaga web server.", examples=["https://siaga.colo.example:8443"])
    secret_file: SecretFile | None = Field(
        default=None, description="A file holding the secret shared with this peer (signs every request both ways)."
    )
    secret: EnvRef | None = Field(default=None, description="The shared secret as an environment reference: ${NAME}.")
    heartbeat_interval: Duration = Field(
        default=dt.timedelta(seconds=10), description="How often a heartbeat is sent to this peer."
    )
    silence_window: Duration = Field(
        default=dt.timedelta(seconds=30),
        description="No heartbeat from the peer for this long: a watched room pages (critical), a watching "
        "colocation warns.",
    )
    health_poll: Duration | None = Field(
        default=dt.timedelta(seconds=3),
        description="For a watched peer: poll its /healthz this often as well; a refused connection after no "
        "goodbye counts as silence at once. Null: heartbeats only.",
    )
    tls: PeerTls | None = Field(default=None, description="Mutual TLS towards this peer (optional).")
    probes: list[ProbeCheck] = Field(
        default_factory=list,
        description="For a watched room: its service checks this siaga runs too, from outside (http, tcp, dns, "
        "tls; written as under checks:). Each id (default <service>-<type>) must be the room's id of the same "
        "check, so the two verdicts pair up. Empty: nothing is probed from here.",
    )
    agree: int | None = Field(
        default=None, ge=1, le=2,
        description="For a watched room: how many locations (the room, this siaga) must see a probed check down "
        "for it to be an outage; unset: all that answer. 1: either alone is enough (no 'uplink down').",
    )
    status_host: str | None = Field(
        default=None,
        description="For a watched room: the host name of its public status page, when that name's DNS points "
        "at this siaga (the colocation): requests for it are answered with the room's page. The page is also "
        "at /status/<peer id> whatever the host.",
        examples=["status.bontangkota.go.id"],
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise Refusal("config.peer.url")
        return value.rstrip("/")

    @field_validator("status_host")
    @classmethod
    def _host_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        host = value.strip().lower().rstrip(".")
        if not host or "/" in host or ":" in host or " " in host:
            raise Refusal("config.peer.status_host")
        return host

    @model_validator(mode="after")
    def _window_after_interval(self) -> Peer:
        if self.silence_window <= self.heartbeat_interval:
            raise Refusal("config.peer.window")
        if self.heartbeat_interval < dt.timedelta(milliseconds=100):
            raise Refusal("config.peer.heartbeat")
        if self.role is PeerRole.watched_by and (self.probes or self.agree is not None):
            raise Refusal("config.peer.probes_role")
        ids = [c.check_id for c in self.probes]
        if len(set(ids)) != len(ids):
            raise Refusal("config.peer.probe_ids", ids=", ".join(sorted({i for i in ids if ids.count(i) > 1})))
        if self.status_host is not None and self.role is not PeerRole.watches:
            raise Refusal("config.peer.status_host_role")
        return self


class Peers(Strict):
    """The siaga processes this one exchanges heartbeats (and its record) with."""

    site_id: Slug | None = Field(
        default=None,
        description="This siaga's id as its peers name it (the id of its entry in their peers.sites); "
        "required when sites are listed.",
    )
    max_clock_skew: Duration = Field(
        default=dt.timedelta(seconds=30),
        description="A signed request whose timestamp is further than this from this siaga's clock is refused.",
    )
    sites: list[Peer] = Field(default_factory=list, description="The peers, one entry each.")

    @model_validator(mode="after")
    def _ids(self) -> Peers:
        if self.sites and self.site_id is None:
            raise Refusal("config.peer.site_id")
        seen: set[str] = set()
        for peer in self.sites:
            if peer.id in seen:
                raise Refusal("config.peer.duplicate", id=repr(peer.id))
            if peer.id == self.site_id:
                raise Refusal("config.peer.own_id", id=repr(peer.id))
            seen.add(peer.id)
        hosts = [p.status_host for p in self.sites if p.status_host]
        if len(hosts) != len(set(hosts)):
            raise Refusal("config.peer.same_status_host")
        return self

    def peer(self, peer_id: str) -> Peer | None:
        """The entry of ``peer_id``, or None."""
        return next((p for p in self.sites if p.id == peer_id), None)

    def by_role(self, role: PeerRole) -> list[Peer]:
        """The peers this siaga stands to in ``role``."""
        return [p for p in self.sites if p.role is role]


__all__ = ["Peer", "PeerRole", "PeerTls", "Peers", "ProbeCheck"]
