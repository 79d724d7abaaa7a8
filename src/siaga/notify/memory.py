"""Paging from memory while the store cannot write (down, full, read-only, locked).

The outbox commits a page before it is sent; when that commit fails, the page must go out all the same.
:class:`MemoryPager` follows the alerts that began firing while the store was away, plans their pages
with the same pure planner (its history in memory), renders them without the store, and keeps what was
sent, to be written to the outbox when the store is back (:meth:`MemoryPager.record`): as items and
messages already sent, keyed like every page (alert, kind, step, round, recipient, channel), so the
outbox's planner sees them in its history and never pages them again.

Sent pages also go to the spool (``notify.<instance>.jsonl`` in ``store.spool_dir``, one per process): a
restart while the store is away, or another process when this one died, takes them back
(:meth:`MemoryPager.restore`) instead of paging again.

Limits: alerts paged before the store went away wait for it to page their next steps (their history is
in the store); a send that fails from memory is retried by the outbox (and falls back) once the store is
back; maintenance windows made at run time are not known in memory (those of the config are); a service
outage folded into its paging cause (``quiet``) gets its follow-up once the store is back. A page from
memory is checked against its alert's latest transition just before it leaves, as every outbox message is
(``NotifyService._gone``): acknowledged or resolved meanwhile, it is dropped, never sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, insert, select

from siaga.alerts.model import Alert, AlertState, Transition
from siaga.alerts.serialise import alert_from_json, alert_to_json
from siaga.alerts.tables import alerts
from siaga.i18n.messages import Message, note_of
from siaga.notify.engine import AttemptResult, Notifier, OutMessage, group_key
from siaga.notify.maintenance import covering
from siaga.notify.model import Kind, Page, Recipient, Sent
from siaga.notify.planner import plan
from siaga.notify.policy import select_policy
from siaga.notify.render import Renderer
from siaga.notify.tables import notify_attempts, notify_items, notify_messages

log = logging.getLogger("siaga.notify")

Episode = tuple[str, str, dt.datetime]  # rule, subject, started_at: one alert whatever its id


def episode(alert: Alert) -> Episode:
    return (alert.rule, alert.subject, alert.started_at)


@dataclass
class MemoryPage:
    """One message sent (or being sent) from memory."""

    episode: Episode
    alert: Alert  # as it was when planned
    page: Page
    policy: str | None
    message: OutMessage
    language: str
    at: dt.datetime
    result: AttemptResult | None = None  # None while it is being sent
    foreign: bool = False  # from the spool of an earlier run or another process: a provisional id not this run's


@dataclass
class MemoryPager:
    notifier: Notifier
    followed: dict[Episode, Alert] = field(default_factory=dict)
    pages: list[MemoryPage] = field(default_factory=list)
    handed_over: set[Episode] = field(default_factory=set)  # their pages are in the store: its planner's now
    renderer: Renderer = field(init=False)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.notifier.config, None)  # no store look-ups (last backups)

    def follow(self, tr: Transition) -> None:
        """Follow alerts that start firing now (their history is empty); follow on those already followed."""
        key = episode(tr.alert)
        if key in self.handed_over:  # its history is in the store: paging it from memory again would double
            return
        if key in self.followed or (tr.event == "firing" or (tr.previous is None
                                                             and tr.alert.state is AlertState.firing)):
            self.followed[key] = tr.alert

    def due(self, now: dt.datetime) -> list[MemoryPage]:
        """The messages to send now: what the planner says of each followed alert, its history in memory."""
        out: list[MemoryPage] = []
        for key, alert in list(self.followed.items()):
            policy = select_policy(self.notifier.config.escalation, alert)
            if policy is None:
                continue
            window = covering(self.notifier.config_windows, alert, now)
            suppressed = window is not None or bool(alert.params.get("quiet"))
            history = [Sent(p.page.kind, p.page.step, p.page.round, p.page.recipient, p.at, p.policy)
                       for p in self.pages if p.episode == key]
            for page in plan(policy, alert, history, now, self.notifier.calendar, suppressed=suppressed):
                out += self._messages(key, alert, page, policy.id, now)
        self.pages += out
        return out

    def _channels(self, key: Episode, page: Page) -> list[tuple[str, str]]:
        n = self.notifier
        if page.kind.is_notice:  # on the channels the recipient was paged on
            used = [p.message.channel for p in self.pages if p.episode == key and p.page.recipient == page.recipient]
            channels = tuple(dict.fromkeys(used)) or n._recipient_channels(page.recipient)
        else:
            channels = page.channels or n._recipient_channels(page.recipient)
        chosen = [(ch, addr) for ch in channels if (addr := n._address(page.recipient, ch)) is not None]
        if not chosen:
            for ch in page.fallback:
                addr = n._address(page.recipient, ch)
                if addr is not None:
                    return [(ch, addr)]
        return chosen

    def _messages(self, key: Episode, alert: Alert, page: Page, policy: str, now: dt.datetime) -> list[MemoryPage]:
        out = []
        lang = self.notifier.language_of(page.recipient)
        link = None if page.kind.is_notice or alert.id <= 0 else self.notifier.ack_url([alert.id], page.recipient, now)
        text = self.renderer.render(page.kind, [alert], lang, now, ack_url=link, by=alert.acknowledged_by,
                                    round=page.round)
        for channel, address in self._channels(key, page):
            msg = OutMessage(0, page.kind, page.recipient, channel, address, text.title, text.short, text.full,
                             (alert.id,), 0)
            out.append(MemoryPage(key, alert, page, policy, msg, lang, now))
        if not out:
            log.warning("notify: %s has no address for a page sent from memory", page.recipient.key)
        return out

    # -- into the store, once it is back ---------------------------------------------------------------
    def recordable(self, stored_id: Callable[[int], int | None]) -> list[tuple[MemoryPage, int | None]]:
        """Sent pages, with the store's id of their alert when the alert manager knows it."""
        return [(p, None if p.foreign and p.alert.id <= 0 else stored_id(p.alert.id))
                for p in self.pages if p.result is not None]

    def record(self, conn: Connection, pages: list[tuple[MemoryPage, int | None]]) -> list[MemoryPage]:
        """Write sent pages to the outbox as sent (a failed one as pending: the outbox retries it); a page
        already there (same alert, kind, step, round, recipient, channel) is not written again. An alert
        whose id is not known (spooled by a run before this one) is found by rule, subject and start; one
        the store does not hold yet waits. Returns the pages written (or found written)."""
        done: list[MemoryPage] = []
        for p, known in pages:
            assert p.result is not None
            alert_id = known if known is not None else conn.execute(select(alerts.c.id).where(
                alerts.c.rule == p.alert.rule, alerts.c.subject == p.alert.subject,
                alerts.c.started_at == p.alert.started_at)).scalar()
            if alert_id is None:
                continue
            done.append(p)
            pg, msg, res = p.page, p.message, p.result
            exists = conn.execute(select(notify_items.c.id).where(and_(
                notify_items.c.alert_id == alert_id, notify_items.c.kind == pg.kind.value,
                notify_items.c.step == pg.step, notify_items.c.round == pg.round,
                notify_items.c.recipient == pg.recipient.key, notify_items.c.channel == msg.channel))).first()
            if exists is not None:
                continue
            alert = p.alert if p.alert.id == alert_id else dataclasses.replace(p.alert, id=alert_id)
            gk = group_key(alert)
            msg_id = conn.execute(insert(notify_messages).values(
                kind=pg.kind.value, recipient=pg.recipient.key, channel=msg.channel, address=msg.address,
                group_key=gk, language=p.language, alert_ids=[alert_id], title=msg.title, body=msg.body,
                body_full=msg.body_full, status="sent" if res.ok else "pending", attempts=1,
                next_attempt_at=p.at, created_at=p.at, sent_at=p.at if res.ok else None,
                last_error=res.error, fallback=list(pg.fallback), external_ref=res.external_ref,
            ).returning(notify_messages.c.id)).scalar_one()
            conn.execute(insert(notify_items).values(
                alert_id=alert_id, kind=pg.kind.value, step=pg.step, round=pg.round, recipient=pg.recipient.key,
                channel=msg.channel, address=msg.address, group_key=gk, policy=p.policy, status="batched",
                note=note_of(Message("note.from_memory")), fallback=list(pg.fallback),
                message_id=msg_id, created_at=p.at,
            ))
            conn.execute(insert(notify_attempts).values(
                message_id=msg_id, at=p.at, channel=msg.channel, outcome="ok" if res.ok else "error",
                latency_ms=res.latency_ms, error=(res.error or "")[:500] or None,
            ))

        return done

    def forget(self, done: list[MemoryPage]) -> None:
        """The store has these pages: its planner follows their alerts from now on."""
        gone = {id(p) for p in done}
        eps = {p.episode for p in done}
        self.pages = [p for p in self.pages if id(p) not in gone]
        for ep in eps:
            if not any(p.episode == ep for p in self.pages):
                self.followed.pop(ep, None)
                self.handed_over.add(ep)

    @property
    def unrecorded(self) -> int:
        return len(self.pages)

    def failed(self) -> list[MemoryPage]:
        return [p for p in self.pages if p.result is not None and not p.result.ok]

    # -- the spool (a restart while the store is away must not page again) -----------------------------
    def restore(self, records: list[dict[str, Any]]) -> list[MemoryPage]:
        """Take back the pages an earlier run (or another process, gone) sent from memory and did not record
        (from its spool): they are recorded with this run's, and their alerts not paged again from memory."""
        out = []
        for r in records:
            with contextlib.suppress(KeyError, ValueError, TypeError):
                page = dataclasses.replace(page_from_json(r), foreign=True)
                self.pages.append(page)
                self.followed.setdefault(page.episode, page.alert)
                out.append(page)
        return out

    def drop(self, pages: list[MemoryPage]) -> None:
        """Forget restored ``pages`` unrecorded (their spool is let go: another process takes them up)."""
        gone = {id(p) for p in pages}
        self.pages = [p for p in self.pages if id(p) not in gone]
        for ep in {p.episode for p in pages}:
            if not any(p.episode == ep for p in self.pages):
                self.followed.pop(ep, None)


def page_to_json(p: MemoryPage) -> dict[str, Any]:
    """A sent page as JSON (for the spool)."""
    assert p.result is not None
    m, pg, res = p.message, p.page, p.result
    return {
        "alert": alert_to_json(p.alert), "policy": p.policy, "language": p.language, "at": p.at.isoformat(),
        "page": {"kind": pg.kind.value, "step": pg.step, "round": pg.round, "recipient": pg.recipient.key,
                 "channels": list(pg.channels), "fallback": list(pg.fallback)},
        "message": {"channel": m.channel, "address": m.address, "title": m.title, "body": m.body,
                    "body_full": m.body_full},
        "result": {"ok": res.ok, "latency_ms": res.latency_ms, "error": res.error, "retryable": res.retryable,
                   "external_ref": res.external_ref},
    }


def page_from_json(d: dict[str, Any]) -> MemoryPage:
    alert = alert_from_json(d["alert"])
    pg, m, res = d["page"], d["message"], d["result"]
    page = Page(alert.id, Kind(pg["kind"]), int(pg["step"]), int(pg["round"]), Recipient.parse(pg["recipient"]),
                tuple(pg["channels"]), tuple(pg["fallback"]))
    msg = OutMessage(0, page.kind, page.recipient, m["channel"], m["address"], m["title"], m["body"], m["body_full"],
                     (alert.id,), 0)
    result = AttemptResult(bool(res["ok"]), int(res["latency_ms"]), res.get("error"), bool(res.get("retryable", True)),
                           res.get("external_ref"))
    return MemoryPage(episode(alert), alert, page, d.get("policy"), msg, str(d["language"]),
                      dt.datetime.fromisoformat(d["at"]), result)
