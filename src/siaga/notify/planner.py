"""The escalation planner: given an alert, its policy, what was already sent and the clock, who is due what now.

Pure and idempotent: every page has a key (kind, step, round, recipient); a page whose key is in the
history is never planned again, so calling the planner every second (or after a restart, with the
history read back from the store) sends nothing twice and misses nothing that fell due meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from siaga.alerts.model import Alert, AlertState
from siaga.config.notify import EscalationPolicy, Step, TimeWindow
from siaga.notify.model import Kind, Page, Recipient, Sent
from siaga.notify.policy import high_stake
from siaga.notify.windows import step_open

PAGING = (Kind.page, Kind.repeat, Kind.repage)
TOLD = (*PAGING, Kind.followup)
"""Kinds that tell someone of an alert; they hear its acknowledged and resolved notices too."""


@dataclass(frozen=True)
class Calendar:
    """The site's clock face: its zone, named time windows and holidays."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Makassar"))
    windows: Mapping[str, TimeWindow] = field(default_factory=dict)
    holidays: Collection[dt.date] = ()

    def open(self, step: Step, at: dt.datetime) -> bool:
        return step_open(step.when, step.unless, self.windows, at, self.zone, self.holidays)


def step_recipients(step: Step) -> list[Recipient]:
    """People first, then groups, in config order."""
    return [Recipient("person", p) for p in step.people] + [Recipient("group", g) for g in step.groups]


def paged_recipients(history: Iterable[Sent], kinds: Collection[Kind] = TOLD) -> list[Recipient]:
    """Everyone who was paged (or told in a follow-up) about the alert, in the order they were first told."""
    out: list[Recipient] = []
    for sent in sorted(history, key=lambda s: s.at):
        if sent.kind in kinds and sent.told and sent.recipient not in out:
            out.append(sent.recipient)
    return out


def escalation_start(alert: Alert) -> dt.datetime:
    return alert.fired_at or alert.started_at


def step_due_at(policy: EscalationPolicy, index: int, alert: Alert) -> dt.datetime:
    """When step ``index`` falls due for ``alert`` (at once for a high-stake alert if the step says so)."""
    step = policy.steps[index]
    start = escalation_start(alert)
    if step.at_once_if_high_stake and high_stake(policy.stake, alert):
        return start
    return start + step.after


def plan(
    policy: EscalationPolicy,
    alert: Alert,
    history: Sequence[Sent],
    now: dt.datetime,
    calendar: Calendar | None = None,
    *,
    suppressed: bool = False,
) -> list[Page]:
    """The pages due for ``alert`` at ``now`` that ``history`` does not hold yet.

    ``suppressed`` (a maintenance window covers the alert): nothing is planned; the alert is still
    recorded by the alert manager.
    """
    if suppressed or alert.state is AlertState.pending:
        return []
    cal = calendar or Calendar()
    # steps are per policy: after a change of policy (a warning became critical) its steps start afresh
    mine = [s for s in history if s.kind.is_notice or s.policy in (None, policy.id)]
    done = {(s.kind, s.step, s.round, s.recipient) for s in mine}
    out: list[Page] = []

    def emit(kind: Kind, step: int, rnd: int, who: Recipient, via: Step | None = None) -> None:
        if (kind, step, rnd, who) in done:
            return
        done.add((kind, step, rnd, who))
        channels = tuple(via.channels) if via else ()
        fallback = tuple(via.fallback) if via else ()
        out.append(Page(alert.id, kind, step, rnd, who, channels, fallback))

    if alert.state is AlertState.resolved:
        if policy.notify_resolved:
            for who in paged_recipients(history):
                emit(Kind.resolved, -1, 0, who)
        return out

    if alert.state is AlertState.acknowledged:
        acker = Recipient("person", alert.acknowledged_by) if alert.acknowledged_by else None
        if policy.notify_acknowledged:
            for who in paged_recipients(history):
                if who != acker:
                    emit(Kind.acknowledged, -1, 0, who)
        every = policy.repage_acknowledged_after
        if every and alert.acknowledged_at is not None and every.total_seconds() > 0:
            rounds = int((now - alert.acknowledged_at) / every)
            if rounds >= 1:
                rnd = min(rounds, max(policy.repeat_limit, 1))
                first = policy.steps[0]
                targets = ([acker] if acker else []) + step_recipients(first)
                for who in dict.fromkeys(targets):
                    emit(Kind.repage, -1, rnd, who, first)
        return out

    # firing: every step whose time has come (and whose time window is open now)
    reached: list[int] = [s.step for s in mine if s.kind is Kind.page]
    for i, step in enumerate(policy.steps):
        if now < step_due_at(policy, i, alert) or not cal.open(step, now):
            continue
        reached.append(i)
        for who in step_recipients(step):
            emit(Kind.page, i, 0, who, step)

    every = policy.repeat_every
    if reached and every and every.total_seconds() > 0 and policy.repeat_limit > 0:
        last = max(reached)
        step = policy.steps[last]
        rounds = int((now - step_due_at(policy, last, alert)) / every)
        if rounds >= 1 and cal.open(step, now):
            rnd = min(rounds, policy.repeat_limit)
            for who in step_recipients(step):
                emit(Kind.repeat, last, rnd, who, step)
    return out


def plan_followup(
    policy: EscalationPolicy | None,
    alert: Alert,
    history: Sequence[Sent],
    told: Sequence[Recipient],
    now: dt.datetime,
    calendar: Calendar | None = None,
) -> list[Page]:
    """The messages due for an outage folded into its probable cause's incident.

    ``told``: who was paged about the cause. While the outage fires, each of them gets one follow-up
    ("the portal is down too — probable cause: leak on R1") on the channels they were paged on; the
    outage has no escalation of its own (the cause's carries on). Once acknowledged or resolved, those
    told hear the notices as the policy says (``policy`` None: no notices).
    """
    if alert.state is AlertState.firing:
        done = {s.recipient for s in history if s.kind is Kind.followup}
        return [Page(alert.id, Kind.followup, -1, 0, who, ()) for who in dict.fromkeys(told) if who not in done]
    if policy is None or alert.state not in (AlertState.acknowledged, AlertState.resolved):
        return []
    return [p for p in plan(policy, alert, history, now, calendar) if p.kind.is_notice]


def withheld_because(kind: Kind, alert: Alert, *, silenced: bool = False) -> str | None:
    """Why a message of ``kind`` about ``alert`` must not leave now, as the alert stands (None: it may).

    Checked when queued items are folded into a message and again when a message is handed out for
    sending: a storm window may delay and merge messages, never resurrect a page for an alert that was
    acknowledged, resolved or silenced (a maintenance window) meanwhile. Notices always go: they are true.
    """
    if kind in (Kind.page, Kind.repeat, Kind.followup):
        if alert.state is not AlertState.firing:
            return alert.state.value
    elif kind is Kind.repage:
        if alert.state is not AlertState.acknowledged:
            return alert.state.value
    else:
        return None
    return "silenced" if silenced else None


def next_due(policy: EscalationPolicy, alert: Alert, now: dt.datetime) -> dt.datetime | None:
    """The next moment a step, repeat or re-page may fall due (ignoring time windows); None if none."""
    candidates: list[dt.datetime] = []
    if alert.state is AlertState.firing:
        for i in range(len(policy.steps)):
            t = step_due_at(policy, i, alert)
            if t > now:
                candidates.append(t)
        if policy.repeat_every and policy.repeat_every.total_seconds() > 0:
            base = max(step_due_at(policy, i, alert) for i in range(len(policy.steps)))
            base = min(base, now) if base <= now else base
            k = max(1, int((now - base) / policy.repeat_every) + 1)
            candidates.append(base + k * policy.repeat_every)
    elif alert.state is AlertState.acknowledged and alert.acknowledged_at and policy.repage_acknowledged_after:
        every = policy.repage_acknowledged_after
        if every.total_seconds() > 0:
            k = int((now - alert.acknowledged_at) / every) + 1
            candidates.append(alert.acknowledged_at + k * every)
    return min(candidates) if candidates else None
