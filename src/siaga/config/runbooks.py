"""The ``runbooks:`` section of siaga.yaml: protective runbooks as code (see docs/runbooks.md).

Three lists: ``hosts`` (how siaga reaches a device to stop it: SSH with a key from a file and a pinned host
key and the command to run, or its BMC by Redfish or IPMI with a password from a file; and how it knows the
device is off: a port closed, no ping reply, the BMC's power state), ``dns`` (authoritative servers taking
RFC 2136 updates signed with TSIG) and ``books`` (the runbooks: named, ordered steps of a known kind, a
trigger, a mode, per-step timeouts and what to do when a step fails). The step kinds are the table
:data:`STEP_MODELS` here and ``siaga.runbooks.steps.STEP_KINDS`` for what each kind does; a new kind adds
one model here and one module there.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from siaga.config.errors import Loc, Refusal, duplicate, unknown
from siaga.config.types import Duration, EnvRef, SecretFile, SecretPairs, Slug, Strict
from siaga.i18n.messages import Message


class RunbookMode(StrEnum):
    """When a triggered runbook runs."""

    manual = "manual"  # only when someone runs it (siaga runbook run NAME)
    approve = "approve"  # proposed to people; runs after `approvals` approvals
    auto = "auto"  # runs as soon as its trigger fires


class OnFailure(StrEnum):
    """What a failing step does to the rest of the runbook."""

    stop = "stop"
    continue_ = "continue"


class Trigger(Strict):
    """The alert that starts (or proposes) a runbook: a rule on a subject, at a severity or above."""

    rule: str = Field(description="The alert rule, e.g. leak, ups.runtime_low, peer.silent.", examples=["leak"])
    subject: str | None = Field(
        default=None, description="The alert's subject (a sensor, rack, room, UPS or peer id); any when empty."
    )
    severity: Literal["warning", "critical"] | None = Field(
        default=None, description="The lowest severity that triggers it; any when empty."
    )


class Bmc(SecretPairs):
    """A device's management controller (BMC), reached over the management network: Redfish (HTTPS) or
    IPMI over LAN (``ipmitool -I lanplus``). The password comes from a file or the environment, never inline."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": True}

    protocol: Literal["redfish", "ipmi"] = Field(description="redfish or ipmi.")
    address: str = Field(
        description="Redfish: the BMC's base URL (https://...); IPMI: its name or IP address.",
        examples=["https://10.10.9.11"],
    )
    port: int = Field(default=623, ge=1, le=65535, description="IPMI: the BMC's UDP port (Redfish: in the URL).")
    user: str = Field(description="The BMC user siaga logs in as (an operator may power off).")
    password_file: SecretFile | None = Field(default=None, description="A file holding the BMC password.")
    password: EnvRef | None = Field(default=None, description="The password as an environment reference: ${NAME}.")
    system: str | None = Field(
        default=None,
        description="Redfish: the system's id or path under /redfish/v1/Systems (default: the BMC's only system).",
    )
    verify_tls: bool = Field(default=True, description="Redfish: check the BMC's TLS certificate.")
    ca_file: SecretFile | None = Field(
        default=None, description="Redfish: a CA bundle the BMC's certificate is checked against."
    )
    cipher_suite: int = Field(
        default=17, ge=0, le=17, description="IPMI: the RMCP+ cipher suite (ipmitool -C; 17 is SHA-256, 3 is SHA-1)."
    )

    @model_validator(mode="after")
    def _address_fits_the_protocol(self) -> Bmc:
        is_url = self.address.startswith(("http://", "https://"))
        if self.protocol == "redfish" and not is_url:
            raise Refusal("config.bmc.redfish_url")
        if self.protocol == "ipmi" and is_url:
            raise Refusal("config.bmc.ipmi_address")
        return self


class Host(Strict):
    """How siaga reaches a device to stop it: a command over SSH (a key and a pinned host key), or its BMC
    (Redfish GracefulShutdown, IPMI soft power off); and how it knows the device is off."""

    device: Slug = Field(description="The device's id in devices.")
    address: str | None = Field(
        default=None, description="Its address (name or IP) for SSH and the port or ping off check."
    )
    port: int = Field(default=22, ge=1, le=65535, description="SSH port.")
    user: str = Field(default="root", description="SSH user.")
    key_file: SecretFile | None = Field(
        default=None, description="The private key siaga logs in with over SSH (a file, never inline)."
    )
    known_hosts_file: SecretFile | None = Field(
        default=None,
        description="A known_hosts file pinning the host's key (StrictHostKeyChecking=yes, as for sftp targets).",
    )
    command: str = Field(default="systemctl poweroff", description="The command that shuts it down gracefully.")
    bmc: Bmc | None = Field(default=None, description="Its management controller (Redfish or IPMI).")
    via: Literal["ssh", "redfish", "ipmi"] | None = Field(
        default=None,
        description="How a shutdown stops it: ssh, redfish or ipmi "
        "(default: ssh when key_file is set, else its BMC's protocol).",
    )
    off_check: Literal["port", "ping", "power"] | None = Field(
        default=None,
        description="How siaga knows it is off: port (off_port closed), ping (no echo reply) or power "
        "(the BMC's power state; default when it has a BMC, else port).",
    )
    off_port: int | None = Field(
        default=None, ge=1, le=65535,
        description="The port that closes when it is off (default: the SSH port).",
    )

    @property
    def shutdown_via(self) -> str:
        """ssh, redfish or ipmi: as set, else SSH when a key is given, else the BMC's protocol."""
        if self.via is not None:
            return self.via
        if self.key_file is None and self.bmc is not None:
            return self.bmc.protocol
        return "ssh"

    @property
    def off_by(self) -> str:
        """port, ping or power: as set, else the BMC's power state when it has one, else the port."""
        if self.off_check is not None:
            return self.off_check
        return "power" if self.bmc is not None else "port"

    @model_validator(mode="after")
    def _can_stop_it(self) -> Host:
        via = self.shutdown_via
        if via == "ssh" and (self.key_file is None or self.known_hosts_file is None or self.address is None):
            if self.bmc is None and self.key_file is None:
                raise Refusal("config.host.how")
            raise Refusal("config.host.ssh")
        if via in ("redfish", "ipmi") and (self.bmc is None or self.bmc.protocol != via):
            raise Refusal("config.host.via", via=via)
        if self.off_by == "power" and self.bmc is None:
            raise Refusal("config.host.power_check")
        if self.off_by in ("port", "ping") and self.address is None:
            raise Refusal("config.host.address_check", check=self.off_by)
        return self


class DnsServer(SecretPairs):
    """An authoritative DNS server taking RFC 2136 dynamic updates signed with TSIG."""

    secret_pairs: ClassVar[dict[str, bool]] = {"tsig_secret": True}

    id: Slug
    address: str = Field(description="The server's IP address.")
    port: int = Field(default=53, ge=1, le=65535, description="Its DNS port.")
    zone: str = Field(description="The zone the names are in.", examples=["bontangkota.go.id."])
    tsig_name: str = Field(description="The TSIG key's name.")
    tsig_algorithm: Literal["hmac-sha256", "hmac-sha512", "hmac-sha1"] = Field(
        default="hmac-sha256", description="The TSIG key's algorithm."
    )
    tsig_secret_file: SecretFile | None = Field(default=None, description="A file holding the key (base64).")
    tsig_secret: EnvRef | None = Field(default=None, description="The key as an environment reference: ${NAME}.")


class StepBase(Strict):
    """What every step has."""

    timeout: Duration = Field(default=dt.timedelta(minutes=5), description="How long the step may take.")
    on_failure: OnFailure = Field(
        default=OnFailure.stop, description="stop: end the runbook and page; continue: go on to the next step."
    )


class ShutdownStep(StepBase):
    """Stop every reachable device of a target in dependency order: applications, databases, storage."""

    kind: Literal["shutdown"] = Field(description="The step kind: shutdown.")
    target: str = Field(description="A room, rack or device id.", examples=["R1"])
    off_wait: Duration = Field(
        default=dt.timedelta(minutes=3), description="How long to wait for each host to be off."
    )


class SshStep(StepBase):
    """Run a command on one host."""

    kind: Literal["ssh"] = Field(description="The step kind: ssh.")
    device: Slug = Field(description="A device of runbooks.hosts.")
    command: str = Field(description="The command to run.")
    drill_command: str | None = Field(
        default=None,
        description="What the recovery drill (siaga runbook drill) runs instead of command, e.g. a harmless "
                    "check such as `test -d /srv/www`; without it the step is skipped in a drill.",
    )


class DnsStep(StepBase):
    """Point a name at an address (failover, or back: failback) by a TSIG-signed dynamic update."""

    kind: Literal["dns"] = Field(description="The step kind: dns.")
    server: Slug = Field(description="A server of runbooks.dns.")
    name: str = Field(description="The name to change (relative to the zone, or absolute).", examples=["portal"])
    address: str = Field(description="The new IPv4 or IPv6 address.")
    ttl: int | None = Field(default=None, ge=0, description="The new record's TTL (default: the old one's, else 60).")
    drill_name: str | None = Field(
        default=None,
        description="The name the recovery drill (siaga runbook drill) points instead of name: a second name "
                    "(portal-drill) or a name in a drill zone (with drill_server). A drill refuses a runbook whose "
                    "dns step has none: it never touches a production name.",
        examples=["portal-drill"],
    )
    drill_server: Slug | None = Field(
        default=None, description="The server (runbooks.dns) of the drill zone, when drill_name is in another zone."
    )


class WaitStep(StepBase):
    """Wait until a port is open or closed."""

    kind: Literal["wait"] = Field(description="The step kind: wait.")
    address: str = Field(description="The host.")
    port: int = Field(ge=1, le=65535, description="The port.")
    until: Literal["open", "closed"] = Field(default="closed", description="open or closed.")


class PowerStep(StepBase):
    """Wait until a host of ``runbooks.hosts`` is off (or on), by its off check: its BMC's power state, its port
    or ping. For a host stopped another way (an ``ssh`` step), or one coming back."""

    kind: Literal["power"] = Field(description="The step kind: power.")
    device: Slug = Field(description="A device of runbooks.hosts.")
    until: Literal["off", "on"] = Field(default="off", description="off or on.")


class StandbyStep(StepBase):
    """Activate the warm standby of a service now: start or reload it and wait until it answers its checks
    (see docs/standby.md; the service needs an entry in ``standbys:``)."""

    kind: Literal["standby"] = Field(description="The step kind: standby.")
    service: Slug = Field(description="The service whose standby takes over.", examples=["portal"])


Step = Annotated[
    ShutdownStep | SshStep | DnsStep | WaitStep | PowerStep | StandbyStep, Field(discriminator="kind")
]

STEP_MODELS: dict[str, type[StepBase]] = {
    "shutdown": ShutdownStep,
    "ssh": SshStep,
    "dns": DnsStep,
    "wait": WaitStep,
    "power": PowerStep,
    "standby": StandbyStep,
}
"""The step kinds siaga.yaml accepts (what each does: ``siaga.runbooks.steps.STEP_KINDS``)."""


class Runbook(Strict):
    """A named, ordered list of steps."""

    id: Slug
    name: str | None = Field(default=None, description="A longer name.")
    mode: RunbookMode = Field(default=RunbookMode.manual, description="manual, approve or auto.")
    approvals: int = Field(default=1, ge=1, le=2, description="Approvals needed in approve mode (1 or 2).")
    trigger: Trigger | None = Field(default=None, description="The alert that starts or proposes it.")
    steps: list[Step] = Field(min_length=1, description="The steps, in order.")


class RunbooksConfig(Strict):
    """Protective runbooks: hosts, DNS servers and the runbooks themselves."""

    hosts: list[Host] = Field(default_factory=list, description="How siaga reaches each device it may stop.")
    dns: list[DnsServer] = Field(default_factory=list, description="DNS servers taking signed dynamic updates.")
    books: list[Runbook] = Field(default_factory=list, description="The runbooks.")

    def host(self, device: str) -> Host | None:
        return next((h for h in self.hosts if h.device == device), None)

    def dns_server(self, ident: str) -> DnsServer | None:
        return next((d for d in self.dns if d.id == ident), None)

    def book(self, ident: str) -> Runbook | None:
        return next((b for b in self.books if b.id == ident), None)


def check_runbook_references(
    cfg: RunbooksConfig, devices: set[str], targets: set[str]
) -> list[tuple[Loc, Message]]:
    """Every runbook reference that points nowhere: hosts' devices, steps' targets, devices and servers."""
    findings: list[tuple[Loc, Message]] = []
    seen: set[str] = set()
    for i, host in enumerate(cfg.hosts):
        if host.device not in devices:
            findings.append((("runbooks", "hosts", i, "device"), unknown("device", host.device, devices)))
        if host.device in seen:
            findings.append((("runbooks", "hosts", i, "device"), Message("config.host.twice",
                                                                         {"device": repr(host.device)})))
        seen.add(host.device)
    servers = {d.id for d in cfg.dns}
    books: set[str] = set()
    for i, book in enumerate(cfg.books):
        if book.id in books:
            first = [b.id for b in cfg.books].index(book.id)
            findings.append((("runbooks", "books", i, "id"), duplicate(book.id, f"runbooks.books[{first}]")))
        books.add(book.id)
        for j, step in enumerate(book.steps):
            loc: Loc = ("runbooks", "books", i, "steps", j)
            if isinstance(step, ShutdownStep) and step.target not in targets:
                findings.append(((*loc, "target"), unknown("place", step.target, targets)))
            elif isinstance(step, SshStep):
                target = cfg.host(step.device)
                if target is None:
                    findings.append(((*loc, "device"), Message("config.host.missing", {"device": repr(step.device)})))
                elif target.key_file is None or target.known_hosts_file is None or target.address is None:
                    findings.append(((*loc, "device"), Message("config.host.no_ssh", {"device": repr(step.device)})))
            elif isinstance(step, PowerStep) and cfg.host(step.device) is None:
                findings.append(((*loc, "device"), Message("config.host.missing", {"device": repr(step.device)})))
            elif isinstance(step, DnsStep):
                if step.server not in servers:
                    findings.append(((*loc, "server"), unknown("dns_server", step.server, servers)))
                if step.drill_server is not None and step.drill_server not in servers:
                    findings.append(((*loc, "drill_server"), unknown("dns_server", step.drill_server, servers)))
    return findings


__all__ = [
    "STEP_MODELS",
    "Bmc",
    "DnsServer",
    "DnsStep",
    "Host",
    "OnFailure",
    "PowerStep",
    "Runbook",
    "RunbookMode",
    "RunbooksConfig",
    "ShutdownStep",
    "SshStep",
    "StandbyStep",
    "Step",
    "StepBase",
    "Trigger",
    "WaitStep",
    "check_runbook_references",
]
