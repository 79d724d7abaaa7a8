"""The alert manager: conditions in, alert episodes and incidents out, every transition published.

- ``submit(condition)`` (the :class:`~siaga.alerts.model.AlertSink` of every observer) opens, changes
  or resolves the alert of ``condition.key``; each change is written to the store with its timeline
  event and then handed to every subscriber's queue. Nothing waits on a subscriber: a full queue
  drops its oldest transition (counted in ``dropped``).
- ``tick(now)`` (about once a second): pending alerts whose hold time ran out start firing, and
  acknowledgements or resolutions written by another process (``siaga alerts ack``) are taken up.
- A firing alert joins an incident: an open (or recent) one from the same rack or room, or on devices
  already hit, within ``group_window_s``; else it opens a new one. An incident closes when its last
  alert resolves and reopens if a related alert follows within the window.

Thread-safe: sources may call ``submit`` from their own threads; subscribers get transitions on their
own event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from siaga.alerts import store
from siaga.alerts.impact import ImpactOf
from siaga.alerts.model import Alert, AlertState, Condition, Impact, Severity, SubjectKind, Transition
from siaga.alerts.tables import alerts as alerts_table
from siaga.store.events import record_event
from siaga.store.types import utcnow

log = logging.getLogger(__name__)

GROUP_WINDOW_S = 30 * 60.0
SYNC_INTERVAL_S = 2.0


@dataclass
class _IncidentScope:
    """What an open incident covers, for grouping."""

    id: int
    rooms: set[str] = field(default_factory=set)
    racks: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    open_alerts: set[int] = field(default_factory=set)
    last_alert_at: dt.datetime | None = None
    closed: bool = False

    def related(self, alert: Alert) -> bool:
        imp = alert.impact
        return (
            (imp.rack is not None and imp.rack in self.racks)
            or (imp.room is not None and imp.room in self.rooms)
            or bool(set(imp.devices) & self.devices)
            or alert.subject in self.subjects
        )

    def add(self, alert: Alert, at: dt.datetime) -> None:
        imp = alert.impact
        if imp.room:
            self.rooms.add(imp.room)
        if imp.rack:
            self.racks.add(imp.rack)
        self.devices.update(imp.devices)
        self.subjects.add(alert.subject)
        if alert.state is not AlertState.resolved:
            self.open_alerts.add(alert.id)
        if self.last_alert_at is None or at > self.last_alert_at:
            self.last_alert_at = at


class _Subscriber:
    __slots__ = ("dropped", "loop", "queue")

    def __init__(self, queue: asyncio.Queue[Transition], loop: asyncio.AbstractEventLoop) -> None:
        self.queue = queue
        self.loop = loop
        self.dropped = 0

    def put(self, t: Transition) -> None:
        q = self.queue
        if q.full():
            try:
                q.get_nowait()
                self.dropped += 1
            except asyncio.QueueEmpty:
                pass
        q.put_nowait(t)


class AlertManager:
    """Alert episodes, their timeline and incidents, in memory and in the store."""

    def __init__(
        self,
        engine: Engine,
        *,
        impact_of: ImpactOf | None = None,
        group_window_s: float = GROUP_WINDOW_S,
        clock: Callable[[], dt.datetime] = utcnow,
        sync_interval_s: float = SYNC_INTERVAL_S,
    ) -> None:
        self.engine = engine
        self.impact_of: ImpactOf = impact_of or (lambda _k, _s: Impact())
        self.group_window = dt.timedelta(seconds=group_window_s)
        self.clock = clock
        self.sync_interval = dt.timedelta(seconds=sync_interval_s)
        self._lock = threading.RLock()
        self._open: dict[tuple[str, str], Alert] = {}
        self._by_id: dict[int, tuple[str, str]] = {}
        self._hold: dict[int, float] = {}  # alert id -> seconds pending before firing
        self._incidents: dict[int, _IncidentScope] = {}
        self._subscribers: list[_Subscriber] = []
        self._last_sync: dt.datetime | None = None
        self._unsaved: set[tuple[str, str]] = set()  # open alerts the store refused (provisional ids < 0)
        self._provisional = 0
        self.published = 0
        self.errors = 0

    # Subscribers -----------------------------------------------------------------------------------

    def subscribe(self, maxsize: int = 10_000) -> asyncio.Queue[Transition]:
        """A queue that receives every transition from now on (call from the subscriber's event loop)."""
        queue: asyncio.Queue[Transition] = asyncio.Queue(maxsize=maxsize)
        with self._lock:
            self._subscribers.append(_Subscriber(queue, asyncio.get_running_loop()))
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Transition]) -> None:
        with self._lock:
            self._subscribers = [s for s in self._subscribers if s.queue is not queue]

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self._subscribers)

    def _publish(self, t: Transition) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is sub.loop:
                sub.put(t)
            elif not sub.loop.is_closed():
                sub.loop.call_soon_threadsafe(sub.put, t)

    # Loading ------------------------------------------------------------------------------------------

    def load(self, now: dt.datetime | None = None) -> None:
        """Take up the active alerts and recent incidents left in the store by an earlier run."""
        now = now or self.clock()
        with self._lock, self.engine.connect() as conn:
            for alert in store.active_alerts(conn):
                self._open[alert.key] = alert
                self._by_id[alert.id] = alert.key
                self._hold[alert.id] = float(alert.params.get("for_s") or 0.0)
            for inc in store.recent_incidents(conn, now - self.group_window):
                scope = _IncidentScope(inc.id, last_alert_at=inc.last_alert_at, closed=inc.closed_at is not None)
                for alert in store.list_alerts(conn, incident_id=inc.id, limit=10_000):
                    scope.add(alert, inc.last_alert_at)
                self._incidents[inc.id] = scope

    # Queries ------------------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        with self._lock:
            return sorted(self._open.values(), key=lambda a: a.id)

    def get(self, rule: str, subject: str) -> Alert | None:
        with self._lock:
            return self._open.get((rule, subject))

    # Observers' side ----------------------------------------------------------------------------------

    def submit(self, condition: Condition) -> None:
        """Take one condition (an AlertSink). Never raises: a store failure is logged and counted."""
        try:
            with self._lock:
                self._submit(condition)
        except Exception:  # the ingest path must go on; the failure is visible in logs and `errors`
            self.errors += 1
            log.exception("alert manager: cannot take condition %s on %s", condition.rule, condition.subject)

    def submit_many(self, conditions: Iterable[Condition]) -> None:
        for c in conditions:
            self.submit(c)

    def system_alert(
        self,
        component: str,
        active: bool,
        *,
        rule: str = "system.down",
        severity: Severity = Severity.warning,
        summary: str = "",
        at: dt.datetime | None = None,
        **params: object,
    ) -> None:
        """siaga itself: a broker unreachable, a source down. Fires at once; call again with active=False."""
        self.submit(
            Condition(
                rule=rule,
                subject=component,
                subject_kind=SubjectKind.system,
                active=active,
                severity=severity,
                at=at or self.clock(),
                summary=summary or (f"{component} is not working" if active else f"{component} works again"),
                params=dict(params),
                fire_at_once=True,
            )
        )

    def _submit(self, c: Condition) -> None:
        current = self._open.get(c.key)
        if current is None:
            if c.active:
                self._open_alert(c)
            return
        if not c.active:
            self._resolve(current, c.at, event="resolved", note=c.summary or None)
            return
        alert = current
        events: list[str] = []
        flapping = bool(c.params.get("flapping"))
        was_flapping = bool(alert.params.get("flapping"))
        params = {**alert.params, **c.params}
        if not flapping:
            params.pop("flapping", None)
        alert = dataclasses.replace(
            alert, last_value=c.value if c.value is not None else alert.last_value, params=params,
            summary=c.summary or alert.summary,
        )
        if c.severity != alert.severity:
            alert = dataclasses.replace(alert, severity=c.severity)
            events.append("severity")
        if flapping != was_flapping:
            events.append("flapping" if flapping else "steady")
        if alert.state is AlertState.pending and (c.fire_at_once or self._hold_over(alert, c.at)):
            alert = dataclasses.replace(alert, state=AlertState.firing, fired_at=c.at)
            events.append("firing")
        if not events:
            self._open[c.key] = alert  # a new value only: kept in memory, written with the next change
            return
        previous = current.state
        if c.key not in self._unsaved:
            scope: _IncidentScope | None = None
            before = alert
            try:
                with self.engine.begin() as conn:
                    if "firing" in events and alert.incident_id is None:
                        scope = self._incident_for(conn, alert, c.at)
                        alert = dataclasses.replace(alert, incident_id=scope.id)
                    store.update_alert(conn, alert, c.at)
                    for ev in events:
                        store.add_event(conn, alert, ev, c.at)
                        self._record(conn, alert, ev, c.at)
            except Exception:  # told anyway; the next change of this alert writes its whole row again
                self.errors += 1
                log.exception("alert manager: cannot store %s of alert #%d", "/".join(events), alert.id)
                alert, scope = dataclasses.replace(alert, incident_id=before.incident_id), None
            if scope is not None:
                self._attach(scope, alert, c.at)
        self._open[c.key] = alert
        for ev in events:
            self._publish(Transition(alert, previous, c.at, event=ev))

    def _hold_over(self, alert: Alert, now: dt.datetime) -> bool:
        return (now - alert.started_at).total_seconds() >= self._hold.get(alert.id, 0.0)

    def _open_alert(self, c: Condition) -> None:
        for_s = float(c.params.get("for_s") or 0.0)
        firing = c.fire_at_once or for_s <= 0
        impact = self.impact_of(c.subject_kind, c.subject)
        alert = Alert(
            id=0,
            rule=c.rule,
            subject=c.subject,
            subject_kind=c.subject_kind,
            state=AlertState.firing if firing else AlertState.pending,
            severity=c.severity,
            summary=c.summary or f"{c.rule} on {c.subject}",
            started_at=c.at,
            fired_at=c.at if firing else None,
            last_value=c.value,
            impact=impact,
            params=dict(c.params),
        )
        scope: _IncidentScope | None = None
        try:
            with self.engine.begin() as conn:
                if firing:
                    scope = self._incident_for(conn, alert, c.at)
                    alert = dataclasses.replace(alert, incident_id=scope.id)
                alert = dataclasses.replace(alert, id=store.insert_alert(conn, alert, c.at))
                store.add_event(conn, alert, alert.state.value, c.at)
                self._record(conn, alert, alert.state.value, c.at)
        except Exception:
            # The store failed (disk full, database away): the alert is still told to subscribers, with a
            # provisional id, and written by `tick` once the store answers again.
            self.errors += 1
            log.exception("alert manager: cannot store the new alert %s on %s; told anyway", c.rule, c.subject)
            self._provisional -= 1
            alert = dataclasses.replace(alert, id=self._provisional, incident_id=None)
            self._unsaved.add(c.key)
            scope = None
        if scope is not None:
            self._attach(scope, alert, c.at)
        self._open[c.key] = alert
        self._by_id[alert.id] = c.key
        self._hold[alert.id] = for_s
        self._publish(Transition(alert, None, c.at, event=alert.state.value))

    def _save_unsaved(self, now: dt.datetime) -> None:
        """Write the alerts the store refused earlier (see ``_open_alert``)."""
        for key in list(self._unsaved):
            alert = self._open.get(key)
            if alert is None:
                self._unsaved.discard(key)
                continue
            with self.engine.begin() as conn:
                new_id = store.insert_alert(conn, dataclasses.replace(alert, incident_id=None), now)
                saved = dataclasses.replace(alert, id=new_id)
                store.add_event(conn, saved, saved.state.value, alert.started_at, note="stored late")
                self._record(conn, saved, saved.state.value, alert.started_at)
            self._unsaved.discard(key)
            self._by_id.pop(alert.id, None)
            self._hold[new_id] = self._hold.pop(alert.id, 0.0)
            self._by_id[new_id] = key
            self._open[key] = saved
            log.warning("alert manager: alert %s on %s stored late as #%d", alert.rule, alert.subject, new_id)

    def _record(self, conn: Connection, alert: Alert, event: str, at: dt.datetime, by: str | None = None) -> None:
        record_event(
            conn,
            f"alert.{event}",
            subject=alert.subject,
            actor=by,
            at=at,
            data={"alert_id": alert.id, "rule": alert.rule, "severity": alert.severity.value,
                  "incident_id": alert.incident_id},
        )

    def _incident_for(self, conn: Connection, alert: Alert, at: dt.datetime) -> _IncidentScope:
        """The incident a firing alert joins (an open or recent, related one), or a new one; in ``conn``."""
        hinted = alert.params.get("join_incident")  # an observer that knows the cause (checks' correlation)
        if isinstance(hinted, int) and hinted in self._incidents:
            hinted_scope = self._incidents[hinted]
            store.set_incident(conn, hinted_scope.id, last_alert_at=at,
                               **({"closed_at": None} if hinted_scope.closed else {}))
            return hinted_scope
        for scope in sorted(self._incidents.values(), key=lambda s: s.id):
            recent = scope.last_alert_at is not None and at - scope.last_alert_at <= self.group_window
            if (recent or scope.open_alerts) and (not scope.closed or recent) and scope.related(alert):
                values: dict[str, object] = {"last_alert_at": at}
                if scope.closed:
                    values["closed_at"] = None
                store.set_incident(conn, scope.id, **values)
                return scope
        title = alert.summary
        inc_id = store.insert_incident(conn, title, at, alert.impact.room, alert.impact.rack)
        record_event(
            conn, "incident.opened", subject=alert.subject, at=at, data={"incident_id": inc_id, "title": title}
        )
        return _IncidentScope(inc_id)

    def _attach(self, scope: _IncidentScope, alert: Alert, at: dt.datetime) -> None:
        """After the transaction: the incident in memory covers ``alert`` too."""
        self._incidents[scope.id] = scope
        scope.closed = False
        scope.add(alert, at)

    def _resolve(
        self,
        alert: Alert,
        at: dt.datetime,
        *,
        event: str,
        by: str | None = None,
        via: str | None = None,
        note: str | None = None,
        write: bool = True,
    ) -> Alert:
        previous = alert.state
        alert = dataclasses.replace(alert, state=AlertState.resolved, resolved_at=at)
        if alert.key in self._unsaved:
            self._unsaved.discard(alert.key)
            write = False
            log.error("alert manager: alert %s on %s resolved before the store took it", alert.rule, alert.subject)
        try:
            with self.engine.begin() as conn:
                if write:
                    store.update_alert(conn, alert, at)
                    store.add_event(conn, alert, event, at, by=by, via=via, note=note)
                self._record(conn, alert, "resolved", at, by)
                self._leave_incident(conn, alert, at)
        except Exception:  # told anyway; a restart finds it open and the rules resolve it again
            self.errors += 1
            log.exception("alert manager: cannot store the resolution of alert #%d", alert.id)
        self._open.pop(alert.key, None)
        self._by_id.pop(alert.id, None)
        self._hold.pop(alert.id, None)
        self._publish(Transition(alert, previous, at, by=by, via=via, note=note, event="resolved"))
        return alert

    def _leave_incident(self, conn: Connection, alert: Alert, at: dt.datetime) -> None:
        scope = self._incidents.get(alert.incident_id) if alert.incident_id is not None else None
        if scope is None:
            return
        scope.open_alerts.discard(alert.id)
        if not scope.open_alerts and not scope.closed:
            scope.closed = True
            store.set_incident(conn, scope.id, closed_at=at)
            record_event(conn, "incident.closed", subject=alert.subject, at=at, data={"incident_id": scope.id})

    # People's side ------------------------------------------------------------------------------------

    def ack(self, alert_id: int, by: str, via: str = "api", note: str | None = None,
            at: dt.datetime | None = None) -> Alert:
        """Someone takes responsibility for an alert. Raises AlertError with one line when it cannot be."""
        at = at or self.clock()
        with self._lock:
            key = self._by_id.get(alert_id)
            if key is None:
                with self.engine.begin() as conn:
                    return store.acknowledge(conn, alert_id, by, at, via=via, note=note)
            alert = self._open[key]
            if alert.state is AlertState.acknowledged:
                raise store.AlertError(f"alert #{alert_id} was already acknowledged by {alert.acknowledged_by}")
            previous = alert.state
            alert = dataclasses.replace(alert, state=AlertState.acknowledged, acknowledged_at=at, acknowledged_by=by)
            with self.engine.begin() as conn:
                store.update_alert(conn, alert, at)
                store.add_event(conn, alert, "acknowledged", at, by=by, via=via, note=note)
                self._record(conn, alert, "acknowledged", at, by)
            self._open[key] = alert
            self._publish(Transition(alert, previous, at, by=by, via=via, note=note, event="acknowledged"))
            return alert

    def resolve(self, alert_id: int, by: str | None, via: str = "api", note: str | None = None,
                at: dt.datetime | None = None) -> Alert:
        """Close an alert by hand (the condition may still hold; it opens a new alert when it comes back)."""
        at = at or self.clock()
        with self._lock:
            key = self._by_id.get(alert_id)
            if key is None:
                with self.engine.begin() as conn:
                    return store.resolve(conn, alert_id, by, at, via=via, note=note)
            return self._resolve(self._open[key], at, event="resolved", by=by, via=via, note=note)

    def note(self, alert_id: int, by: str | None, note: str, via: str = "api", at: dt.datetime | None = None) -> None:
        at = at or self.clock()
        with self._lock, self.engine.begin() as conn:
            alert = store.add_note(conn, alert_id, by, note, at, via=via)
        self._publish(Transition(alert, alert.state, at, by=by, via=via, note=note, event="note"))

    # Time ---------------------------------------------------------------------------------------------

    def tick(self, now: dt.datetime | None = None) -> None:
        """Promote pending alerts whose hold ran out; take up changes other processes wrote."""
        now = now or self.clock()
        try:
            with self._lock:
                for alert in list(self._open.values()):
                    if alert.state is AlertState.pending and self._hold_over(alert, now):
                        self._submit(
                            Condition(alert.rule, alert.subject, alert.subject_kind, True, alert.severity, now,
                                      alert.last_value, alert.summary, dict(alert.params), fire_at_once=True)
                        )
                if self._unsaved:
                    self._save_unsaved(now)
                if self._last_sync is None or now - self._last_sync >= self.sync_interval:
                    self._last_sync = now
                    self._sync(now)
        except Exception:
            self.errors += 1
            log.exception("alert manager: tick failed")

    def _sync(self, now: dt.datetime) -> None:
        ids = list(self._by_id)
        if not ids:
            return
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alerts_table.c.id, alerts_table.c.state, alerts_table.c.acknowledged_at,
                       alerts_table.c.acknowledged_by, alerts_table.c.resolved_at)
                .where(alerts_table.c.id.in_(ids))
            ).all()
            changed = []
            for row in rows:
                key = self._by_id.get(int(row.id))
                if key is None:
                    continue
                alert = self._open[key]
                if row.state != alert.state.value and row.state in (AlertState.acknowledged.value,
                                                                    AlertState.resolved.value):
                    ev = store.last_event(conn, alert.id, row.state)
                    changed.append((alert, row, ev))
        for alert, row, ev in changed:
            by = ev.by if ev else None
            via = ev.via if ev else None
            note = ev.note if ev else None
            at = ev.at if ev else now
            if row.state == AlertState.acknowledged.value:
                new = dataclasses.replace(alert, state=AlertState.acknowledged, acknowledged_at=row.acknowledged_at,
                                          acknowledged_by=row.acknowledged_by)
                self._open[alert.key] = new
                self._publish(Transition(new, alert.state, at, by=by, via=via, note=note, event="acknowledged"))
            else:
                self._resolve(alert, row.resolved_at or at, event="resolved", by=by, via=via, note=note, write=False)
