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
    if reason.code == "standby":
        return _("the standby of {service} takes over").format(**v)
    if reason.code == "wait":
        if v.get("until") == "open":
            return _("wait until {address}:{port} answers").format(**v)
        return _("wait until {address}:{port} is closed").format(**v)
    return reason.code


def action_line(action: Action) -> str:
    """What the action does, in the reader's language."""
    if action.kind == "shutdown" and action.host is not None:
        return _("stop {device}: ssh {user}@{address} {command!r}, then wait until port {port} is closed").format(
            device=action.subject, user=action.host.user, address=action.host.address, command=action.command,
            port=action.port)
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
             "timeout_s": a.timeout_s, "on_failure": a.on_failure.value}
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
    for left in p.left:
        out.append("  - " + reason_line(left.reason))
    return out


def left_line(left: Left) -> str:
    return reason_line(left.reason)
