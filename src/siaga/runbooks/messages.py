"""A plan's words for people, in the current language: why each action is where it is, what each does."""

from __future__ import annotations

from typing import Any

from siaga.i18n import _
from siaga.runbooks.plan import Action, Left, Plan, Reason


def reason_line(reason: Reason) -> str:
    """Why, in the reader's language."""
    v = reason.values
    if reason.code == "first":
        return _("{device} runs {services}, needed by no service still running: it stops first").format(**v)
    if reason.code == "after":
        return _("{device} after {first}: {app} needs {service}").format(**v)
    if reason.code == "storage":
        return _("{device} is storage: it stops after the servers using it").format(**v)
    if reason.code == "idle":
        return _("{device} runs no listed service").format(**v)
    if reason.code == "cycle":
        return _("{device}: its services depend on each other in a cycle; stopped in the usual order").format(**v)
    if reason.code == "kept_on":
        return _("{device} ({kind}) stays on: the shutdown goes through it").format(**v)
    if reason.code == "unreachable":
        return _("{device} has no entry in runbooks.hosts: stop it by hand").format(**v)
    if reason.code == "ssh":
        return _("a command on {device}").format(**v)
    if reason.code == "dns":
        return _("point {name} at {address}").format(**v)
    if reason.code == "power":
        check = check_words(v["check"], v.get("address"), v.get("port"))
        if v.get("until") == "on":
            return _("wait until {device} is on, by {check}").format(device=v["device"], check=check)
        return _("wait until {device} is off, by {check}").format(device=v["device"], check=check)
    if reason.code == "standby":
        return _("the standby of {service} takes over").format(**v)
    if reason.code == "drill_dns":
        return _("drill: point {name} at {address} instead of the production name {production}").format(**v)
    if reason.code == "drill_ssh":
        return _("drill: run {command!r} on {device} instead of its command").format(**v)
    if reason.code == "drill_skip":
        return _("skipped in a drill: {kind} {subject} would act on production").format(**v)
    if reason.code == "drill_no_command":
        return _("skipped in a drill: ssh {subject} has no drill_command").format(**v)
    if reason.code == "wait":
        if v.get("until") == "open":
            return _("wait until {address}:{port} answers").format(**v)
        return _("wait until {address}:{port} is closed").format(**v)
    return reason.code


METHOD_NAMES = {"ssh": "SSH", "redfish": "Redfish", "ipmi": "IPMI"}


def how_line(reason: Reason) -> str:
    """Why a host is stopped this way and how siaga knows it is off, in the reader's language."""
    v = reason.values
    name = METHOD_NAMES.get(v["via"], v["via"])
    if v["why"] == "set":
        method = _("{method}, as its host entry says (via: {via})").format(method=name, via=v["via"])
    elif v["why"] == "ssh_key":
        method = _("SSH, as its host entry has a key_file")
    else:
        method = _("{method}, as its host entry has a BMC and no SSH key").format(method=name)
    if v["off_set"]:
        off = _("off when {check}, as its host entry says (off_check: {off})").format(
            check=off_words(v["off"], v.get("address"), v.get("port")), off=v["off"])
    elif v["off"] == "power":
        off = _("off when its BMC reports the power off, as it has a BMC")
    else:
        off = _("off when port {port} is closed, as it has no BMC").format(port=v.get("port"))
    return f"{method}; {off}"


def off_words(check: str | None, address: str | None, port: int | None) -> str:
    """The off check as words: port closed, no ping reply, the BMC's power state."""
    if check == "power":
        return _("its BMC reports the power off")
    if check == "ping":
        return _("{address} no longer answers ping").format(address=address)
    return _("port {port} is closed").format(port=port)


def check_words(check: str | None, address: str | None, port: int | None) -> str:
    """What the off check looks at, as words."""
    if check == "power":
        return _("its BMC's power state")
    if check == "ping":
        return _("ping to {address}").format(address=address)
    return _("port {port}").format(port=port)


def _shutdown_line(action: Action) -> str:
    host = action.host
    assert host is not None
    if action.via == "ssh" and action.off_check == "port":
        return _("stop {device}: ssh {user}@{address} {command!r}, then wait until port {port} is closed").format(
            device=action.subject, user=host.user, address=host.address, command=action.command,
            port=action.port)
    if action.via == "ssh":
        does = _("stop {device}: ssh {user}@{address} {command!r}").format(
            device=action.subject, user=host.user, address=host.address, command=action.command)
    elif action.via == "redfish" and host.bmc is not None:
        does = _("stop {device}: Redfish GracefulShutdown at {url} (system {system})").format(
            device=action.subject, url=host.bmc.address, system=host.bmc.system or _("its only one"))
    elif host.bmc is not None:
        does = _("stop {device}: IPMI soft power off at {address}:{port}").format(
            device=action.subject, address=host.bmc.address, port=host.bmc.port)
    else:  # pragma: no cover - the config refuses a BMC method without a BMC
        does = action.subject
    return _("{does}, then wait until {check}").format(
        does=does, check=off_words(action.off_check, action.address, action.port))


def action_line(action: Action) -> str:
    """What the action does, in the reader's language."""
    if action.kind == "shutdown" and action.host is not None:
        return _shutdown_line(action)
    if action.kind == "ssh" and action.host is not None:
        return _("on {device}: ssh {user}@{address} {command!r}").format(
            device=action.subject, user=action.host.user, address=action.host.address, command=action.command)
    if action.kind == "dns" and action.dns is not None:
        return _("DNS {server}: {name} -> {address} (signed update, key {key})").format(
            server=action.dns.id, name=action.name, address=action.address, key=action.dns.tsig_name)
    return reason_line(action.reason)


def plan_json(p: Plan) -> dict[str, Any]:
    """The plan as plain data (``--json``), with the texts in the current language."""
    return {
        "runbook": p.runbook.id,
        "mode": p.runbook.mode.value,
        "made_at": p.made_at.isoformat(),
        "actions": [
            {"number": a.number, "kind": a.kind, "step": a.step, "subject": a.subject, "reason": a.reason.code,
             "values": a.reason.values, "does": action_line(a), "why": reason_line(a.reason),
             "timeout_s": a.timeout_s, "on_failure": a.on_failure.value,
             **({"via": a.via, "off_check": a.off_check, "how": how_line(a.how)} if a.how is not None else {})}
            for a in p.actions
        ],
        "left": [{"device": left.device, "reason": left.reason.code, "why": reason_line(left.reason)}
                 for left in p.left],
    }


def plan_lines(p: Plan) -> list[str]:
    """The plan as a person reads it: numbered actions, each with why, then what is left to people."""
    out = [_("Runbook {id} ({mode}): {count} actions").format(id=p.runbook.id, mode=p.runbook.mode.value,
                                                              count=len(p.actions))]
    for a in p.actions:
        out.append(f"  {a.number}. {action_line(a)}")
        out.append("     " + _("why: {why}").format(why=reason_line(a.reason)))
        if a.how is not None:
            out.append("     " + _("how: {how}").format(how=how_line(a.how)))
    for left in p.left:
        out.append("  - " + reason_line(left.reason))
    return out


def skipped_line(skipped: Any) -> str:
    """An action a drill leaves out (``siaga.runbooks.drill.Skipped``), with why."""
    return reason_line(skipped.reason)


def left_line(left: Left) -> str:
    return reason_line(left.reason)
