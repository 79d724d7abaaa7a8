"""The runbook planner: a runbook, the inventory and the clock in, the list of actions out, each with why.

Pure: no I/O, no clock of its own. A ``shutdown`` step becomes one action per reachable device of its
target, in dependency order: a device whose services need services on another device stops first
(the applications, then their databases), storage last among equals; each waits for its host to be off
before the next (its port closed, no ping reply, or its BMC's power state Off); each is stopped over SSH,
Redfish or IPMI as its host entry says (:func:`shutdown_method` says why). A device siaga cannot reach (no
``runbooks.hosts`` entry) is listed as left to people; network and power devices are kept on (the shutdown
itself needs them). The other step kinds become one
action each. What an action *does* is ``siaga.runbooks.steps``; this module only decides.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from siaga.config.models import Device, DeviceKind
from siaga.config.runbooks import (
    DnsServer,
    DnsStep,
    Host,
    OnFailure,
    PowerStep,
    Runbook,
    RunbooksConfig,
    ShutdownStep,
    SshStep,
    StandbyStep,
    WaitStep,
)
from siaga.inventory import Inventory, TargetKind

KEPT_ON = frozenset({DeviceKind.switch, DeviceKind.router, DeviceKind.firewall, DeviceKind.ups, DeviceKind.pdu,
                     DeviceKind.cooling})
"""Devices a shutdown leaves running: the network and power the shutdown itself goes through."""

_RANK = {DeviceKind.server: 0, DeviceKind.other: 1, DeviceKind.storage: 2}


@dataclass(frozen=True)
class Reason:
    """Why an action is where it is: a code and its values (rendered in the reader's language at the edge)."""

    code: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    """One thing a run does, in order. ``kind`` is a key of ``siaga.runbooks.steps.STEP_KINDS``."""

    number: int
    kind: str
    step: int
    """Index of the configured step it comes from."""
    subject: str
    reason: Reason
    timeout_s: float
    on_failure: OnFailure
    host: Host | None = None
    command: str | None = None
    off_wait_s: float = 0.0
    dns: DnsServer | None = None
    name: str | None = None
    address: str | None = None
    port: int | None = None
    ttl: int | None = None
    until: str | None = None
    via: str | None = None
    """shutdown: how the host is stopped: ssh, redfish or ipmi."""
    off_check: str | None = None
    """shutdown: how siaga knows it is off: port, ping or power (the BMC's power state)."""
    how: Reason | None = None
    """shutdown: why this method and this off check."""


@dataclass(frozen=True)
class Left:
    """A device of a shutdown target that the plan does not stop, and why."""

    device: str
    reason: Reason


@dataclass(frozen=True)
class Plan:
    runbook: Runbook
    made_at: dt.datetime
    actions: tuple[Action, ...]
    left: tuple[Left, ...]


def shutdown_order(inventory: Inventory, devices: list[Device]) -> list[tuple[Device, Reason]]:
    """``devices`` in the order they stop, each with why: a device stops before every device whose services
    its own services depend on (``depends_on`` across devices); among free ones servers first, storage last,
    then by id. A dependency cycle is broken in the same tie order and said so."""
    ids = {d.id: d for d in devices}
    on: dict[str, str] = {}
    for dev in devices:
        for svc in inventory.services_on(dev.id):
            on.setdefault(svc.id, dev.id)
    before: dict[str, dict[str, tuple[str, str]]] = {d: {} for d in ids}  # device -> {must-stop-first: (a, b)}
    for dev in devices:
        for svc in inventory.services_on(dev.id):
            for dep in svc.depends_on:
                other = on.get(dep)
                if other is not None and other != dev.id:
                    before[other].setdefault(dev.id, (svc.id, dep))
    done: list[tuple[Device, Reason]] = []
    remaining = dict(ids)

    def key(d: Device) -> tuple[int, str]:
        return (_RANK.get(d.kind, 1), d.id)

    while remaining:
        free = [d for d in remaining.values() if not (set(before[d.id]) & set(remaining))]
        cycle = not free
        dev = min(free or remaining.values(), key=key)
        services = [s.id for s in inventory.services_on(dev.id)]
        if cycle:
            reason = Reason("cycle", {"device": dev.id})
        elif before[dev.id]:
            first, (app, need) = sorted(before[dev.id].items())[0]
            reason = Reason("after", {"device": dev.id, "service": need, "app": app, "first": first})
        elif dev.kind is DeviceKind.storage:
            reason = Reason("storage", {"device": dev.id})
        elif services:
            reason = Reason("first", {"device": dev.id, "services": ", ".join(services)})
        else:
            reason = Reason("idle", {"device": dev.id})
        done.append((dev, reason))
        del remaining[dev.id]
    return done


def shutdown_method(host: Host) -> Reason:
    """Why ``host`` is stopped the way it is (``via``) and how siaga knows it is off (``off``)."""
    via, off = host.shutdown_via, host.off_by
    if host.via is not None:
        why = "set"
    elif via == "ssh":
        why = "ssh_key"
    else:
        why = "bmc_only"
    return Reason("via", {"device": host.device, "via": via, "why": why, "off": off,
                          "off_set": host.off_check is not None, "port": host.off_port or host.port,
                          "address": host.address})


def _devices_of(inventory: Inventory, target: str) -> list[Device]:
    t = inventory.resolve(target)
    if t.kind is TargetKind.device:
        return [inventory.devices[t.id]]
    return list(inventory.contents(t).devices)


def plan(runbook: Runbook, inventory: Inventory, runbooks: RunbooksConfig, now: dt.datetime) -> Plan:
    """The actions of ``runbook``, in order, with why; the devices a shutdown leaves, with why.
    Raises :class:`siaga.inventory.TargetError` for a target the inventory does not know."""
    actions: list[Action] = []
    left: list[Left] = []

    def add(**kw: Any) -> None:
        actions.append(Action(number=len(actions) + 1, **kw))

    for i, step in enumerate(runbook.steps):
        common: dict[str, Any] = {"step": i, "timeout_s": step.timeout.total_seconds(), "on_failure": step.on_failure}
        if isinstance(step, ShutdownStep):
            devices = []
            for dev in _devices_of(inventory, step.target):
                if dev.kind in KEPT_ON:
                    left.append(Left(dev.id, Reason("kept_on", {"device": dev.id, "kind": dev.kind.value})))
                elif runbooks.host(dev.id) is None:
                    left.append(Left(dev.id, Reason("unreachable", {"device": dev.id})))
                else:
                    devices.append(dev)
            for dev, reason in shutdown_order(inventory, devices):
                host = runbooks.host(dev.id)
                assert host is not None
                add(kind="shutdown", subject=dev.id, reason=reason, host=host, command=host.command,
                    address=host.address, port=host.off_port or host.port, via=host.shutdown_via,
                    off_check=host.off_by, how=shutdown_method(host),
                    off_wait_s=step.off_wait.total_seconds(), **common)
        elif isinstance(step, SshStep):
            host = runbooks.host(step.device)
            add(kind="ssh", subject=step.device, reason=Reason("ssh", {"device": step.device}), host=host,
                command=step.command, **common)
        elif isinstance(step, DnsStep):
            server = runbooks.dns_server(step.server)
            add(kind="dns", subject=step.name, reason=Reason("dns", {"name": step.name, "address": step.address}),
                dns=server, name=step.name, address=step.address, ttl=step.ttl, **common)
        elif isinstance(step, WaitStep):
            add(kind="wait", subject=f"{step.address}:{step.port}",
                reason=Reason("wait", {"address": step.address, "port": step.port, "until": step.until}),
                address=step.address, port=step.port, until=step.until, **common)
        elif isinstance(step, PowerStep):
            host = runbooks.host(step.device)
            assert host is not None  # config check: the device is in runbooks.hosts
            add(kind="power", subject=step.device,
                reason=Reason("power", {"device": step.device, "until": step.until, "check": host.off_by,
                                        "address": host.address, "port": host.off_port or host.port}),
                host=host, address=host.address, port=host.off_port or host.port, off_check=host.off_by,
                until=step.until, off_wait_s=step.timeout.total_seconds(), **common)
        elif isinstance(step, StandbyStep):
            add(kind="standby", subject=step.service, reason=Reason("standby", {"service": step.service}), **common)
    return Plan(runbook, now, tuple(actions), tuple(left))


__all__ = ["KEPT_ON", "Action", "Left", "Plan", "Reason", "plan", "shutdown_method", "shutdown_order"]
