"""Probes from both places, the adapters around :mod:`siaga.checks.agreement` (which decides).

- **At the colocation** (:class:`ProbeDesk`, ``hub.probes``): for every watched room with ``probes:`` it
  runs those checks on a scheduler of its own, folds each result through the confirmation state machine,
  tells the room its verdicts (``probes``), ``agree`` and the outages it paged itself (``paged``) in the
  heartbeat, and after each look at the peers applies :func:`~siaga.checks.agreement.colo_plan`: the
  ``peer.uplink_down`` alert (warning, subject the room's id) and, while the room is not heard, the
  outages it confirms (``peer.service.down``, critical, subject ``<room>/<service>``).
- **At the room** (:class:`AgreedSink`): sits between the checks' monitor and the alert manager. A
  ``service.down`` condition goes on only when :func:`~siaga.checks.agreement.room_call` says ``down``;
  held ones are looked at again after every heartbeat. The room tells the colocation its verdicts of
  the checks the colocation probes (``checks``) in its heartbeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from siaga.alerts.model import AlertSink, Condition
from siaga.checks.agreement import COLO, ROOM, Call, ColoPlan, ColoView, PeerLink, colo_plan, room_call
from siaga.checks.base import CheckResult, ProbeContext, stored_reason
from siaga.checks.confirm import CheckState, Policy, Status, next_delay, step
from siaga.config.peers import Peer, PeerRole
from siaga.i18n.messages import Message
from siaga.peers.watch import PeerState
from siaga.vocab import Severity

if TYPE_CHECKING:
    from siaga.checks.monitor import Monitor
    from siaga.peers.hub import PeerHub

log = logging.getLogger("siaga.peers")
UPLINK_RULE = "peer.uplink_down"  # the room's probes fail what passes from the colocation: warning
TAKEOVER_RULE = "peer.service.down"  # an outage the colocation paged while the room was not heard: critical


def link_of(state: PeerState) -> PeerLink:
    """How this siaga hears a peer now (after the hub's last look at the clock)."""
    if state.goodbye_at is not None:
        return PeerLink.stopped
    if state.alarm_since is not None:
        return PeerLink.silent
    return PeerLink.heard if state.last_heartbeat_at is not None else PeerLink.waiting


def statuses(raw: object) -> dict[str, Status]:
    """Verdicts as a peer told them (``{check id: "up"|"down"|"unknown"}``); anything else is unknown."""
    if not isinstance(raw, dict):
        return {}
    return {str(k): Status(v) if v in ("up", "down") else Status.unknown for k, v in raw.items()}


@dataclass
class RoomProbes:
    """The colocation's probes of one room: their states and its plan for the room."""

    peer: Peer
    states: dict[str, CheckState] = field(default_factory=dict)
    plan: ColoPlan = field(default_factory=ColoPlan)
    scheduler: Any = None  # its Scheduler while the probes run

    def __post_init__(self) -> None:
        self.by_id = {c.check_id: c for c in self.peer.probes}
        self.service_of = {c.check_id: c.service for c in self.peer.probes}
        self.policies = {c.check_id: Policy(c.confirm.failures, c.confirm.successes) for c in self.peer.probes}
        for c in self.peer.probes:
            self.states.setdefault(c.check_id, CheckState())

    def verdicts(self) -> dict[str, Status]:
        return {cid: s.status for cid, s in self.states.items()}

    def passed_at(self) -> dict[str, dt.datetime | None]:
        """When the last attempt of each check passed (None: it failed, or none yet)."""
        return {cid: s.last_at if s.oks > 0 else None for cid, s in self.states.items()}

    def on_result(self, result: CheckResult) -> float:
        check = self.by_id[result.check_id]
        state, _change = step(self.states[result.check_id], ok=result.ok, at=result.at,
                              policy=self.policies[result.check_id], retryable=result.retryable,
                              message=stored_reason(result), latency_ms=result.latency_ms)
        self.states[result.check_id] = state
        return next_delay(state, check.interval_s, check.retry_interval_s)


class ProbeDesk:
    """This siaga's side of probes from both places (``hub.probes``)."""

    def __init__(self, ctx: Any, hub: PeerHub) -> None:
        # ctx: the runtime's context (its clock, alert manager, base folder); typed loosely: a lower floor
        self.ctx = ctx
        self.hub = hub
        self.rooms = {p.id: RoomProbes(p) for p in hub.config.by_role(PeerRole.watches) if p.probes}
        self.room_sink: AgreedSink | None = None  # set by the checks component at the room

    # what the heartbeat carries ----------------------------------------------------------------------

    def summary_for(self, peer: Peer) -> dict[str, Any]:
        """The part of this siaga's heartbeat that is for ``peer``."""
        room = self.rooms.get(peer.id)
        if room is not None:
            return {"probes": {k: v.value for k, v in room.verdicts().items()}, "agree": peer.agree,
                    "paged": sorted(room.plan.taken), "told_at": self.ctx.clock().isoformat()}
        if peer.role is PeerRole.watched_by and self.room_sink is not None:
            probed = statuses(self.hub.states[peer.id].summary.get("probes"))
            own = self.room_sink.own()
            return {"checks": {c: own.get(c, Status.unknown).value for c in probed}}
        return {}

    # the colocation's side ---------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run every room's probes until ``stop``."""
        if not self.rooms:
            return
        from siaga.checks.engine import _session
        from siaga.checks.registry import probe_for
        from siaga.checks.scheduler import Scheduler

        async with _session(64) as session:
            ctx = ProbeContext(session=session, clock=self.ctx.clock, base_dir=self.ctx.loaded.base_dir)
            halt = asyncio.Event()
            for room in self.rooms.values():
                room.scheduler = Scheduler([probe_for(c) for c in room.peer.probes], ctx, room.on_result,
                                           concurrency=64, per_host=4)
            tasks = [asyncio.create_task(room.scheduler.run(halt), name=f"peers:probes:{room.peer.id}")
                     for room in self.rooms.values()]
            try:
                await stop.wait()
            finally:
                halt.set()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def assess(self, now: dt.datetime) -> None:
        """After the hub's look at the clock: the colocation's plans applied, the room's held outages again."""
        for room in self.rooms.values():
            state = self.hub.states[room.peer.id]
            before = room.plan
            room.plan = colo_plan(before, room=link_of(state), told=statuses(state.summary.get("checks")),
                                  own=room.verdicts(), passed_at=room.passed_at(), service_of=room.service_of,
                                  agree=room.peer.agree, now=now)
            if room.scheduler is not None:  # the room says down: probe it from here at once, not at its interval
                for check in set(room.plan.seen_down) - set(before.seen_down):
                    room.scheduler.run_now(check)
            await self.apply(room, before, room.plan)
        if self.room_sink is not None:
            self.room_sink.reassess()

    async def apply(self, room: RoomProbes, before: ColoPlan, after: ColoPlan) -> None:
        peer, name = room.peer, room.peer.name or room.peer.id
        if after.uplink_down != before.uplink_down:
            summary = (Message(UPLINK_RULE, {"name": name, "since": after.uplink_since.isoformat(),
                                             "checks": ", ".join(after.uplink_checks)})
                       if after.uplink_since is not None else Message(f"{UPLINK_RULE}.back", {"name": name}))
            await self.raise_(peer.id, after.uplink_down, UPLINK_RULE, Severity.warning, summary,
                              peer=peer.id, name=name, checks=list(after.uplink_checks or before.uplink_checks))
        for service in sorted(set(after.taken) - set(before.taken)):
            down = [c for c, s in room.service_of.items() if s == service and room.states[c].status is Status.down]
            detail = room.states[down[0]].message if down else ""
            await self.raise_(f"{peer.id}/{service}", True, TAKEOVER_RULE, Severity.critical,
                              Message(TAKEOVER_RULE, {"name": name, "service": service,
                                                      "since": after.taken[service].isoformat(), "detail": detail}),
                              peer=peer.id, name=name, service=service, checks=down)
        for service in sorted(set(before.taken) - set(after.taken)):
            await self.raise_(f"{peer.id}/{service}", False, TAKEOVER_RULE, Severity.critical,
                              Message(f"{TAKEOVER_RULE}.back", {"name": name, "service": service}),
                              peer=peer.id, name=name, service=service)

    async def raise_(self, subject: str, active: bool, rule: str, severity: Severity, summary: Message,
                     **params: Any) -> None:
        alerts = self.ctx.services.alerts
        (log.warning if active else log.info)("peer probes: %s %s", rule, "raised" if active else "cleared",
                                              extra={"subject": subject})
        if alerts is None:
            return
        try:  # the manager writes the store: off the event loop
            await asyncio.to_thread(alerts.system_alert, subject, active, rule=rule, severity=severity,
                                    summary=summary, **params)
        except Exception:
            log.exception("peer probe alert not raised", extra={"subject": subject})

    # what siaga peers, the API and the dashboard show -------------------------------------------------

    def status(self, peer_id: str) -> list[dict[str, Any]]:
        """Per probed check: each location's verdict and what is made of it."""
        state = self.hub.states.get(peer_id)
        if state is None:
            return []
        room = self.rooms.get(peer_id)
        if room is not None:  # the colocation's row for a room
            told = statuses(state.summary.get("checks"))
            return [{"check": cid, "service": room.service_of[cid], ROOM: told.get(cid, Status.unknown).value,
                     COLO: s.status.value, "uplink": cid in room.plan.uplink_checks,
                     "paged_here": room.service_of[cid] in room.plan.taken}
                    for cid, s in sorted(room.states.items())]
        if self.room_sink is not None and self.hub.config.peer(peer_id) is not None:  # the room's row
            colo = statuses(state.summary.get("probes"))
            own = self.room_sink.own()
            return [{"check": cid, "service": self.room_sink.service_of.get(cid, ""),
                     ROOM: own.get(cid, Status.unknown).value, COLO: v.value,
                     "call": self.room_sink.calls.get(self.room_sink.service_of.get(cid, ""), Call.up).value}
                    for cid, v in sorted(colo.items())]
        return []


class AgreedSink:
    """The room's ``service.down`` conditions, passed on when the locations agree (see :func:`room_call`)."""

    def __init__(self, inner: AlertSink, monitor: Monitor, hub: PeerHub, colo: Peer,
                 clock: Callable[[], dt.datetime]) -> None:
        self.inner = inner
        self.clock = clock
        self.monitor = monitor
        self.hub = hub
        self.colo = colo
        self.service_of = {c.check_id: c.service for c in monitor.checks}
        self.latest: dict[str, Condition] = {}  # the monitor's last service.down condition per service
        self.since: dict[str, dt.datetime] = {}  # when the monitor's active condition arrived here
        self.raised: set[str] = set()
        self.calls: dict[str, Call] = {}

    def own(self) -> dict[str, Status]:
        return {cid: s.status for cid, s in self.monitor.states.items()}

    def view(self) -> ColoView:
        state = self.hub.states[self.colo.id]
        summary = state.summary
        agree = summary.get("agree")
        paged = summary.get("paged")
        told_at = None
        with contextlib.suppress(TypeError, ValueError):
            told_at = dt.datetime.fromisoformat(summary["told_at"]) if summary.get("told_at") else None
        return ColoView(link_of(state), statuses(summary.get("probes")),
                        agree if isinstance(agree, int) and agree >= 1 else None,
                        frozenset(str(s) for s in paged) if isinstance(paged, list) else frozenset(), told_at)

    def submit(self, condition: Condition) -> None:
        if condition.rule != "service.down":
            self.inner.submit(condition)
            return
        self.latest[condition.subject] = condition
        if condition.active:
            self.since.setdefault(condition.subject, self.clock())
        self._apply(condition.subject, self.view())

    def reassess(self) -> None:
        view = self.view()
        for service in list(self.latest):
            self._apply(service, view)

    def _apply(self, service: str, view: ColoView) -> None:
        condition = self.latest[service]
        call = room_call(service, self.monitor.checks_of.get(service, []), self.own(), view, self.since.get(service))
        if self.calls.get(service) != call and call is not Call.up:
            log.info("service %s: %s", service, call.value, extra={"service": service, "call": call.value})
        self.calls[service] = call
        if condition.active and call is Call.down and service not in self.raised:
            self.raised.add(service)
            self.inner.submit(replace(condition, params={**condition.params, "locations": self._locations(service,
                                                                                                           view)}))
        elif not condition.active:  # always on: an alert raised before a restart clears too
            self.raised.discard(service)
            self.since.pop(service, None)
            del self.latest[service]
            self.inner.submit(condition)

    def _locations(self, service: str, view: ColoView) -> dict[str, dict[str, str]]:
        own = self.own()
        return {cid: {ROOM: own.get(cid, Status.unknown).value, COLO: view.verdicts.get(cid, Status.unknown).value}
                for cid in self.monitor.checks_of.get(service, [])}


def agreed_sink(ctx: Any, monitor: Monitor, inner: AlertSink | None) -> AlertSink | None:
    """The room's sink for its checks: ``inner`` behind an :class:`AgreedSink` when a colocation watches it."""
    hub = ctx.services.peers
    if inner is None or hub is None or not isinstance(hub.probes, ProbeDesk):
        return inner
    colo = next(iter(hub.config.by_role(PeerRole.watched_by)), None)
    if colo is None:
        return inner
    sink = AgreedSink(inner, monitor, hub, colo, ctx.clock)
    hub.probes.room_sink = sink
    return sink


__all__ = ["TAKEOVER_RULE", "UPLINK_RULE", "AgreedSink", "ProbeDesk", "agreed_sink", "link_of", "statuses"]
