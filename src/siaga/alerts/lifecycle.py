"""The alert lifecycle, pure: a book of open alerts and incidents, and what each event does to it.

Every change is one call that returns ``Outcome(book, transitions, writes)``: the book as it is now,
the transitions to publish and the writes that make the store say the same. No I/O, no clock of its
own (the time is the condition's ``at`` or the ``now`` passed in), nothing mutated in place: the same
book and the same input give the same outcome, so the whole state machine is tested without a database
(``tests/unit/alerts/test_lifecycle_properties.py``).

- :func:`step` takes a :class:`~siaga.alerts.model.Condition`: opens an alert (pending, or firing at
  once), changes its severity, marks it flapping or steady, fires it when its hold time has passed,
  resolves it when the condition clears.
- :func:`tick` fires pending alerts whose hold time ran out.
- :func:`ack`, :func:`resolve`, :func:`note`: what people do; :func:`taken_up` what another process
  (``siaga alerts ack``) wrote to the store.
- A firing alert joins an incident: one named by the observer (``params["join_incident"]``), else an open
  or recent one (within ``group_window``) covering the same rack, room, devices or subject, else a new
  one. An incident closes when its last open alert resolves and reopens when a related alert follows
  within the window.

One truth across processes: a condition that clears writes a :class:`Leave` before the resolution, which
the keeper applies only when no other live process still sees the alert (else the alert leaves this book
only); a new alert the store finds open already (raised by another process first) is :func:`joined`: the
stored alert takes the place of the book's provisional one, and nothing is told.

Ids: the store numbers alerts and incidents. A new one gets a provisional negative id in the book and in
its writes; the keeper (:mod:`siaga.alerts.manager`) applies the writes in one transaction, learns the
real ids and calls :func:`renamed` on the book (and :func:`rename_alert` on the transitions) before it
publishes. While the store cannot write, the provisional ids stay and the writes wait in order.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from siaga.alerts.model import Alert, AlertState, Condition, Impact, SubjectKind, Transition
from siaga.errors import SiagaError
from siaga.i18n.messages import Message

Key = tuple[str, str]
ImpactOf = Callable[[SubjectKind, str], Impact]


class LifecycleError(SiagaError):
    """What a person asked cannot be done to this alert; ``why`` says why as a message worded per reader (an
    ``alert.*`` key), ``str()`` is that line in English (logs)."""

    def __init__(self, message: Message | str) -> None:
        why = message if isinstance(message, Message) else Message(text=message)
        super().__init__(why.english())
        self.why = why


# The book ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """What an incident covers, for grouping."""

    id: int
    rooms: frozenset[str] = frozenset()
    racks: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    subjects: frozenset[str] = frozenset()
    open_alerts: frozenset[int] = frozenset()
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

    def merged(self, other: Scope) -> Scope:
        """One scope of two that turned out the same incident (a provisional one and the store's)."""
        last = max((t for t in (self.last_alert_at, other.last_alert_at) if t is not None), default=None)
        return dataclasses.replace(
            self, rooms=self.rooms | other.rooms, racks=self.racks | other.racks, devices=self.devices | other.devices,
            subjects=self.subjects | other.subjects, open_alerts=self.open_alerts | other.open_alerts,
            last_alert_at=last, closed=self.closed and other.closed,
        )

    def with_alert(self, alert: Alert, at: dt.datetime) -> Scope:
        imp = alert.impact
        last = self.last_alert_at if self.last_alert_at is not None and at <= self.last_alert_at else at
        return dataclasses.replace(
            self,
            rooms=self.rooms | ({imp.room} if imp.room else set()),
            racks=self.racks | ({imp.rack} if imp.rack else set()),
            devices=self.devices | set(imp.devices),
            subjects=self.subjects | {alert.subject},
            open_alerts=self.open_alerts | ({alert.id} if alert.state is not AlertState.resolved else set()),
            last_alert_at=last,
        )


@dataclass(frozen=True)
class Settings:
    """What the lifecycle needs from the config: the grouping window and the inventory's impact."""

    group_window: dt.timedelta = dt.timedelta(minutes=30)
    impact_of: ImpactOf = field(default=lambda _k, _s: Impact())


@dataclass(frozen=True)
class Book:
    """The open alerts (by key and by id), their hold times and the incidents they may join."""

    open: Mapping[Key, Alert] = field(default_factory=dict)
    by_id: Mapping[int, Key] = field(default_factory=dict)
    hold: Mapping[Key, float] = field(default_factory=dict)  # seconds pending before firing
    incidents: Mapping[int, Scope] = field(default_factory=dict)
    last_provisional: int = 0  # the last provisional id handed out (negative)

    def get(self, key: Key) -> Alert | None:
        return self.open.get(key)

    def by_alert_id(self, alert_id: int) -> Alert | None:
        key = self.by_id.get(alert_id)
        return self.open.get(key) if key is not None else None

    def active(self) -> list[Alert]:
        return sorted(self.open.values(), key=lambda a: a.id)


def loaded(alerts: list[Alert], incidents: list[tuple[int, dt.datetime, bool, list[Alert]]]) -> Book:
    """The book of what an earlier run left in the store: active alerts, and recent incidents given as
    (id, last alert at, closed, their alerts)."""
    scopes: dict[int, Scope] = {}
    for inc_id, last_alert_at, closed, members in incidents:
        scope = Scope(inc_id, last_alert_at=last_alert_at, closed=closed)
        for alert in members:
            scope = scope.with_alert(alert, last_alert_at)
        scopes[inc_id] = scope
    return Book(
        open={a.key: a for a in alerts},
        by_id={a.id: a.key for a in alerts},
        hold={a.key: float(a.params.get("for_s") or 0.0) for a in alerts},
        incidents=scopes,
    )


def adopted(book: Book, alerts: list[Alert], subjects: set[str]) -> Book:
    """``book`` with the store's open ``alerts`` on ``subjects`` in place of its own: the alerts another
    process raised on sensors whose rules this process now evaluates (a rule shard taken over), so a
    reading that repeats one does not raise it again and one that ends it resolves it."""
    open_ = {k: a for k, a in book.open.items() if k[1] not in subjects or a.id < 0}
    by_id = {i: k for i, k in book.by_id.items() if k in open_ and open_[k].id == i}
    hold = {k: h for k, h in book.hold.items() if k in open_}
    for a in alerts:
        if a.subject in subjects and a.key not in open_:
            open_[a.key] = a
            by_id[a.id] = a.key
            hold[a.key] = float(a.params.get("for_s") or 0.0)
    return dataclasses.replace(book, open=open_, by_id=by_id, hold=hold)


def joined(book: Book, provisional_id: int, stored: Alert) -> Book:
    """``book`` once the store said that the alert it opened as ``provisional_id`` was open already: raised
    by another process first (``siaga.alerts.store.claim_alert``). The stored alert takes its place (this
    process now follows it: it sees its changes and may resolve it) and leaves the incident it had joined;
    the stored alert joins its own incident when the book has it."""
    key = book.by_id.get(provisional_id)
    if key is None or stored.key != key:  # resolved here meanwhile (the writes waited): nothing to follow
        return book
    scopes = {i: dataclasses.replace(s, open_alerts=s.open_alerts - {provisional_id})
              for i, s in book.incidents.items()}
    if stored.incident_id in scopes and stored.active:
        inc = stored.incident_id
        scopes[inc] = scopes[inc].with_alert(stored, scopes[inc].last_alert_at or stored.started_at)
    by_id = {i: k for i, k in book.by_id.items() if i != provisional_id}
    return dataclasses.replace(book, open={**book.open, key: stored}, by_id={**by_id, stored.id: key},
                               incidents=scopes)


# Writes: what the keeper applies to the store, in order, in one transaction -------------------------

@dataclass(frozen=True)
class InsertAlert:
    alert: Alert  # with a provisional id; the store's id replaces it
    at: dt.datetime


@dataclass(frozen=True)
class UpdateAlert:
    alert: Alert
    at: dt.datetime


@dataclass(frozen=True)
class AddEvent:
    """A line on the alert's own timeline (``alert_events``) and on siaga's (``events``: ``alert.<event>``)."""

    alert: Alert
    event: str
    at: dt.datetime
    by: str | None = None
    via: str | None = None
    note: str | None = None
    opening: bool = False  # the first line of a new alert
    timeline: str | None = None  # the ``events`` kind when it differs from ``alert.<event>``; "" for none
    own_line: bool = True  # False: only siaga's timeline (a resolve another process already wrote)


@dataclass(frozen=True)
class Leave:
    """The condition of a stored alert cleared here: this process no longer sees it. The resolution that
    follows (its update, timeline line and incident close) stands only when no other live process still
    sees it (``siaga.alerts.store.leave``); else the alert stays open for them and leaves this book only."""

    alert: Alert
    at: dt.datetime


@dataclass(frozen=True)
class OpenIncident:
    id: int  # provisional
    title: Message
    at: dt.datetime
    room: str | None
    rack: str | None
    subject: str
    alert_id: int | None = None  # the alert whose firing opened it


@dataclass(frozen=True)
class TouchIncident:
    """A new alert joined the incident (and reopened it when it was closed)."""

    id: int
    at: dt.datetime
    reopen: bool
    alert_id: int | None = None  # the alert that joined it


@dataclass(frozen=True)
class CloseIncident:
    id: int
    at: dt.datetime
    subject: str
    alert_id: int | None = None  # the alert whose end closed it


Write = InsertAlert | UpdateAlert | AddEvent | Leave | OpenIncident | TouchIncident | CloseIncident


class Outcome(NamedTuple):
    book: Book
    transitions: list[Transition]
    writes: list[Write]


# Ids ----------------------------------------------------------------------------------------------------

def rename_alert(alert: Alert, alert_ids: Mapping[int, int], incident_ids: Mapping[int, int]) -> Alert:
    """``alert`` with its provisional ids replaced by the store's (those known in the mappings)."""
    new_id = alert_ids.get(alert.id, alert.id)
    inc = alert.incident_id
    new_inc = incident_ids.get(inc, inc) if inc is not None else None
    if new_id == alert.id and new_inc == inc:
        return alert
    return dataclasses.replace(alert, id=new_id, incident_id=new_inc)


def rename_write(w: Write, alert_ids: Mapping[int, int], incident_ids: Mapping[int, int]) -> Write:
    if isinstance(w, InsertAlert | UpdateAlert | AddEvent | Leave):
        return dataclasses.replace(w, alert=rename_alert(w.alert, alert_ids, incident_ids))
    if isinstance(w, OpenIncident | TouchIncident | CloseIncident):
        alert_id = alert_ids.get(w.alert_id, w.alert_id) if w.alert_id is not None else None
        return dataclasses.replace(w, id=incident_ids.get(w.id, w.id), alert_id=alert_id)
    raise TypeError(w)


def renamed(book: Book, alert_ids: Mapping[int, int], incident_ids: Mapping[int, int]) -> Book:
    """The book once the store has given real ids to provisional ones."""
    if not alert_ids and not incident_ids:
        return book
    open_ = {k: rename_alert(a, alert_ids, incident_ids) for k, a in book.open.items()}
    scopes: dict[int, Scope] = {}
    for scope in book.incidents.values():
        new = dataclasses.replace(
            scope,
            id=incident_ids.get(scope.id, scope.id),
            open_alerts=frozenset(alert_ids.get(i, i) for i in scope.open_alerts),
        )
        scopes[new.id] = new.merged(scopes[new.id]) if new.id in scopes else new
    return dataclasses.replace(book, open=open_, by_id={a.id: k for k, a in open_.items()}, incidents=scopes)


def _provisional(book: Book) -> tuple[Book, int]:
    n = book.last_provisional - 1
    return dataclasses.replace(book, last_provisional=n), n


# Conditions ---------------------------------------------------------------------------------------------

def step(book: Book, c: Condition, settings: Settings) -> Outcome:
    """Take one condition; its ``at`` is the clock."""
    current = book.open.get(c.key)
    if current is None:
        return _open_alert(book, c, settings) if c.active else Outcome(book, [], [])
    if not c.active:  # the rule's own words are the alert's summary, not a person's note
        return _resolve(book, current, c.at, cleared=True)
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
    if alert.state is AlertState.pending and (c.fire_at_once or _hold_over(book, alert, c.at)):
        alert = dataclasses.replace(alert, state=AlertState.firing, fired_at=c.at)
        events.append("firing")
    if not events:  # a new value only: kept in the book, written with the next change
        return Outcome(_put(book, alert), [], [])
    writes: list[Write] = []
    if "firing" in events and alert.incident_id is None:
        book, scope_id, writes = _join_incident(book, alert, c.at, settings)
        alert = dataclasses.replace(alert, incident_id=scope_id)
        book = _attach(book, scope_id, alert, c.at)
    writes.append(UpdateAlert(alert, c.at))
    writes.extend(AddEvent(alert, ev, c.at) for ev in events)
    transitions = [Transition(alert, current.state, c.at, event=ev) for ev in events]
    return Outcome(_put(book, alert), transitions, writes)


def _hold_over(book: Book, alert: Alert, now: dt.datetime) -> bool:
    return (now - alert.started_at).total_seconds() >= book.hold.get(alert.key, 0.0)


def _put(book: Book, alert: Alert) -> Book:
    return dataclasses.replace(book, open={**book.open, alert.key: alert})


def _open_alert(book: Book, c: Condition, settings: Settings) -> Outcome:
    for_s = float(c.params.get("for_s") or 0.0)
    firing = c.fire_at_once or for_s <= 0
    book, alert_id = _provisional(book)
    alert = Alert(
        id=alert_id,
        rule=c.rule,
        subject=c.subject,
        subject_kind=c.subject_kind,
        state=AlertState.firing if firing else AlertState.pending,
        severity=c.severity,
        summary=c.summary or Message("alert.generic", {"rule": c.rule, "subject": c.subject}),
        started_at=c.at,
        fired_at=c.at if firing else None,
        last_value=c.value,
        impact=settings.impact_of(c.subject_kind, c.subject),
        params=dict(c.params),
    )
    writes: list[Write] = []
    if firing:
        book, scope_id, writes = _join_incident(book, alert, c.at, settings)
        alert = dataclasses.replace(alert, incident_id=scope_id)
        book = _attach(book, scope_id, alert, c.at)
    writes += [InsertAlert(alert, c.at), AddEvent(alert, alert.state.value, c.at, opening=True)]
    book = dataclasses.replace(
        book,
        open={**book.open, c.key: alert},
        by_id={**book.by_id, alert.id: c.key},
        hold={**book.hold, c.key: for_s},
    )
    return Outcome(book, [Transition(alert, None, c.at, event=alert.state.value)], writes)


def _ordered(scopes: Mapping[int, Scope]) -> list[Scope]:
    """Oldest first: stored incidents by id, then provisional ones in the order they were made."""
    return sorted(scopes.values(), key=lambda s: (s.id < 0, abs(s.id)))


def _join_incident(book: Book, alert: Alert, at: dt.datetime, settings: Settings) -> tuple[Book, int, list[Write]]:
    """The incident a firing alert joins (named by its observer, an open or recent related one, or new)."""
    hinted = alert.params.get("join_incident")  # an observer that knows the cause (checks' correlation)
    if isinstance(hinted, int) and hinted in book.incidents:
        scope = book.incidents[hinted]
        return book, scope.id, [TouchIncident(scope.id, at, reopen=scope.closed, alert_id=alert.id)]
    for scope in _ordered(book.incidents):
        recent = scope.last_alert_at is not None and at - scope.last_alert_at <= settings.group_window
        if (recent or scope.open_alerts) and (not scope.closed or recent) and scope.related(alert):
            return book, scope.id, [TouchIncident(scope.id, at, reopen=scope.closed, alert_id=alert.id)]
    book, inc_id = _provisional(book)
    imp = alert.impact
    book = dataclasses.replace(book, incidents={**book.incidents, inc_id: Scope(inc_id)})
    return book, inc_id, [OpenIncident(inc_id, alert.summary, at, imp.room, imp.rack, alert.subject, alert.id)]


def _attach(book: Book, scope_id: int, alert: Alert, at: dt.datetime) -> Book:
    scope = dataclasses.replace(book.incidents[scope_id], closed=False).with_alert(alert, at)
    return dataclasses.replace(book, incidents={**book.incidents, scope_id: scope})


def _resolve(
    book: Book,
    alert: Alert,
    at: dt.datetime,
    *,
    by: str | None = None,
    via: str | None = None,
    note: str | None = None,
    written: bool = False,
    cleared: bool = False,
) -> Outcome:
    """Close ``alert`` (``written``: another process already wrote the resolution itself; ``cleared``: its
    condition cleared here, which resolves it only when no other process still sees it: :class:`Leave`)."""
    previous = alert.state
    writes: list[Write] = [Leave(alert, at)] if cleared else []
    alert = dataclasses.replace(alert, state=AlertState.resolved, resolved_at=at)
    if not written:
        writes.append(UpdateAlert(alert, at))
    writes.append(AddEvent(alert, "resolved", at, by=by, via=via, note=note, own_line=not written))
    book, closing = _leave_incident(book, alert, at)
    writes += closing
    book = dataclasses.replace(
        book,
        open={k: a for k, a in book.open.items() if k != alert.key},
        by_id={i: k for i, k in book.by_id.items() if i != alert.id},
        hold={k: s for k, s in book.hold.items() if k != alert.key},
    )
    return Outcome(book, [Transition(alert, previous, at, by=by, via=via, note=note, event="resolved")], writes)


def _leave_incident(book: Book, alert: Alert, at: dt.datetime) -> tuple[Book, list[Write]]:
    scope = book.incidents.get(alert.incident_id) if alert.incident_id is not None else None
    if scope is None:
        return book, []
    scope = dataclasses.replace(scope, open_alerts=scope.open_alerts - {alert.id})
    writes: list[Write] = []
    if not scope.open_alerts and not scope.closed:
        scope = dataclasses.replace(scope, closed=True)
        writes.append(CloseIncident(scope.id, at, alert.subject, alert.id))
    return dataclasses.replace(book, incidents={**book.incidents, scope.id: scope}), writes


# Time ---------------------------------------------------------------------------------------------------

def tick(book: Book, now: dt.datetime, settings: Settings) -> Outcome:
    """Fire the pending alerts whose hold time ran out by ``now``."""
    transitions: list[Transition] = []
    writes: list[Write] = []
    for alert in list(book.open.values()):
        if alert.state is AlertState.pending and _hold_over(book, alert, now):
            book, ts, ws = step(book, Condition(alert.rule, alert.subject, alert.subject_kind, True, alert.severity,
                                                now, alert.last_value, alert.summary, dict(alert.params),
                                                fire_at_once=True), settings)
            transitions += ts
            writes += ws
    return Outcome(book, transitions, writes)


# People -------------------------------------------------------------------------------------------------

def ack(book: Book, alert_id: int, by: str, now: dt.datetime, *, via: str = "api", note: str | None = None) -> Outcome:
    """Someone takes responsibility for an open alert of the book (LifecycleError when it was already)."""
    alert = _known(book, alert_id)
    if alert.state is AlertState.acknowledged:
        raise LifecycleError(Message("alert.acknowledged_already", {"alert": alert_id, "by": alert.acknowledged_by}))
    previous = alert.state
    alert = dataclasses.replace(alert, state=AlertState.acknowledged, acknowledged_at=now, acknowledged_by=by)
    writes: list[Write] = [UpdateAlert(alert, now), AddEvent(alert, "acknowledged", now, by=by, via=via, note=note)]
    t = Transition(alert, previous, now, by=by, via=via, note=note, event="acknowledged")
    return Outcome(_put(book, alert), [t], writes)


def resolve(book: Book, alert_id: int, by: str | None, now: dt.datetime, *, via: str = "api",
            note: str | None = None) -> Outcome:
    """Close an open alert of the book by hand (the condition may still hold: it opens a new one later)."""
    return _resolve(book, _known(book, alert_id), now, by=by, via=via, note=note)


def note(book: Book, alert_id: int, by: str | None, text: str, now: dt.datetime, *, via: str = "api") -> Outcome:
    """A note on the timeline of an open alert of the book."""
    alert = _known(book, alert_id)
    writes: list[Write] = [AddEvent(alert, "note", now, by=by, via=via, note=text, timeline="")]
    return Outcome(book, [Transition(alert, alert.state, now, by=by, via=via, note=text, event="note")], writes)


def taken_up(book: Book, alert_id: int, state: AlertState, now: dt.datetime, *,
             acknowledged_at: dt.datetime | None = None, acknowledged_by: str | None = None,
             resolved_at: dt.datetime | None = None, by: str | None = None, via: str | None = None,
             note: str | None = None) -> Outcome:
    """Another process acknowledged or resolved an open alert in the store: the book follows."""
    alert = book.by_alert_id(alert_id)
    if alert is None or alert.state is state:
        return Outcome(book, [], [])
    if state is AlertState.acknowledged:
        new = dataclasses.replace(alert, state=AlertState.acknowledged, acknowledged_at=acknowledged_at,
                                  acknowledged_by=acknowledged_by)
        t = Transition(new, alert.state, now, by=by, via=via, note=note, event="acknowledged")
        return Outcome(_put(book, new), [t], [])
    if state is AlertState.resolved:
        return _resolve(book, alert, resolved_at or now, by=by, via=via, note=note, written=True)
    return Outcome(book, [], [])


def _known(book: Book, alert_id: int) -> Alert:
    alert = book.by_alert_id(alert_id)
    if alert is None:
        raise LifecycleError(Message("alert.not_open_here", {"alert": alert_id}))
    return alert
