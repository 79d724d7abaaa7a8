"""Runs a plan: each action through its step kind (``siaga.runbooks.steps.STEP_KINDS``), in order, with its
timeout; a failing action with ``on_failure: stop`` ends the run and pages (a system alert ``runbook.failed``
through the alert keeper, when one is given). Every start, step output (trimmed) and exit is handed to
``record`` (the timeline and the audit log, see :func:`store_recorder`). A dry run does nothing but record
what would run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from siaga.config.runbooks import OnFailure
from siaga.i18n.messages import Message
from siaga.runbooks.plan import Action, Plan
from siaga.runbooks.steps import STEP_KINDS, Outcome, StepContext
from siaga.runbooks.steps.base import said, trim
from siaga.vocab import Severity

log = logging.getLogger("siaga.runbooks")

FAILED_RULE = "runbook.failed"

Record = Callable[[str, Mapping[str, Any]], None]
"""``record(kind, data)``: one line of a run's record (kinds ``runbook.run.started``, ``runbook.step``,
``runbook.run.ended``)."""


class Pager(Protocol):
    def system_alert(self, component: str, active: bool, *, rule: str = ..., severity: Severity = ...,
                     summary: Message | None = ..., at: dt.datetime | None = None, **params: Any) -> None: ...


@dataclass(frozen=True)
class StepResult:
    action: Action
    outcome: Outcome
    duration_s: float


@dataclass
class RunResult:
    runbook: str
    dry_run: bool
    status: str = "running"  # done, failed (a step with on_failure stop failed), partial (continued past one)
    steps: list[StepResult] = field(default_factory=list)

    def as_json(self, lang: str = "en", zone: ZoneInfo | None = None) -> dict[str, Any]:
        """The result with each step's output worded for a reader of ``lang``."""
        return {
            "runbook": self.runbook, "dry_run": self.dry_run, "status": self.status,
            "steps": [
                {"number": s.action.number, "kind": s.action.kind, "subject": s.action.subject, "ok": s.outcome.ok,
                 "output": s.outcome.text(lang, zone), "facts": s.outcome.facts,
                 "duration_s": round(s.duration_s, 3)}
                for s in self.steps
            ],
        }


def _ignore(kind: str, data: Mapping[str, Any]) -> None:
    return None


async def run_plan(
    plan: Plan,
    ctx: StepContext,
    *,
    dry_run: bool = False,
    actor: str | None = None,
    record: Record = _ignore,
    pager: Pager | None = None,
) -> RunResult:
    """Run ``plan``'s actions in order (or, dry, none of them); the result says what each did."""
    book = plan.runbook.id
    result = RunResult(book, dry_run)
    record("runbook.run.started", {"runbook": book, "dry_run": dry_run, "actor": actor,
                                   "actions": len(plan.actions)})
    for action in plan.actions:
        if dry_run:
            continue
        begin = time.monotonic()
        try:
            outcome = await asyncio.wait_for(STEP_KINDS[action.kind](action, ctx), action.timeout_s + 1.0)
        except TimeoutError:
            outcome = Outcome(False, said("runbook.step.timeout", timeout=round(action.timeout_s)))
        except Exception as exc:  # a step's own bug must still stop the runbook and page
            log.exception("runbook %s step %s failed", book, action.number)
            outcome = Outcome(False, trim(f"{type(exc).__name__}: {exc}"))
        step = StepResult(action, outcome, time.monotonic() - begin)
        result.steps.append(step)
        record("runbook.step", {"runbook": book, "number": action.number, "kind": action.kind,
                                "subject": action.subject, "ok": outcome.ok, "output": trim(outcome.output),
                                "facts": outcome.facts, "duration_s": round(step.duration_s, 3)})
        if not outcome.ok:
            if action.on_failure is OnFailure.stop:
                result.status = "failed"
                if pager is not None:
                    pager.system_alert(
                        f"runbook:{book}", True, rule=FAILED_RULE, severity=Severity.critical,
                        summary=Message(FAILED_RULE, {"runbook": book, "number": action.number,
                                                      "kind": action.kind, "subject": action.subject,
                                                      "output": trim(outcome.output, 200)}),
                    )
                break
            result.status = "partial"
    if result.status == "running":
        result.status = "done"
    record("runbook.run.ended", {"runbook": book, "dry_run": dry_run, "status": result.status})
    return result


__all__ = ["FAILED_RULE", "Pager", "Record", "RunResult", "StepResult", "run_plan"]
