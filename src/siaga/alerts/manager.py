"""The alert keeper: applies what the pure lifecycle decides, then publishes it.

- ``submit(condition)`` (the :class:`~siaga.alerts.model.AlertSink` of every observer) hands the
  condition to :func:`siaga.alerts.lifecycle.step`, which returns the new book, the transitions and the
  writes; the keeper applies the writes in one transaction (learning the store's ids for new alerts and
  incidents), then hands every transition to each subscriber's queue. Nothing waits on a subscriber: a
  full queue drops its oldest transition (counted in ``dropped``).
- When the store cannot write (down, full, locked), the transitions are published all the same (new
  alerts with a provisional negative id) and the writes wait, in order, for the next change or ``tick``
  that reaches the store: applied then in one transaction, nothing lost and nothing written twice.
- ``tick(now)`` (about once a second): pending alerts whose hold time ran out start firing, waiting
  writes are retried, and acknowledgements or resolutions written by another process (``siaga alerts
  ack``) are taken up.

- One open alert per (rule, subject) across the processes on one store: a new alert claims its key
  (``store.claim_alert``); when another process raised it first, this one joins it (a witness, a line on
  its timeline) and publishes nothing. For the alerts of :data:`PROCESS_RULES` (a process's own), a
  :class:`~siaga.alerts.lifecycle.Leave` resolves only when no other live process (runtime session) still
  witnesses the alert, and one that only ended processes saw is resolved by any live one (``tick``).

Firing, hold times, severity, flapping and incident grouping are decided in ``siaga.alerts.lifecycle``.
Thread-safe: sources may call ``submit`` from their own threads; subscribers get transitions on their
own event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from siaga.alerts import lifecycle, store
from siaga.alerts.impact import ImpactOf
from siaga.alerts.lifecycle import (
    AddEvent,
    Book,
    CloseIncident,
    InsertAlert,
    Leave,
    OpenIncident,
    Outcome,
    TouchIncident,
    UpdateAlert,
    Write,
)
from siaga.alerts.model import Alert, AlertState, Condition, Impact, Severity, SubjectKind, Transition
from siaga.alerts.spooled import renumbered, write_from_json, write_to_json
from siaga.alerts.tables import alerts as alerts_table
from siaga.i18n.messages import Message, note_of, person_note
from siaga.store.engine import first_error_line
from siaga.store.events import get_meta, record_event, set_meta
from siaga.store.spool import Adopted, Spool
from siaga.store.types import utcnow

log = logging.getLogger(__name__)

GROUP_WINDOW_S = 30 * 60.0
SYNC_INTERVAL_S = 2.0
RETRY_S = 1.0
UNAVAILABLE_AFTER_S = 60.0
PROBE_S = 5.0
STORE_RULE = "store.unavailable"
WITNESS_WINDOW_S = 90.0
PROCESS_RULES = frozenset({"sensor.faulty", STORE_RULE, "siaga.degraded", "mqtt.unreachable", "peer.silent",
                           "peer.unreachable", "peer.uplink_down", "peer.service.down"})
"""The alerts a process raises about what it alone sees (its refused readings, its store, its components,
its broker connection, the peers it watches). Each process that sees one is its witness: it resolves when the
last live witness stops seeing it, and any live process resolves one that only ended processes saw (nobody is
left to say it cleared). The others (the rules', the checks', the backups') are one process's at a time, the
holder of their shard or role: whoever holds it when the condition clears resolves it (a shard or slot
moved to a live process must not wait for its former holder)."""


@dataclass
class _Applied:
    """What a batch of writes did in the store."""

    alert_ids: dict[int, int] = field(default_factory=dict)  # provisional alert id -> the store's
    incident_ids: dict[int, int] = field(default_factory=dict)  # provisional incident id -> the store's
    joined: dict[int, Alert] = field(default_factory=dict)  # provisional id -> the open alert raised elsewhere
    left: set[int] = field(default_factory=set)  # cleared here, still seen by another process: stays open
    witnessed: set[int] = field(default_factory=set)  # alerts this process now witnesses


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
    """Alert episodes, their timeline and incidents: the lifecycle's book in memory, its writes in the store."""

    def __init__(
        self,
        engine: Engine,
        *,
        impact_of: ImpactOf | None = None,
        group_window_s: float = GROUP_WINDOW_S,
        clock: Callable[[], dt.datetime] = utcnow,
        sync_interval_s: float = SYNC_INTERVAL_S,
        spool: Spool | None = None,
        unavailable_after_s: float = UNAVAILABLE_AFTER_S,
        session: Callable[[], int | None] = lambda: None,
        witness_window_s: float = WITNESS_WINDOW_S,
        witness_grace_s: float = 0.0,
        process: str | None = None,
    ) -> None:
        self.engine = engine
        self.impact_of: ImpactOf = impact_of or (lambda _k, _s: Impact())
        self.group_window = dt.timedelta(seconds=group_window_s)
        self.settings = lifecycle.Settings(self.group_window, self.impact_of)
        self.clock = clock
        self.sync_interval = dt.timedelta(seconds=sync_interval_s)
        self._lock = threading.RLock()
        self.book = Book()
        self._waiting: list[Write] = []  # writes the store refused, in order, for the next try
        self._retry_at: dt.datetime | None = None  # not before: a failing store is not asked at every reading
        self._subscribers: list[_Subscriber] = []
        self._last_sync: dt.datetime | None = None
        self.spool = spool
        self._spooled_last: str | None = None  # id of the last spooled record of the waiting writes
        self._held: list[tuple[Spool | Adopted, str]] = []  # spool files of earlier runs whose writes wait
        self.unavailable_after = dt.timedelta(seconds=unavailable_after_s)
        self.failing_since: dt.datetime | None = None  # the store refused a write (or the probe) since
        self.last_error: str | None = None
        self._last_probe: dt.datetime | None = None
        self.aliases: dict[int, int] = {}  # provisional alert id -> the store's
        # one open alert per (rule, subject) across the cluster: this process witnesses the alerts it sees
        self.session = session  # its runtime session (None: no witness is recorded)
        self.witness_window = dt.timedelta(seconds=witness_window_s)  # a witness not seen for this long has ended
        # an alert only ended processes saw waits this long (gone that long, this process up that long) before
        # it is resolved: a restarted process that still sees the fault joins it instead
        self.witness_grace = dt.timedelta(seconds=witness_grace_s)
        self._started_at = clock()
        self.process = process or f"{socket.gethostname()}:{os.getpid()}"
        self._witnessed: set[int] = set()
        self.joined = 0  # alerts raised here that another process had raised first
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
        with self._lock:
            lowest = self._replay_spool()
        with self._lock, self.engine.connect() as conn:
            incidents = [
                (inc.id, inc.last_alert_at, inc.closed_at is not None,
                 store.list_alerts(conn, incident_id=inc.id, limit=10_000))
                for inc in store.recent_incidents(conn, now - self.group_window)
            ]
            book = lifecycle.loaded(store.active_alerts(conn), incidents)
            self.book = dataclasses.replace(book, last_provisional=min(lowest, self.book.last_provisional))

    def adopt(self, subjects: Iterable[str]) -> int:
        """Take up the open alerts on ``subjects`` as the store has them (raised by another process whose
        rule shard this process takes over); returns how many there are."""
        wanted = set(subjects)
        if not wanted:
            return 0
        with self.engine.connect() as conn:
            found = [a for a in store.active_alerts(conn) if a.subject in wanted]
        with self._lock:
            self.book = lifecycle.adopted(self.book, found, wanted)
        return len(found)

    def _replay_spool(self) -> int:
        """Write what earlier runs spooled and did not get into the store (skipping what they did, by each
        file's mark): the orphan spool files of processes gone (see :mod:`siaga.store.spool`), and this
        process's own. Returns the lowest provisional id it used (new ones go below)."""
        if self.spool is None:
            return 0
        files: list[Spool | Adopted] = [*self.spool.adopt(), self.spool]
        writes: list[Write] = []
        held: list[tuple[Spool | Adopted, str]] = []
        lowest = self.book.last_provisional
        with self.engine.connect() as conn:
            for f in files:
                records = f.read(after=get_meta(conn, f.meta_key))
                if not records:
                    _spool_done(f)
                    continue
                more, lowest = renumbered([write_from_json(r) for r in records], lowest)
                writes += more
                held.append((f, str(records[-1]["_id"])))
        if not writes:
            return lowest
        try:
            with self.engine.begin() as conn:
                done = self._apply(conn, writes, late=len(writes))
                for f, last in held:
                    set_meta(conn, f.meta_key, last)
        except Exception as exc:  # the store still cannot write: they wait (in their spools too) for the next try
            self._failed(self.clock(), exc)
            self._waiting, self._held = writes, held
            log.warning("alert manager: %d spooled write(s) of an earlier run wait for the store", len(writes))
            return lowest
        self.aliases.update(done.alert_ids)
        self.aliases.update({i: a.id for i, a in done.joined.items()})
        for f, _ in held:
            _spool_done(f)
        log.warning("alert manager: %d spooled write(s) of an earlier run stored", len(writes))
        return lowest

    # Queries ------------------------------------------------------------------------------------------

    def active(self) -> list[Alert]:
        with self._lock:
            return self.book.active()

    def get(self, rule: str, subject: str) -> Alert | None:
        with self._lock:
            return self.book.get((rule, subject))

    @property
    def waiting(self) -> int:
        """Writes the store has not taken yet (it failed); retried at every change and tick."""
        return len(self._waiting)

    def stored_id(self, alert_id: int) -> int | None:
        """The store's id of an alert (``None`` while a provisional id is not stored yet)."""
        return alert_id if alert_id > 0 else self.aliases.get(alert_id)

    def problems(self) -> list[dict[str, object]]:
        """What /healthz names while the store cannot write (empty when all is written)."""
        with self._lock:
            if self.failing_since is None and not self._waiting:
                return []
            since = f" since {self.failing_since:%Y-%m-%d %H:%M:%S} UTC" if self.failing_since else ""
            where = f", spooled to {self.spool.path}" if self.spool is not None else ", kept in memory"
            return [{
                "reason": "store.cannot_write",
                "message": f"the store cannot write{since} ({self.last_error or 'unknown error'}): "
                           f"{len(self._waiting)} alert write(s) waiting{where}",
                "since": self.failing_since.isoformat() if self.failing_since else None,
                "error": self.last_error,
                "waiting_writes": len(self._waiting),
                "spool": str(self.spool.path) if self.spool is not None else None,
            }]

    # Applying an outcome ------------------------------------------------------------------------------

    def _keep(self, outcome: Outcome, what: str, at: dt.datetime) -> list[Transition]:
        """Adopt the outcome's book, write (with what waits) in one transaction, return the transitions
        to publish, with the store's ids when the write went through. Call with the lock held."""
        self.book, transitions, writes = outcome
        if not writes and not self._waiting:
            return transitions
        batch = self._waiting + writes
        if self._waiting and self._retry_at is not None and at < self._retry_at:
            self._waiting = batch
            self._spool(writes)
            return transitions
        try:
            with self.engine.begin() as conn:
                done = self._apply(conn, batch, late=len(self._waiting))
                for f, last in self._held:
                    set_meta(conn, f.meta_key, last)
                if self.spool is not None and self._spooled_last is not None:
                    set_meta(conn, self.spool.meta_key, self._spooled_last)
        except Exception as exc:  # told anyway; the writes wait in order for the next change or tick
            self.errors += 1
            if not self._waiting:
                log.exception("alert manager: cannot store %s; told anyway, written when the store is back", what)
            self._failed(at, exc)
            self._waiting = batch
            self._spool(writes)
            self._retry_at = at + dt.timedelta(seconds=RETRY_S)
            return transitions
        self._retry_at = None
        if self._waiting:
            log.warning("alert manager: %d waiting write(s) stored late", len(self._waiting))
            if self.spool is not None:
                self.spool.clear()
            for f, _ in self._held:
                _spool_done(f)
            self._spooled_last, self._held = None, []
        self._waiting = []
        self.failing_since = None
        return self._applied(done, transitions)

    def _applied(self, done: _Applied, transitions: list[Transition]) -> list[Transition]:
        """The book once the store took a batch; the transitions to publish with the store's ids. An alert
        another process had raised first is not news (nothing to publish: it was paged once, there), nor is
        one cleared here that another process still sees."""
        alert_ids, incident_ids = done.alert_ids, done.incident_ids
        self.aliases.update(alert_ids)
        self.aliases.update({i: a.id for i, a in done.joined.items()})
        self._witnessed |= done.witnessed
        self.joined += len(done.joined)
        book = self.book
        for provisional, stored in done.joined.items():
            book = lifecycle.joined(book, provisional, stored)
        self.book = lifecycle.renamed(book, alert_ids, incident_ids)
        out = []
        for t in transitions:
            if t.alert.id in done.joined:
                continue
            a = lifecycle.rename_alert(t.alert, alert_ids, incident_ids)
            if a.id in done.left:
                continue
            out.append(t if a is t.alert else Transition(a, t.previous, t.at, t.by, t.via, t.note, t.event))
        return out

    def _spool(self, writes: list[Write]) -> None:
        if self.spool is not None and writes:
            self._spooled_last = self.spool.append([write_to_json(w) for w in writes])[-1]["_id"]

    def _failed(self, at: dt.datetime, exc: BaseException) -> None:
        if self.failing_since is None:
            self.failing_since = at
        self.last_error = first_error_line(exc)

    def _apply(self, conn: Connection, writes: list[Write], *, late: int) -> _Applied:
        """Apply ``writes`` in order; the first ``late`` ones waited for the store. A new alert first claims
        its (rule, subject): when another process holds it open already, this one joins that alert instead
        (witness, a line on its timeline) and its own writes are dropped. A :class:`Leave` whose alert
        another live process still sees drops the resolution that follows it."""
        done = _Applied()
        session = self.session()
        inserts = {w.alert.id: w for w in writes if isinstance(w, InsertAlert)}
        unclaimed = set(inserts)
        incomplete: set[int] = set()  # claimed before its incident was made: its row gets the incident later

        def witness(alert_id: int, rule: str, at: dt.datetime) -> None:
            if session is not None and rule in PROCESS_RULES:
                store.witness(conn, alert_id, session, at)
                done.witnessed.add(alert_id)

        def claim(provisional: int) -> None:
            unclaimed.discard(provisional)
            w = inserts[provisional]
            alert = lifecycle.rename_alert(w.alert, done.alert_ids, done.incident_ids)
            if alert.incident_id is not None and alert.incident_id < 0:
                alert = dataclasses.replace(alert, incident_id=None)
                incomplete.add(provisional)
            for _ in range(3):  # (an open one found taken may be resolved before it is read: try again)
                new_id = store.claim_alert(conn, alert, w.at)
                if new_id is not None:
                    done.alert_ids[provisional] = new_id
                    witness(new_id, alert.rule, w.at)
                    return
                stored = store.open_alert(conn, alert.rule, alert.subject)
                if stored is not None:
                    done.joined[provisional] = stored
                    witness(stored.id, alert.rule, w.at)
                    store.add_event(conn, stored, "note", w.at, by="siaga",
                                    note=note_of(Message("note.witness_joined", {"process": self.process})))
                    log.info("alert manager: %s on %s is open already (alert #%d): joined it",
                             alert.rule, alert.subject, stored.id)
                    return
            raise RuntimeError(f"cannot claim the alert {alert.rule} on {alert.subject}")

        for i, w in enumerate(writes):
            about = w.alert_id if isinstance(w, OpenIncident | TouchIncident | CloseIncident) else w.alert.id
            if about in unclaimed and isinstance(w, OpenIncident | TouchIncident | InsertAlert):
                claim(about)
            if about in done.joined:
                stored_incident = done.joined[about].incident_id
                if not isinstance(w, OpenIncident):
                    continue
                if stored_incident is not None:  # what else grouped with it here joins the stored one's incident
                    done.incident_ids[w.id] = stored_incident
                    continue
            provisional = about
            w = lifecycle.rename_write(w, done.alert_ids, done.incident_ids)
            about = w.alert_id if isinstance(w, OpenIncident | TouchIncident | CloseIncident) else w.alert.id
            if about in done.left:
                continue
            if isinstance(w, InsertAlert):
                if provisional in incomplete:
                    store.update_alert(conn, w.alert, w.at)
            elif isinstance(w, UpdateAlert):
                store.update_alert(conn, w.alert, w.at)
                if w.alert.state is AlertState.resolved:  # by a person, or by the last process that saw it
                    store.forget_witnesses(conn, w.alert.id)
            elif isinstance(w, Leave):
                if w.alert.id > 0 and w.alert.rule in PROCESS_RULES:
                    self._witnessed.discard(w.alert.id)
                    others = store.leave(conn, w.alert.id, session, w.at, self.witness_window)
                    if others:
                        done.left.add(w.alert.id)
                        store.add_event(conn, w.alert, "note", w.at, by="siaga", note=note_of(
                            Message("note.still_seen", {"process": self.process, "others": others})))
            elif isinstance(w, AddEvent):
                alert = lifecycle.rename_alert(w.alert, done.alert_ids, done.incident_ids)
                late_note = note_of(Message("note.stored_late"))
                note = w.note if not (w.opening and i < late and w.note is None) else late_note
                if w.own_line:
                    store.add_event(conn, alert, w.event, w.at, by=w.by, via=w.via, note=note)
                if w.timeline != "":
                    record_event(conn, w.timeline or f"alert.{w.event}", subject=alert.subject, actor=w.by,
                                 at=w.at, data={"alert_id": alert.id, "rule": alert.rule,
                                                "severity": alert.severity.value, "incident_id": alert.incident_id})
            elif isinstance(w, OpenIncident):
                inc_id = store.insert_incident(conn, w.title, w.at, w.room, w.rack)
                done.incident_ids[w.id] = inc_id
                record_event(conn, "incident.opened", subject=w.subject, at=w.at,
                             data={"incident_id": inc_id, "title": w.title.to_json()})
            elif isinstance(w, TouchIncident):
                store.set_incident(conn, w.id, last_alert_at=w.at, **({"closed_at": None} if w.reopen else {}))
            elif isinstance(w, CloseIncident):
                store.set_incident(conn, w.id, closed_at=w.at)
                record_event(conn, "incident.closed", subject=w.subject, at=w.at, data={"incident_id": w.id})
        return done

    def _publish_all(self, transitions: Iterable[Transition]) -> None:
        for t in transitions:
            self._publish(t)

    # Observers' side ----------------------------------------------------------------------------------

    def submit(self, condition: Condition) -> None:
        """Take one condition (an AlertSink). Never raises: a store failure is logged and counted."""
        try:
            with self._lock:
                outcome = lifecycle.step(self.book, condition, self.settings)
                self._publish_all(self._keep(outcome, f"{condition.rule} on {condition.subject}", condition.at))
                if condition.active:
                    self._witness(condition)
        except Exception:  # the ingest path must go on; the failure is visible in logs and `errors`
            self.errors += 1
            log.exception("alert manager: cannot take condition %s on %s", condition.rule, condition.subject)

    def _witness(self, condition: Condition) -> None:
        """This process sees an open alert it has not said it sees (one another process raised, or an
        earlier run): it becomes a witness, so the alert stays open while this process still sees it."""
        alert = self.book.get(condition.key)
        session = self.session()
        if (alert is None or alert.id <= 0 or alert.id in self._witnessed or session is None or self._waiting
                or alert.rule not in PROCESS_RULES):
            return
        with self.engine.begin() as conn:
            store.witness(conn, alert.id, session, condition.at)
        self._witnessed.add(alert.id)

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
        summary: Message | None = None,
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
                summary=summary or Message("system.down" if active else "system.up", {"component": component}),
                params=dict(params),
                fire_at_once=True,
            )
        )

    # People's side ------------------------------------------------------------------------------------

    def ack(self, alert_id: int, by: str, via: str = "api", note: str | None = None,
            at: dt.datetime | None = None) -> Alert:
        """Someone takes responsibility for an alert. Raises AlertError with one line when it cannot be."""
        at, note = at or self.clock(), person_note(note)
        with self._lock:
            if self.book.by_alert_id(alert_id) is None:
                with self.engine.begin() as conn:
                    return store.acknowledge(conn, alert_id, by, at, via=via, note=note)
            outcome = self._person(lambda: lifecycle.ack(self.book, alert_id, by, at, via=via, note=note))
            transitions = self._keep(outcome, f"the acknowledgement of alert #{alert_id}", at)
            self._publish_all(transitions)
            return transitions[0].alert

    def resolve(self, alert_id: int, by: str | None, via: str = "api", note: str | None = None,
                at: dt.datetime | None = None) -> Alert:
        """Close an alert by hand (the condition may still hold; it opens a new alert when it comes back)."""
        at, note = at or self.clock(), person_note(note)
        with self._lock:
            if self.book.by_alert_id(alert_id) is None:
                with self.engine.begin() as conn:
                    return store.resolve(conn, alert_id, by, at, via=via, note=note)
            outcome = self._person(lambda: lifecycle.resolve(self.book, alert_id, by, at, via=via, note=note))
            transitions = self._keep(outcome, f"the resolution of alert #{alert_id}", at)
            self._publish_all(transitions)
            return transitions[0].alert

    def note(self, alert_id: int, by: str | None, note: str, via: str = "api", at: dt.datetime | None = None) -> None:
        at, note = at or self.clock(), person_note(note) or ""
        with self._lock:
            if self.book.by_alert_id(alert_id) is None:
                with self.engine.begin() as conn:
                    alert = store.add_note(conn, alert_id, by, note, at, via=via)
                self._publish(Transition(alert, alert.state, at, by=by, via=via, note=note, event="note"))
                return
            outcome = self._person(lambda: lifecycle.note(self.book, alert_id, by, note, at, via=via))
            self._publish_all(self._keep(outcome, f"a note on alert #{alert_id}", at))

    @staticmethod
    def _person(decide: Callable[[], Outcome]) -> Outcome:
        try:
            return decide()
        except lifecycle.LifecycleError as exc:
            raise store.AlertError(exc.why) from None

    # Time ---------------------------------------------------------------------------------------------

    def tick(self, now: dt.datetime | None = None) -> None:
        """Promote pending alerts whose hold ran out; retry waiting writes; take up changes other processes wrote."""
        now = now or self.clock()
        try:
            with self._lock:
                outcome = lifecycle.tick(self.book, now, self.settings)
                self._publish_all(self._keep(outcome, "pending alerts firing", now))
                self._probe(now)
                self._store_alert(now)
                if not self._waiting and (self._last_sync is None or now - self._last_sync >= self.sync_interval):
                    self._last_sync = now
                    self._sweep(now)
                    self._sync(now)
        except Exception:
            self.errors += 1
            log.exception("alert manager: tick failed")

    def _probe(self, now: dt.datetime) -> None:
        """Can the store write? Asked every few seconds when nothing else wrote (a full disk, a stopped
        database are found even while no alert changes)."""
        if self._waiting or (self._last_probe is not None and now - self._last_probe < dt.timedelta(seconds=PROBE_S)):
            return
        self._last_probe = now
        try:
            with self.engine.begin() as conn:
                set_meta(conn, "store.probe", now.isoformat(), at=now)
        except Exception as exc:
            self._failed(now, exc)
            return
        self.failing_since = None

    def _store_alert(self, now: dt.datetime) -> None:
        """The "store unavailable" alert: fires once the store has refused writes for ``unavailable_after``
        (it pages from memory like any alert), resolves when everything waiting is written."""
        open_ = self.book.get((STORE_RULE, "store")) is not None
        failing = self.failing_since is not None and now - self.failing_since >= self.unavailable_after
        if failing and not open_:
            since = self.failing_since or now
            condition = Condition(STORE_RULE, "store", SubjectKind.system, True, Severity.critical, now,
                                  summary=Message("store.unavailable", {"since": since.isoformat(),
                                                                        "error": self.last_error}),
                                  params={"since": since.isoformat()},
                                  fire_at_once=True)
        elif open_ and self.failing_since is None and not self._waiting:
            condition = Condition(STORE_RULE, "store", SubjectKind.system, False, Severity.critical, now,
                                  summary=Message("store.available"), fire_at_once=True)
        else:
            return
        self._publish_all(self._keep(lifecycle.step(self.book, condition, self.settings), "the store alert", now))

    def _sweep(self, now: dt.datetime) -> None:
        """Resolve the alerts of :data:`PROCESS_RULES` that only ended processes saw (taken up by every
        book at its next sync, this one's right after)."""
        if self.session() is None or now - self._started_at < self.witness_grace:
            return
        with self.engine.begin() as conn:
            ended = store.resolve_unwitnessed(conn, PROCESS_RULES, now, self.witness_window + self.witness_grace)
        if ended:
            log.warning("alert manager: alert(s) %s resolved: every process that saw them has ended", ended)
        self._witnessed &= set(self.book.by_id)

    def _sync(self, now: dt.datetime) -> None:
        ids = [i for i in self.book.by_id if i > 0]
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
                alert = self.book.by_alert_id(int(row.id))
                if alert is None:
                    continue
                if row.state != alert.state.value and row.state in (AlertState.acknowledged.value,
                                                                    AlertState.resolved.value):
                    changed.append((row, store.last_event(conn, alert.id, row.state)))
        for row, ev in changed:
            outcome = lifecycle.taken_up(
                self.book, int(row.id), AlertState(row.state), ev.at if ev else now,
                acknowledged_at=row.acknowledged_at, acknowledged_by=row.acknowledged_by, resolved_at=row.resolved_at,
                by=ev.by if ev else None, via=ev.via if ev else None, note=ev.note if ev else None,
            )
            self._publish_all(self._keep(outcome, f"alert #{row.id} changed elsewhere", now))


def _spool_done(f: Spool | Adopted) -> None:
    """Everything of spool file ``f`` is in the store: empty it (this process's) or remove it (adopted)."""
    if isinstance(f, Adopted):
        f.remove()
    else:
        f.clear()
