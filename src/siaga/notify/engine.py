"""The notifier's bookkeeping on the store: follow alerts, queue what the planner says, fold storms
into messages, hand out due messages, record every attempt, fall back when a channel gives up.

Synchronous and given a ``Connection`` and ``now`` by the caller (the async worker runs it on a
thread through ``RuntimeContext.run_db``); the decisions themselves are the pure core's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, insert, literal, select, update

from siaga.alerts.model import Alert, AlertState, Severity, SubjectKind, Transition
from siaga.alerts.serialise import alert_from_json, alert_to_json
from siaga.alerts.tables import alert_events
from siaga.alerts.tables import alerts as alerts_table
from siaga.config.models import SiteConfig
from siaga.config.notify import CHANNELS_WITHOUT_ADDRESS
from siaga.i18n.messages import Message, note_of
from siaga.notify import ack as acktokens
from siaga.notify.maintenance import Window, covering, from_config
from siaga.notify.model import Kind, Page, Recipient, Sent
from siaga.notify.planner import PAGING, Calendar, paged_recipients, plan, plan_followup, withheld_because
from siaga.notify.policy import select_policy
from siaga.notify.render import LastBackup, Renderer
from siaga.notify.storm import Batch, Queued, StormState, form_batches
from siaga.notify.tables import (
    notify_alerts,
    notify_attempts,
    notify_items,
    notify_maintenance,
    notify_messages,
)
from siaga.runbooks.approval import approval_url
from siaga.store.types import UTCDateTime

log = logging.getLogger("siaga.notify")

LINK_MAX_ALERTS = 10
PEER_PREFIX = "peer:"
"""``suppressed_by`` of an alert a peer pages itself (:attr:`Notifier.elsewhere`)."""
LEASE = dt.timedelta(seconds=60)
"""A message being sent is hidden this long; after a crash mid-send it is sent again (at least once)."""


@dataclass(frozen=True)
class OutMessage:
    """A message ready to go out on one channel to one address."""

    id: int
    kind: Kind
    recipient: Recipient
    channel: str
    address: str
    title: str
    body: str
    body_full: str
    alert_ids: tuple[int, ...]
    attempts: int
    external_ref: dict[str, Any] | None = None
    claimed_until: dt.datetime | None = None  # the claim's end (``next_attempt_at`` while it is being sent)


@dataclass(frozen=True)
class AttemptResult:
    ok: bool
    latency_ms: int
    error: str | None = None
    retryable: bool = True
    external_ref: dict[str, Any] | None = None
    demo: bool = False  # siaga demo: taken by the stand-in transports, nothing left the machine (never "sent")


def group_key(alert: Alert) -> str:
    """Alerts of one incident (or, lacking one, of one room) are one storm."""
    if alert.incident_id is not None:
        return f"incident:{alert.incident_id}"
    if alert.impact.room:
        return f"room:{alert.impact.room}"
    return f"alert:{alert.id}"


@dataclass
class Notifier:
    """Notify's state machine over the store, for one site config."""

    config: SiteConfig
    key: bytes
    public_url: str
    last_backup: LastBackup | None = None
    renderer: Renderer = field(init=False)
    calendar: Calendar = field(init=False)
    storm: StormState = field(default_factory=StormState)
    on_sent: Callable[[OutMessage], None] | None = None
    elsewhere: Callable[[Alert], str | None] | None = None
    """At a colocation: ``peer:<room>`` when a room that is heard senses and pages this alert itself (one page
    per event: this siaga then holds its pages, as for a maintenance window); set by ``siaga.peers.ack_mirror``."""

    def __post_init__(self) -> None:
        cfg = self.config
        self.zone = ZoneInfo(cfg.site.timezone)
        self.renderer = Renderer(cfg, self.last_backup)
        note = cfg.notification
        self.calendar = Calendar(self.zone, dict(note.windows), frozenset(note.holidays))
        self.people = {p.id: p for p in cfg.people}
        self.groups = {g.id: g for g in note.groups}
        self.config_windows = [from_config(w, self.zone) for w in cfg.maintenance]

    # -- following alerts -------------------------------------------------------------------------
    def observe(self, conn: Connection, tr: Transition, now: dt.datetime) -> None:
        """Remember the alert as ``tr`` leaves it (and how it got there)."""
        data = alert_to_json(tr.alert)
        data["_via"] = tr.via
        data["_note"] = tr.note
        active = True  # even a resolved alert: its notices are still to plan
        row = conn.execute(select(notify_alerts.c.alert_id).where(notify_alerts.c.alert_id == tr.alert.id)).first()
        values = {"state": tr.alert.state.value, "snapshot": data, "active": active, "updated_at": now}
        if row is None:
            conn.execute(insert(notify_alerts).values(alert_id=tr.alert.id, **values))
        else:
            conn.execute(update(notify_alerts).where(notify_alerts.c.alert_id == tr.alert.id).values(**values))

    def windows(self, conn: Connection) -> list[Window]:
        """Maintenance windows: those of the config and those made at run time."""
        out = list(self.config_windows)
        for r in conn.execute(select(notify_maintenance)):
            out.append(
                Window(r.id, r.starts_at, r.ends_at, r.title, tuple(r.services), tuple(r.places), tuple(r.rules),
                       r.created_by, "runtime")
            )
        return out

    # -- planning -----------------------------------------------------------------------------------
    def _address(self, who: Recipient, channel: str) -> str | None:
        spec = self.config.notification.channels.get(channel)
        if spec is None:
            return None
        contacts = (self.people[who.id].contacts if who.kind == "person" and who.id in self.people
                    else self.groups[who.id].contacts if who.kind == "group" and who.id in self.groups else {})
        if channel in contacts:
            return contacts[channel]
        return "" if spec.type in CHANNELS_WITHOUT_ADDRESS else None

    def _recipient_channels(self, who: Recipient) -> tuple[str, ...]:
        if who.kind == "person" and who.id in self.people:
            return tuple(self.people[who.id].contacts)
        if who.kind == "group" and who.id in self.groups:
            return tuple(self.groups[who.id].contacts)
        return ()

    def _queue_page(self, conn: Connection, alert: Alert, page: Page, now: dt.datetime,
                    policy: str | None = None, about: int | None = None) -> None:
        """Queue ``page`` on its channels; a notice (or a follow-up: about the alert ``about``, its cause)
        on the channels the recipient was told on."""
        if page.kind.is_notice or page.kind is Kind.followup:
            told_about = about if page.kind is Kind.followup and about is not None else alert.id
            used = conn.execute(select(notify_items.c.channel).where(and_(
                notify_items.c.alert_id == told_about, notify_items.c.recipient == page.recipient.key,
                notify_items.c.status != "skipped")).order_by(notify_items.c.id)).scalars()
            channels = tuple(dict.fromkeys(used)) or self._recipient_channels(page.recipient)
        else:
            channels = page.channels or self._recipient_channels(page.recipient)
        rest = [c for c in page.fallback if c not in channels]
        chosen: list[tuple[str, str, list[str]]] = []
        for ch in channels:
            addr = self._address(page.recipient, ch)
            if addr is not None:
                chosen.append((ch, addr, rest))
        if not chosen:
            for i, ch in enumerate(rest):
                addr = self._address(page.recipient, ch)
                if addr is not None:
                    chosen.append((ch, addr, rest[i + 1:]))
                    break
        base = {
            "alert_id": alert.id, "kind": page.kind.value, "step": page.step, "round": page.round,
            "recipient": page.recipient.key, "group_key": group_key(alert), "created_at": now, "policy": policy,
        }
        if not chosen:
            conn.execute(insert(notify_items).values(
                **base, channel="-", address="", status="skipped", fallback=[],
                note=note_of(Message("note.no_address", {"channels": ", ".join(channels + tuple(rest)) or "-"})),
            ))
            log.warning("notify: %s has no address on %s", page.recipient.key, ", ".join(channels) or "any channel")
            return
        for ch, addr, fallback in chosen:
            conn.execute(insert(notify_items).values(
                **base, channel=ch, address=addr, status="queued", fallback=fallback, note=None,
            ))

    def _history(self, conn: Connection, alert_ids: Sequence[int]) -> dict[int, list[Sent]]:
        out: dict[int, list[Sent]] = {a: [] for a in alert_ids}
        if not alert_ids:
            return out
        q = select(notify_items.c.alert_id, notify_items.c.kind, notify_items.c.step, notify_items.c.round,
                   notify_items.c.recipient, notify_items.c.created_at, notify_items.c.policy, notify_items.c.status,
                   ).where(notify_items.c.alert_id.in_(alert_ids))
        for r in conn.execute(q):
            out[r.alert_id].append(Sent(Kind(r.kind), r.step, r.round, Recipient.parse(r.recipient), r.created_at,
                                        r.policy, told=r.status != "withheld"))
        return out

    def _causes(self, conn: Connection, alerts: Sequence[Alert]) -> dict[int, tuple[Alert, list[Recipient]]]:
        """The probable causes named by quiet outages among ``alerts`` that notify follows: each as it
        stands and who was paged about it (on its own escalation)."""
        ids = {int(a.params["cause_alert_id"]) for a in alerts
               if a.params.get("quiet") and isinstance(a.params.get("cause_alert_id"), int)}
        if not ids:
            return {}
        snaps = {r.alert_id: alert_from_json(r.snapshot) for r in conn.execute(
            select(notify_alerts.c.alert_id, notify_alerts.c.snapshot).where(notify_alerts.c.alert_id.in_(ids)))}
        history = self._history(conn, list(snaps))
        return {i: (a, paged_recipients(history[i], PAGING)) for i, a in snaps.items()}

    @staticmethod
    def _folded_into(alert: Alert, history: Sequence[Sent],
                     causes: dict[int, tuple[Alert, list[Recipient]]]) -> tuple[int, list[Recipient]] | None:
        """The cause an outage is folded into, and who was paged about that cause; None: it pages on its own.

        Folded while checks' correlation called it quiet, its cause is still active and has paged someone,
        and it has never paged on its own (then it keeps its own escalation to the end)."""
        cause_id = alert.params.get("cause_alert_id")
        if not alert.params.get("quiet") or not isinstance(cause_id, int) or cause_id not in causes:
            return None
        cause, told = causes[cause_id]
        if not cause.active or not told or any(s.kind in PAGING for s in history):
            return None
        return cause_id, told

    def plan_all(self, conn: Connection, now: dt.datetime, only: Collection[int] | None = None) -> int:
        """Queue every page that fell due (of the alerts ``only``, when given); return how many were planned."""
        q = select(notify_alerts).where(notify_alerts.c.active.is_(True))
        if only is not None:
            if not only:
                return 0
            q = q.where(notify_alerts.c.alert_id.in_(list(only)))
        rows = list(conn.execute(q))
        if not rows:
            return 0
        history = self._history(conn, [r.alert_id for r in rows])
        windows = self.windows(conn)
        # quiet outages last: a cause paged in this very round counts as paging already
        pairs = sorted(((r, alert_from_json(r.snapshot)) for r in rows), key=lambda p: bool(p[1].params.get("quiet")))
        causes: dict[int, tuple[Alert, list[Recipient]]] | None = None
        planned = 0
        for r, alert in pairs:
            policy = select_policy(self.config.escalation, alert)
            window = covering(windows, alert, now)  # silent while a window covers it; pages once it ends
            folded = None
            if window is None and alert.params.get("quiet"):
                if causes is None:
                    causes = self._causes(conn, [a for _, a in pairs])
                folded = self._folded_into(alert, history[r.alert_id], causes)
            paged_by = (self.elsewhere(alert) if self.elsewhere is not None and window is None and folded is None
                        and alert.state is not AlertState.resolved else None)
            suppressed_by = (window.id if window is not None
                             else f"cause:alert-{folded[0]}" if folded is not None else paged_by)
            if suppressed_by != r.suppressed_by:
                conn.execute(update(notify_alerts).where(notify_alerts.c.alert_id == r.alert_id)
                             .values(suppressed_by=suppressed_by))
                self._decided(conn, alert, r.suppressed_by, suppressed_by, folded, now)
            if folded is not None:  # told as a follow-up to those paged about its cause, not paged
                pages = plan_followup(policy, alert, history[r.alert_id], folded[1], now, self.calendar)
            else:
                pages = [] if policy is None else plan(policy, alert, history[r.alert_id], now, self.calendar,
                                                       suppressed=window is not None or paged_by is not None)
            for page in pages:
                self._queue_page(conn, alert, page, now, policy.id if policy is not None else None,
                                 about=folded[0] if folded is not None else None)
            planned += len(pages)
            if alert.state is AlertState.resolved or (policy is None and folded is None):
                conn.execute(update(notify_alerts).where(notify_alerts.c.alert_id == r.alert_id).values(active=False))
        return planned

    def _decided(self, conn: Connection, alert: Alert, before: str | None, after: str | None,
                 folded: tuple[int, list[Recipient]] | None, now: dt.datetime) -> None:
        """Put a change of notify's decision about an alert on its timeline (paged, folded, silenced)."""
        if folded is not None:
            told = ", ".join(w.id for w in folded[1])
            self._alert_event(conn, [alert.id], "notify_folded", now, note=note_of(
                Message("note.folded", {"cause_alert": folded[0], "told": told})))
        elif after is not None and after.startswith(PEER_PREFIX):
            self._alert_event(conn, [alert.id], "notify_silenced", now,
                              note=note_of(Message("note.paged_by_peer", {"peer": after[len(PEER_PREFIX):]})))
        elif after is not None:
            self._alert_event(conn, [alert.id], "notify_silenced", now,
                              note=note_of(Message("note.silenced", {"window": after})))
        elif before is not None and before.startswith(PEER_PREFIX):
            self._alert_event(conn, [alert.id], "notify_resumed", now,
                              note=note_of(Message("note.resumed.peer", {"peer": before[len(PEER_PREFIX):]})))
        elif before is not None:
            key = "note.resumed.cause" if before.startswith("cause:") else "note.resumed.window"
            self._alert_event(conn, [alert.id], "notify_resumed", now, note=note_of(Message(key)))

    def _alert_event(self, conn: Connection, alert_ids: Sequence[int], event: str, now: dt.datetime, *,
                     note: str, by: str | None = None, via: str | None = None) -> None:
        """A line on the alert manager's timeline (``alert_events``) of each of ``alert_ids`` it has stored."""
        sel = select(
            alerts_table.c.id, literal(now, UTCDateTime()), literal(event), alerts_table.c.state,
            alerts_table.c.severity, literal(by), literal(via), literal(note[:1000]), alerts_table.c.last_value,
        ).where(alerts_table.c.id.in_([int(a) for a in alert_ids]))
        cols = ["alert_id", "at", "event", "state", "severity", "by", "via", "note", "value"]
        conn.execute(insert(alert_events).from_select(cols, sel))

    # -- storms into messages ---------------------------------------------------------------------
    def warm_up(self, now: dt.datetime) -> None:
        """Render a sample page in every language in use, so that the first real alert does not wait for
        the templates to compile and the catalogs and locale data to load (~60 ms, measured)."""
        sample = Alert(0, "leak", "warm-up", SubjectKind.sensor, AlertState.firing, Severity.critical,
                       Message("sensor.leak.on", {"sensor": "warm-up"}),
                       now, fired_at=now, last_value=1.0)
        languages = {self.config.site.language.value, *(self.language_of(Recipient("person", p)) for p in self.people)}
        for lang in sorted(languages):
            self.renderer.render(Kind.page, [sample], lang, now, ack_url=f"{self.public_url.rstrip('/')}/ack/-")

    def language_of(self, who: Recipient) -> str:
        """The language ``who`` reads: a person's own, else the site's."""
        if who.kind == "person" and who.id in self.people and self.people[who.id].language is not None:
            lang = self.people[who.id].language
            assert lang is not None
            return lang.value
        return self.config.site.language.value

    def ack_url(self, alert_ids: Sequence[int], who: Recipient, now: dt.datetime, message_id: int | None = None) -> str:
        """A one-tap link; a storm's link names its message (short), a few alerts are named themselves."""
        ids = tuple(alert_ids) if message_id is None or len(alert_ids) <= LINK_MAX_ALERTS else ()
        token = acktokens.sign(self.key, ids, who, now, self.config.notification.ack.ttl,
                               message_id=None if ids else message_id)
        return f"{self.public_url.rstrip('/')}/ack/{token}"

    def _snapshots(self, conn: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
        return {r.alert_id: r.snapshot for r in conn.execute(
            select(notify_alerts.c.alert_id, notify_alerts.c.snapshot).where(notify_alerts.c.alert_id.in_(list(ids))))}

    def _render_into(self, conn: Connection, msg_id: int, kind: Kind, ids: Sequence[int], recipient: Recipient,
                     now: dt.datetime) -> None:
        """Write the message's text about the alerts ``ids`` (in the recipient's language)."""
        snaps = self._snapshots(conn, ids)
        # a runbook's approval request carries a link signed for this recipient, like the acknowledgement link
        alerts = [replace(a, summary=approval_url(self.key, self.public_url, a.summary, recipient.key))
                  for a in (alert_from_json(snaps[i]) for i in ids if i in snaps)]
        lang = self.language_of(recipient)
        by = via = note = None
        if kind is Kind.acknowledged and alerts:
            by, via, note = alerts[0].acknowledged_by, snaps[alerts[0].id].get("_via"), snaps[alerts[0].id].get("_note")
        cause = None
        if kind is Kind.followup and alerts:  # "... is down too — probable cause: leak on R1"
            cause_id = alerts[0].params.get("cause_alert_id")
            found = self._snapshots(conn, [cause_id]) if isinstance(cause_id, int) else {}
            cause = alert_from_json(found[cause_id]) if cause_id in found else None
        link = None if kind.is_notice else self.ack_url([a.id for a in alerts], recipient, now, msg_id)
        rnd = max((r.round for r in conn.execute(select(notify_items.c.round).where(and_(
            notify_items.c.message_id == msg_id, notify_items.c.alert_id.in_(list(ids)))))), default=0)
        text = self.renderer.render(kind, alerts, lang, now, ack_url=link,
                                    max_listed=self.config.notification.storm.max_listed,
                                    by=by, via=via, note=note, round=rnd, cause=cause)
        conn.execute(update(notify_messages).where(notify_messages.c.id == msg_id).values(
            alert_ids=list(ids), title=text.title, body=text.short, body_full=text.full))

    def _message_for(self, conn: Connection, batch: Batch, now: dt.datetime) -> int:
        ids = list(batch.alert_ids)
        fallback = conn.execute(select(notify_items.c.fallback).where(
            notify_items.c.id == batch.items[0].id)).scalar_one()
        msg_id = int(conn.execute(insert(notify_messages).values(
            kind=batch.kind.value, recipient=batch.recipient.key, channel=batch.channel, address=batch.address,
            group_key=batch.key[4], language=self.language_of(batch.recipient), alert_ids=ids, title="", body="",
            body_full="", status="pending", attempts=0, next_attempt_at=now, created_at=now,
            fallback=list(fallback or []),
        ).returning(notify_messages.c.id)).scalar_one())
        conn.execute(update(notify_items).where(notify_items.c.id.in_([q.id for q in batch.items]))
                     .values(status="batched", message_id=msg_id))
        self._render_into(conn, msg_id, batch.kind, ids, batch.recipient, now)
        return msg_id

    # -- checked at send time -----------------------------------------------------------------------
    def _withheld(self, conn: Connection, pairs: Collection[tuple[int, Kind]]) -> dict[tuple[int, Kind], str]:
        """Which (alert, kind) must not leave now, and why, as notify knows each alert at this moment
        (its latest transition; a maintenance window covering it at the last planning)."""
        ids = {a for a, _ in pairs}
        if not ids:
            return {}
        standing = {r.alert_id: (alert_from_json(r.snapshot), r.suppressed_by) for r in conn.execute(
            select(notify_alerts.c.alert_id, notify_alerts.c.snapshot, notify_alerts.c.suppressed_by)
            .where(notify_alerts.c.alert_id.in_(list(ids))))}
        out: dict[tuple[int, Kind], str] = {}
        for alert_id, kind in pairs:
            if alert_id not in standing:
                continue
            alert, by = standing[alert_id]
            silenced = by is not None and not by.startswith("cause:")
            reason = withheld_because(kind, alert, silenced=silenced)
            if reason is not None:
                out[(alert_id, kind)] = reason
        return out

    @staticmethod
    def _withhold_note(kind: Kind, reason: str) -> str:
        return note_of(Message("note.withheld", {"alert_state": reason, "msg_kind": kind.value}))

    def batch_all(self, conn: Connection, now: dt.datetime) -> dt.datetime | None:
        """Turn queued items into messages as storm control allows; return when to look again.

        An item whose alert was acknowledged, resolved or silenced since it was queued (a storm window
        held it) is withheld, not sent: grouping may delay and merge, never resurrect."""
        rows = list(conn.execute(select(notify_items).where(notify_items.c.status == "queued")))
        if not rows:
            return None
        stale = self._withheld(conn, {(r.alert_id, Kind(r.kind)) for r in rows})
        for (alert_id, kind), reason in stale.items():
            conn.execute(update(notify_items).where(and_(
                notify_items.c.status == "queued", notify_items.c.alert_id == alert_id,
                notify_items.c.kind == kind.value)).values(status="withheld", note=self._withhold_note(kind, reason)))
        queued = [Queued(r.id, r.alert_id, r.group_key, Recipient.parse(r.recipient), r.channel, r.address,
                         Kind(r.kind), r.created_at) for r in rows if (r.alert_id, Kind(r.kind)) not in stale]
        batches, wake = form_batches(queued, self.storm, now, self.config.notification.storm)
        for batch in batches:
            self._message_for(conn, batch, now)
        self.storm.prune(now, self.config.notification.storm.group_window)
        return wake

    def withhold_message(self, conn: Connection, msg_id: int, kind: Kind, reasons: dict[int, str],
                         now: dt.datetime) -> None:
        """The message will not go: its alerts changed since it was formed (recorded on each of them)."""
        conn.execute(update(notify_messages).where(notify_messages.c.id == msg_id).values(
            status="withheld", last_error=self._withhold_note(kind, sorted(set(reasons.values()))[0])))
        for alert_id, reason in reasons.items():
            conn.execute(update(notify_items).where(and_(
                notify_items.c.message_id == msg_id, notify_items.c.alert_id == alert_id))
                .values(status="withheld", note=self._withhold_note(kind, reason)))

    def _recheck(self, conn: Connection, rows: Sequence[Any], now: dt.datetime) -> list[Any]:
        """Messages claimed for sending, checked against their alerts as they stand now: a message whose
        every alert was acknowledged, resolved or silenced is withheld; one with some is re-rendered
        without them."""
        pairs = {(int(a), Kind(r.kind)) for r in rows for a in r.alert_ids}
        stale = self._withheld(conn, pairs)
        if not stale:
            return list(rows)
        out: list[Any] = []
        for r in rows:
            kind = Kind(r.kind)
            reasons = {int(a): stale[(int(a), kind)] for a in r.alert_ids if (int(a), kind) in stale}
            if not reasons:
                out.append(r)
                continue
            self.withhold_message(conn, r.id, kind, reasons, now)
            rest = [int(a) for a in r.alert_ids if int(a) not in reasons]
            if not rest:
                log.info("notify: message %s withheld (%s)", r.id, ", ".join(sorted(set(reasons.values()))))
                continue
            conn.execute(update(notify_messages).where(notify_messages.c.id == r.id).values(
                status="pending", last_error=None))
            self._render_into(conn, r.id, kind, rest, Recipient.parse(r.recipient), now)
            out.append(conn.execute(select(notify_messages).where(notify_messages.c.id == r.id)).one())
        return out

    def restore_storm(self, conn: Connection, now: dt.datetime) -> None:
        """After a restart: remember the messages of the last minutes (group windows, rate limits)."""
        horizon = now - max(self.config.notification.storm.group_window, dt.timedelta(minutes=1))
        for r in conn.execute(select(notify_messages).where(notify_messages.c.created_at > horizon)
                              .order_by(notify_messages.c.created_at)):
            key = (r.recipient, r.channel, r.address, Kind(r.kind).family, r.group_key)
            self.storm.last_formed[key] = r.created_at
            self.storm.recent[(r.channel, r.address)].append(r.created_at)

    def tick(self, conn: Connection, now: dt.datetime, only: Collection[int] | None = None) -> dt.datetime | None:
        """Plan (every alert, or those ``only``) and batch; return when storm control wants a look again."""
        self.plan_all(conn, now, only)
        return self.batch_all(conn, now)

    # -- delivery -----------------------------------------------------------------------------------
    def claim_due(self, conn: Connection, now: dt.datetime, limit: int = 50) -> list[OutMessage]:
        """Messages due now, leased for :data:`LEASE` (sent again after a crash mid-send)."""
        rows = list(conn.execute(
            select(notify_messages)
            .where(and_(notify_messages.c.status == "pending", notify_messages.c.next_attempt_at <= now))
            .order_by(notify_messages.c.next_attempt_at, notify_messages.c.id).limit(limit)
            .with_for_update(skip_locked=True)  # PostgreSQL: a row another sender holds is skipped, never sent twice
        ))
        rows = self._recheck(conn, rows, now)
        until = now + LEASE
        for r in rows:
            if r.claimed_at is not None:  # an earlier claim ran out unrecorded: its sender died or hung mid-send
                self._possibly_sent(conn, r, now)
        if rows:
            conn.execute(update(notify_messages).where(notify_messages.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=until, claimed_at=now))
        return [OutMessage(r.id, Kind(r.kind), Recipient.parse(r.recipient), r.channel, r.address, r.title, r.body,
                           r.body_full, tuple(r.alert_ids), r.attempts, r.external_ref, until) for r in rows]

    def idempotent(self, channel: str) -> bool:
        """The channel carries a key the receiver drops a double by (a webhook's ``Idempotency-Key``)."""
        spec = self.config.notification.channels.get(channel)
        return spec is not None and spec.type == "webhook"

    def _possibly_sent(self, conn: Connection, row: Any, now: dt.datetime) -> None:
        """A message claimed again after an earlier claim ran out without a recorded result: that attempt
        may have reached people. It is sent again (a page is never dropped); on a channel without an
        idempotency key the earlier attempt is recorded as ``possibly_sent`` (timeline, /metrics)."""
        log.warning("notify: message %s on %s claimed again: the earlier claim (%s) ran out unrecorded",
                    row.id, row.channel, row.claimed_at.isoformat())
        if self.idempotent(row.channel):
            return  # sent again with the same key: the receiver drops the double
        address = row.address or row.recipient
        note = note_of(Message("note.possibly_sent", {"msg_kind": row.kind, "address": address}))
        conn.execute(insert(notify_attempts).values(
            message_id=row.id, at=row.claimed_at, channel=row.channel, outcome="possibly_sent",
            latency_ms=0, error=note))
        self._alert_event(conn, [int(a) for a in row.alert_ids], "notify_possibly_sent", now, note=note,
                          by=row.recipient, via=row.channel[:50])

    def release_claim(self, conn: Connection, msg: OutMessage, now: dt.datetime) -> None:
        """A claimed message this process will not send (it lost the notify role): due again now, for the
        holder, unless someone claimed it since (then its claim, not ours, is on the row)."""
        if msg.claimed_until is None:
            return
        conn.execute(update(notify_messages).where(
            notify_messages.c.id == msg.id, notify_messages.c.status == "pending",
            notify_messages.c.next_attempt_at == msg.claimed_until).values(next_attempt_at=now, claimed_at=None))

    def next_due(self, conn: Connection) -> dt.datetime | None:
        return conn.execute(select(notify_messages.c.next_attempt_at).where(notify_messages.c.status == "pending")
                            .order_by(notify_messages.c.next_attempt_at).limit(1)).scalar_one_or_none()

    def backoff(self, attempts: int) -> dt.timedelta:
        d = self.config.notification.delivery
        wait: dt.timedelta = d.backoff * (2 ** max(0, attempts - 1))
        return min(wait, d.backoff_max)

    def record(self, conn: Connection, msg: OutMessage, result: AttemptResult, now: dt.datetime) -> None:
        """Write the attempt; on failure retry later, or give up on this channel and fall back."""
        conn.execute(insert(notify_attempts).values(
            message_id=msg.id, at=now, channel=msg.channel,
            outcome=("demo" if result.demo else "ok") if result.ok else "error",
            latency_ms=result.latency_ms, error=(result.error or "")[:500] or None,
        ))
        self._on_alert_timeline(conn, msg, result, now)
        attempts = msg.attempts + 1
        if result.ok:
            conn.execute(update(notify_messages).where(notify_messages.c.id == msg.id).values(
                status="demo" if result.demo else "sent", attempts=attempts, sent_at=None if result.demo else now,
                last_error=None, claimed_at=None,
                external_ref=result.external_ref if result.external_ref is not None else msg.external_ref,
            ))
            return
        limit = self.config.notification.delivery.attempts
        if result.retryable and attempts < limit:
            conn.execute(update(notify_messages).where(notify_messages.c.id == msg.id).values(
                attempts=attempts, next_attempt_at=now + self.backoff(attempts), last_error=result.error,
                claimed_at=None,
            ))
            return
        conn.execute(update(notify_messages).where(notify_messages.c.id == msg.id).values(
            status="failed", attempts=attempts, last_error=result.error, claimed_at=None,
        ))
        log.warning("notify: message %s to %s on %s failed: %s", msg.id, msg.recipient.key, msg.channel, result.error)
        self._fall_back(conn, msg, now)

    def _on_alert_timeline(self, conn: Connection, msg: OutMessage, result: AttemptResult, now: dt.datetime) -> None:
        """Each attempt also goes on the timeline of every alert it was about (the alert manager's
        ``alert_events``: ``notified`` or ``notify_failed``, by the recipient, via the channel), for the
        alerts the manager has stored."""
        if not msg.alert_ids:
            return
        params = {"msg_kind": msg.kind.value, "address": msg.address or msg.recipient.key,
                  "latency_ms": result.latency_ms}
        if result.demo:
            key = "note.demo"
        elif result.ok:
            key = "note.sent"
        else:
            key, params["error"] = "note.failed", result.error or "-"
        event = "notify_demo" if result.demo else "notified" if result.ok else "notify_failed"
        note = note_of(Message(key, params))
        self._alert_event(conn, msg.alert_ids, event, now, note=note, by=msg.recipient.key, via=msg.channel[:50])

    def _fall_back(self, conn: Connection, msg: OutMessage, now: dt.datetime) -> None:
        fallback = list(conn.execute(select(notify_messages.c.fallback).where(
            notify_messages.c.id == msg.id)).scalar_one() or [])
        items = list(conn.execute(select(notify_items).where(notify_items.c.message_id == msg.id)))
        for i, channel in enumerate(fallback):
            addr = self._address(msg.recipient, channel)
            if addr is None:
                continue
            taken = {r.alert_id for r in conn.execute(select(notify_items.c.alert_id).where(and_(
                notify_items.c.recipient == msg.recipient.key, notify_items.c.channel == channel,
                notify_items.c.alert_id.in_([it.alert_id for it in items]),
                notify_items.c.kind == msg.kind.value)))}
            added = 0
            for it in items:
                if it.alert_id in taken:
                    continue
                conn.execute(insert(notify_items).values(
                    alert_id=it.alert_id, kind=it.kind, step=it.step, round=it.round, recipient=it.recipient,
                    policy=it.policy,
                    channel=channel, address=addr, group_key=it.group_key, status="queued",
                    fallback=fallback[i + 1:], created_at=now,
                    note=note_of(Message("note.fallback", {"channel": msg.channel})),
                ))
                added += 1
            if added:
                log.info("notify: message %s falls back from %s to %s", msg.id, msg.channel, channel)
                return

    def abandon(self, conn: Connection, alert_ids: Sequence[int]) -> None:
        """Stop following alerts (tests, or an alert the manager forgot)."""
        conn.execute(update(notify_alerts).where(notify_alerts.c.alert_id.in_(list(alert_ids))).values(active=False))
