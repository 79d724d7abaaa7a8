"""The recovery drill of a runbook (``siaga runbook drill NAME``): the whole failover run against the standby
without touching production, timed from the trigger to the service answering its checks from the standby.

Each step kind has a *drill form* (:data:`DRILL_FORMS`, decided here, pure):

- ``dns``: points the step's ``drill_name`` (on ``drill_server``, default its own server) instead of its name. A
  dns step without a drill name makes the whole drill refuse to start (:class:`DrillRefused`): a production
  name is never changed by a drill.
- ``standby``: runs as is: the colocation's standby is started or reloaded and must answer the service's checks
  (recorded as a standby drill). That is what the drill measures.
- ``wait``: runs as is (it only looks at a port).
- ``ssh``: runs its ``drill_command`` (a harmless check: the key, the pinned host key and the host still work);
  skipped without one.
- ``shutdown`` and every other kind (power-off through a BMC...): skipped, listed with why. They stop real
  machines in the room; the drill rehearses the move to the standby, and their order is shown by
  ``siaga runbook plan``.

After the steps, the drill checks the end state once more: each drill name answers the new address at its
authoritative server, and each standby of the runbook answers its checks. The time from the start to that
moment is the drill's RTO. Every line is recorded (``runbook.drill.started``, ``runbook.drill.step``,
``runbook.drill.ended``, and ``audit.*``); :func:`last_drills` reads the latest ends back.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from siaga.config.runbooks import DnsStep, RunbooksConfig, SshStep
from siaga.errors import SiagaError
from siaga.runbooks.engine import Record, RunResult, run_plan
from siaga.runbooks.plan import Action, Plan, Reason
from siaga.runbooks.steps import Outcome, StepContext
from siaga.runbooks.steps.base import said, words

DRILL_FORMS: dict[str, str] = {
    "dns": "drill_name",
    "standby": "run",
    "wait": "run",
    "ssh": "drill_command",
    "shutdown": "skip",
}
"""How each step kind takes part in a drill: ``run`` as is, ``skip``, or a drill form (``drill_name``: the dns
step's second name; ``drill_command``: the ssh step's harmless command, skipped without one). A kind not listed
is skipped: a drill never does what it does not know to be harmless."""

ENDED = "runbook.drill.ended"


class DrillRefused(SiagaError):
    """The runbook cannot be drilled without touching production (a dns step without drill_name)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class Skipped:
    action: Action
    reason: Reason


@dataclass(frozen=True)
class DrillPlan:
    """The plan a drill runs (the drill forms of the runbook's actions) and the actions it leaves out, with why."""

    plan: Plan
    skipped: tuple[Skipped, ...]


def drill_plan(p: Plan, runbooks: RunbooksConfig) -> DrillPlan:
    """The drill form of plan ``p`` (pure). Raises :class:`DrillRefused` for a dns step without a drill name, and
    when nothing is left to run (a shutdown-only runbook)."""
    actions: list[Action] = []
    skipped: list[Skipped] = []
    missing: list[str] = []
    for action in p.actions:
        form = DRILL_FORMS.get(action.kind, "skip")
        step = p.runbook.steps[action.step]
        if form == "run":
            actions.append(action)
        elif form == "drill_name" and isinstance(step, DnsStep):
            if step.drill_name is None:
                missing.append(f"step {action.step + 1} (dns {step.name})")
                continue
            server = runbooks.dns_server(step.drill_server or step.server) or action.dns
            actions.append(dataclasses.replace(
                action, name=step.drill_name, dns=server, subject=step.drill_name,
                reason=Reason("drill_dns", {"name": step.drill_name, "production": step.name,
                                            "address": step.address})))
        elif form == "drill_command" and isinstance(step, SshStep) and step.drill_command is not None:
            actions.append(dataclasses.replace(
                action, command=step.drill_command,
                reason=Reason("drill_ssh", {"device": step.device, "command": step.drill_command})))
        else:
            code = "drill_no_command" if form == "drill_command" else "drill_skip"
            skipped.append(Skipped(action, Reason(code, {"kind": action.kind, "subject": action.subject})))
    if missing:
        raise DrillRefused(
            f"runbook {p.runbook.id}: {', '.join(missing)} would change a production name; give it a drill_name "
            "(a second name, or one in a drill zone with drill_server) to drill it")
    if not actions:
        raise DrillRefused(
            f"runbook {p.runbook.id}: every step would act on production (skipped in a drill): nothing to drill; "
            "a drill times the move to the standby (standby and dns steps)")
    renumbered = tuple(dataclasses.replace(a, number=i) for i, a in enumerate(actions, 1))
    return DrillPlan(Plan(p.runbook, p.made_at, renumbered, p.left), tuple(skipped))


@dataclass
class DrillResult:
    runbook: str
    started_at: dt.datetime
    ok: bool = False
    rto_s: float | None = None
    run: RunResult | None = None
    skipped: tuple[Skipped, ...] = ()
    answers: list[tuple[str, Outcome]] = field(default_factory=list)
    """The end state checked after the steps: (what, outcome) for each drill name and each standby."""
    error: str | None = None

    def as_json(self, lang: str = "en", zone: ZoneInfo | None = None) -> dict[str, Any]:
        """The drill with every line worded for a reader of ``lang``."""
        return {
            "runbook": self.runbook, "started_at": self.started_at.isoformat(), "ok": self.ok,
            "rto_s": None if self.rto_s is None else round(self.rto_s, 3),
            "steps": (self.run.as_json(lang, zone)["steps"] if self.run is not None else []),
            "skipped": [{"number": s.action.number, "kind": s.action.kind, "subject": s.action.subject,
                         "why": s.reason.code} for s in self.skipped],
            "answers": [{"what": what, "ok": o.ok, "output": o.text(lang, zone)} for what, o in self.answers],
            "error": words(self.error, lang, zone) if self.error else None,
        }


Answer = Callable[[Action], Awaitable[Outcome]]
"""Checks one action's end state after the run: a drill name's answer, a standby's checks."""


async def name_answers(action: Action, timeout_s: float = 5.0) -> Outcome:
    """The drill name answers the address the step set, at its authoritative server."""
    from siaga.runbooks.steps.dns import current, rdtype_of

    assert action.dns is not None and action.name is not None and action.address is not None
    try:
        found, _ttl = await current(action.dns, action.name, rdtype_of(action.address), timeout_s)
    except Exception as exc:
        return Outcome(False, said("runbook.drill.name_error", name=action.name, error=f"{type(exc).__name__}: {exc}"))
    ok = found == [action.address]
    shown = ", ".join(found) or "-"
    if ok:
        return Outcome(True, said("runbook.drill.name_answers", name=action.name, found=shown))
    return Outcome(False, said("runbook.drill.name_wrong", name=action.name, found=shown, address=action.address))


async def run_drill(
    p: Plan,
    runbooks: RunbooksConfig,
    ctx: StepContext,
    *,
    clock: Callable[[], dt.datetime],
    record: Record,
    actor: str | None = None,
    standby_answers: Callable[[str], Awaitable[Outcome]] | None = None,
) -> DrillResult:
    """Run the drill form of ``p`` (raises :class:`DrillRefused` first when it would touch production), then
    check the end state; every line goes to ``record``. ``standby_answers(service)`` runs the standby's checks."""
    drill = drill_plan(p, runbooks)
    book = p.runbook.id
    result = DrillResult(book, clock(), skipped=drill.skipped)
    begin = time.monotonic()

    def drill_record(kind: str, data: Mapping[str, Any]) -> None:
        kind = {"runbook.run.started": "runbook.drill.started", "runbook.step": "runbook.drill.step"}.get(kind, kind)
        if kind == "runbook.drill.started":
            data = {**data, "skipped": [{"kind": s.action.kind, "subject": s.action.subject, "why": s.reason.code}
                                        for s in drill.skipped]}
        if kind != "runbook.run.ended":  # the drill's own end is recorded below, with its time
            record(kind, data)

    result.run = await run_plan(drill.plan, ctx, actor=actor, record=drill_record)
    if result.run.status == "done":
        for action in drill.plan.actions:
            if action.kind == "dns":
                result.answers.append((f"dns {action.name}", await name_answers(action)))
            elif action.kind == "standby" and standby_answers is not None:
                result.answers.append((f"standby {action.subject}", await standby_answers(action.subject)))
        result.ok = all(o.ok for _, o in result.answers)
        if result.ok:
            result.rto_s = time.monotonic() - begin
        else:
            result.error = next(said("runbook.drill.answer_failed", what=what, output=o.output)
                                for what, o in result.answers if not o.ok)
    else:
        bad = next((s for s in result.run.steps if not s.outcome.ok), None)
        result.error = (said("runbook.drill.step_failed", number=bad.action.number, kind=bad.action.kind,
                             subject=bad.action.subject, output=bad.outcome.output)
                        if bad is not None else result.run.status)
    record(ENDED, {"runbook": book, "ok": result.ok, "rto_s": None if result.rto_s is None else round(result.rto_s, 3),
                   "started_at": result.started_at.isoformat(), "steps": len(result.run.steps),
                   "skipped": len(drill.skipped), "answers": [{"what": w, "ok": o.ok} for w, o in result.answers],
                   "error": result.error, "actor": actor})
    return result


def last_drills(conn: Any, books: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The latest recorded drill of each runbook (its end's data with ``at``), from the timeline."""
    from siaga.store.events import recent_events

    out: dict[str, dict[str, Any]] = {}
    for book in books:
        found = recent_events(conn, subject=book, kind=ENDED, limit=1)
        if found:
            out[book] = {**(found[0].data or {}), "at": found[0].at}
    return out


__all__ = ["DRILL_FORMS", "ENDED", "DrillPlan", "DrillRefused", "DrillResult", "Skipped", "drill_plan",
           "last_drills", "name_answers", "run_drill"]
