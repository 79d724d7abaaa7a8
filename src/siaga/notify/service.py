"""The notify worker: takes alert transitions off a queue, plans, batches, sends, records, falls back.

Publishing a transition (:meth:`NotifyService.publish`) only puts it on an in-memory queue: ingestion
and rules never wait for the store or a channel. The worker writes it to the store before anything
else, so from there on a restart loses nothing (the outbox is in the store; a message being sent
when siaga died is sent again after its lease).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import enum
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine, select, text

from siaga.alerts.model import Alert, Transition
from siaga.alerts.store import AlertError
from siaga.cluster.leases import Fence, LeaseLost
from siaga.i18n.messages import Message
from siaga.notify import ack as acktokens
from siaga.notify.engine import AttemptResult, Notifier, OutMessage
from siaga.notify.links import nonce_used, spend_nonce
from siaga.notify.memory import MemoryPage, MemoryPager, page_to_json
from siaga.notify.model import Kind, Recipient
from siaga.notify.planner import withheld_because
from siaga.notify.tables import notify_messages
from siaga.notify.transports import Transports
from siaga.runbooks.approval import Approval
from siaga.store.engine import first_error_line
from siaga.store.spool import Adopted, Spool
from siaga.store.types import utcnow

T = TypeVar("T")
log = logging.getLogger("siaga.notify")

IDLE = 1.0
WAKE_CHANNEL = "siaga_notify"
"""Several processes: one that stored transitions it does not send wakes the ``notify`` holder on it."""
"""Seconds between looks when nothing wakes the worker, and how often every followed alert is planned
again (escalation steps, repeats and time windows fall due on the clock). A published transition or a
finished send wakes the worker at once; such a round plans only the alerts that just changed, so a new
alert's page does not wait for the planning of all the others (bench/notify_end_to_end.py: ~5 ms at 200
open alerts on a quiet machine, 20-60 ms on a busy one)."""

LATEST_KEPT = 50_000
"""Alerts whose latest published state the worker keeps for the check at send time (oldest dropped first)."""
ADOPT_EVERY_S = 5.0
"""How often the sending process looks for the spools of processes gone (their pages sent from memory)."""


class AlertActions(Protocol):
    """What notify asks of the alert manager (``siaga.alerts.manager``)."""

    async def acknowledge(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Any: ...

    async def resolve(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Any: ...


class RunbookApprovals(Protocol):
    """What the Telegram bot asks of runbooks when an Approve button is pressed
    (``siaga.runbooks.component.approve``, set by the runbooks component)."""

    async def __call__(self, token: str, *, via: str, person: str | None = None) -> Approval: ...


class AckRefusal(enum.Enum):
    """Why a one-tap link acknowledged nothing: the page picks its HTTP status from it (:mod:`siaga.notify.web`)."""

    token = "token"  # malformed, not signed by this siaga, or expired (``why``: the TokenError's)
    not_running = "not_running"  # no alert manager runs in this process
    unknown_message = "unknown_message"  # a storm's link whose message is gone
    used = "used"  # the link was used already
    alert = "alert"  # every alert it names refused (already acknowledged, resolved, or gone): ``why``


@dataclass(frozen=True)
class AckOutcome:
    """What a one-tap link did. ``message``: in English (logs); ``refused``: why nothing was done, and ``why`` in
    siaga's words, worded for each reader (every refusal has it, :meth:`refusal`)."""

    ok: bool
    message: str
    alert_ids: tuple[int, ...] = ()
    by: str | None = None
    refused: AckRefusal | None = None
    why: Message | None = None

    @classmethod
    def refusal(cls, refused: AckRefusal, why: Message, alert_ids: tuple[int, ...] = (),
                by: str | None = None) -> AckOutcome:
        return cls(False, why.english(), alert_ids, by, refused, why)


class NotifyService:
    """One per running siaga: the worker loop and what the web, the bot and the CLI ask of notify."""

    def __init__(
        self,
        engine: Engine,
        notifier: Notifier,
        transports: Transports,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        actions: AlertActions | None = None,
        idle: float = IDLE,
        spool: Spool | None = None,
    ) -> None:
        self.engine = engine
        self.notifier = notifier
        self.transports = transports
        self.clock = clock
        self.actions = actions
        self.approve_runbook: RunbookApprovals | None = None
        self.queue: asyncio.Queue[Transition] = asyncio.Queue()
        self.kick = asyncio.Event()
        self._db_lock = asyncio.Lock()
        self._db_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="siaga-notify-db")
        self._sending: set[asyncio.Task[None]] = set()
        self._sem = asyncio.Semaphore(notifier.config.notification.delivery.concurrency)
        self.idle = idle
        self._planned_all_at: dt.datetime | None = None
        self._unstored: list[Transition] = []  # taken off the queue by a round whose transaction failed
        self._latest: dict[int, Alert] = {}  # each alert as its last published transition left it
        self.memory = MemoryPager(notifier)  # pages sent while the store cannot write, until it has them
        self.spool = spool  # ... and on disk, so that a restart meanwhile does not page them again
        if spool is not None:
            self.memory.restore(spool.read())
        self._adopted: list[tuple[Adopted, list[MemoryPage]]] = []  # spools of processes gone, until recorded
        self._adopt_at = 0.0  # (monotonic) the next look for them
        self.stored_id: Callable[[int], int | None] = lambda i: i if i > 0 else None  # the alert manager's
        self.store_error: str | None = None  # why the last round could not write (None: it could)
        self.store_failing_since: dt.datetime | None = None
        self.send_errors: dict[tuple[str, str], str] = {}  # (channel, address) -> error of its last try
        self._memory_sending: set[asyncio.Task[None]] = set()
        self._unrecorded: list[tuple[OutMessage, AttemptResult, dt.datetime]] = []  # sent, not yet written
        self.fence: Fence | None = None
        """Several processes on one store: only the holder of the ``notify`` role plans, claims and sends
        (its claims check the lease's token); the others only store the transitions they see."""

    # -- the store, off the event loop ------------------------------------------------------------
    async def db(self, work: Callable[[Connection], T]) -> T:
        def in_thread() -> T:
            with self.engine.begin() as conn:
                return work(conn)

        async with self._db_lock:  # one at a time: the pool's one thread, not the loop's shared executor
            return await asyncio.get_running_loop().run_in_executor(self._db_pool, in_thread)

    # -- intake -----------------------------------------------------------------------------------
    def publish(self, tr: Transition) -> None:
        """Hand over a transition; never blocks (call it from the event loop's thread)."""
        self._latest.pop(tr.alert.id, None)
        self._latest[tr.alert.id] = tr.alert
        if len(self._latest) > LATEST_KEPT:
            del self._latest[next(iter(self._latest))]
        self.queue.put_nowait(tr)
        self.kick.set()

    async def consume(self, source: asyncio.Queue[Transition], stop: asyncio.Event) -> None:
        """Forward transitions from the alert manager's subscriber queue."""
        while not stop.is_set():
            getter = asyncio.ensure_future(source.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                self.publish(getter.result())
            else:
                getter.cancel()
            stopper.cancel()

    def woken(self) -> None:
        """Another process stored transitions (``NOTIFY siaga_notify``): plan every alert now (call on the
        event loop's thread)."""
        self._planned_all_at = None
        self.kick.set()

    # -- the loop ---------------------------------------------------------------------------------
    async def step(self) -> dt.datetime | None:
        """One round: store new transitions, plan, batch, start due sends. Returns the next wake time."""
        if self._memory_sending:  # their outcome goes into the history this round writes
            await asyncio.wait(set(self._memory_sending))
        transitions, self._unstored = self._unstored, []
        while not self.queue.empty():
            transitions.append(self.queue.get_nowait())
        now = self.clock()
        if self.fence is not None and not self.fence.held():
            self._let_go_spools()
            await self._follow(transitions, now)
            return None
        self._adopt_spools()
        # an alert the store has not numbered yet (the alert manager could not write it) waits, and pages
        # from memory meanwhile
        transitions = [self._stored(tr) for tr in transitions]
        held = [tr for tr in transitions if tr.alert.id <= 0]
        ready = [tr for tr in transitions if tr.alert.id > 0]
        recordable = self.memory.recordable(self.stored_id)
        unrecorded, self._unrecorded = self._unrecorded, []
        last = self._planned_all_at  # every alert once per `idle` (and when the clock was set back), else the new
        plan_all = last is None or not last <= now < last + dt.timedelta(seconds=self.idle)
        only = None if plan_all else {tr.alert.id for tr in ready} | {i for _, i in recordable if i is not None}
        recorded: list[MemoryPage] = []

        fence = self.fence

        def work(conn: Connection) -> tuple[dt.datetime | None, list[OutMessage], dt.datetime | None]:
            if fence is not None:
                fence.check(conn, now)  # the lease row stays locked until this round commits
            for tr in ready:
                self.notifier.observe(conn, tr, now)
            recorded[:] = self.memory.record(conn, recordable)  # sent from memory: in the planner's history first
            for msg, result, at in unrecorded:  # attempts whose record failed (sent: not sent again)
                self.notifier.record(conn, msg, result, at)
            wake = self.notifier.tick(conn, now, only)
            due = self.notifier.claim_due(conn, now)
            return wake, due, self.notifier.next_due(conn)

        try:
            wake, due, next_send = await self.db(work)
        except LeaseLost:  # another process holds "notify" now: nothing claimed, nothing sent from here
            self._unstored = transitions + self._unstored
            self._unrecorded = unrecorded + self._unrecorded
            return None
        except BaseException as exc:
            # the round's transaction was rolled back: its transitions go first into the next round
            # (storing one is an upsert, so a retry is safe), never lost with a store hiccup; their pages
            # go out from memory now
            self._unstored = transitions + self._unstored
            self._unrecorded = unrecorded + self._unrecorded
            if isinstance(exc, Exception):
                if self.store_failing_since is None:
                    self.store_failing_since = now
                self.store_error = first_error_line(exc)
                self._page_from_memory(transitions, now)
            raise
        self.store_error = None
        self.store_failing_since = None
        self.memory.forget(recorded)
        if recorded and self.spool is not None and not self.memory.unrecorded:
            self.spool.clear()  # all in the store (a crash before this: the next start finds them written)
        self._spools_recorded()
        self._unstored = held + self._unstored
        if held:
            self._page_from_memory(held, now)
        if plan_all:
            self._planned_all_at = now
        for msg in due:
            task = asyncio.create_task(self._send(msg))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        times = [t for t in (wake, next_send) if t is not None]
        return min(times) if times else None

    async def _follow(self, transitions: list[Transition], now: dt.datetime) -> None:
        """A process that does not hold ``notify``: store the transitions it saw (the holder plans them at its
        next round: at once when it listens for :data:`WAKE_CHANNEL`, else within :data:`IDLE`), page nothing
        itself."""
        ready = [tr for tr in transitions if tr.alert.id > 0]
        self._unstored = [tr for tr in transitions if tr.alert.id <= 0] + self._unstored
        if not ready:
            return None

        def work(conn: Connection) -> None:
            for tr in ready:
                self.notifier.observe(conn, tr, now)
            if conn.dialect.name == "postgresql":  # the holder plans them at once (at this commit), not within IDLE
                conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": WAKE_CHANNEL})

        try:
            await self.db(work)
        except Exception:
            self._unstored = ready + self._unstored
            raise
        return None

    # -- spools of processes gone (see siaga.store.spool) -------------------------------------------
    def _adopt_spools(self) -> None:
        """This process plans and sends: take up the pages that processes gone (or an older siaga) sent from
        memory and did not record, so they are recorded (once) and their alerts not paged again."""
        if self.spool is None or time.monotonic() < self._adopt_at:
            return
        self._adopt_at = time.monotonic() + ADOPT_EVERY_S
        for f in self.spool.adopt():
            pages = self.memory.restore(f.read())
            if pages:
                log.warning("notify: %d page(s) sent from memory by a process gone, from %s", len(pages), f.path)
            self._adopted.append((f, pages))

    def _spools_recorded(self) -> None:
        """Remove the adopted spools whose pages are all in the store."""
        left = []
        unrecorded = {id(p) for p in self.memory.pages}
        for f, pages in self._adopted:
            if any(id(p) in unrecorded for p in pages):
                left.append((f, pages))
            else:
                f.remove()
        self._adopted = left

    def _let_go_spools(self) -> None:
        """Another process plans now: let it have the adopted spools (and forget their pages here)."""
        for f, pages in self._adopted:
            self.memory.drop(pages)
            f.release()
        self._adopted = []
        self._adopt_at = 0.0

    def _stored(self, tr: Transition) -> Transition:
        if tr.alert.id > 0:
            return tr
        real = self.stored_id(tr.alert.id)
        if real is None:
            return tr
        return dataclasses.replace(tr, alert=dataclasses.replace(tr.alert, id=real))

    def _page_from_memory(self, transitions: list[Transition], now: dt.datetime) -> None:
        """The store cannot take this round: plan and send from memory (see ``siaga.notify.memory``)."""
        for tr in transitions:
            self.memory.follow(tr)
        for page in self.memory.due(now):
            log.warning("notify: sending %s of %s %s to %s from memory (the store cannot write)",
                        page.page.kind.value, page.alert.rule, page.alert.subject, page.page.recipient.key)
            task = asyncio.create_task(self._send_from_memory(page))
            self._sending.add(task)
            self._memory_sending.add(task)
            task.add_done_callback(self._sending.discard)
            task.add_done_callback(self._memory_sending.discard)

    async def _send_from_memory(self, page: MemoryPage) -> None:
        async with self._sem:
            if self._gone(page.message) is not None:  # acknowledged or resolved while it waited: never sent
                with contextlib.suppress(ValueError):
                    self.memory.pages.remove(page)  # not told: no notice for it, nothing to record
                self.kick.set()
                return
            result = await self.transports.attempt(page.message)
        page.result = result
        if self.spool is not None:
            self.spool.append([page_to_json(page)])
        self._note_send(page.message, result)
        if result.ok and self.notifier.on_sent is not None:
            self.notifier.on_sent(page.message)
        self.kick.set()

    def _note_send(self, msg: OutMessage, result: AttemptResult) -> None:
        key = (msg.channel, msg.address)
        if result.ok:
            self.send_errors.pop(key, None)
        else:
            self.send_errors[key] = result.error or "failed"

    def problems(self) -> list[dict[str, object]]:
        """What /healthz names: pages that could not be stored or sent (empty when all is well)."""
        out: list[dict[str, object]] = []
        if self.store_error is not None or self.memory.unrecorded:
            since = self.store_failing_since
            error = self.store_error or "their alert is not stored yet"
            out.append({
                "reason": "notify.pages_unrecorded",
                "message": f"pages cannot be stored{f' since {since:%Y-%m-%d %H:%M:%S} UTC' if since else ''} "
                           f"({error}): {self.memory.unrecorded} sent from memory, recorded when the store is back",
                "since": since.isoformat() if since else None,
                "error": error,
                "pages": self.memory.unrecorded,
            })
        for (channel, address), err in sorted(self.send_errors.items()):
            out.append({
                "reason": "notify.send_failed",
                "message": f"a page could not be sent on {channel}{' to ' + address if address else ''}: {err}",
                "channel": channel, "address": address, "error": err,
            })
        return out

    async def settle(self) -> None:
        """Wait for the sends in flight (their outcomes recorded)."""
        while self._sending:
            await asyncio.wait(set(self._sending))

    def _gone(self, msg: OutMessage) -> dict[int, str] | None:
        """Why none of ``msg``'s alerts should be told any more, by the transitions published since the
        message was claimed (an acknowledgement while it waited for a free sender); None: send it."""
        reasons: dict[int, str] = {}
        for alert_id in msg.alert_ids:
            latest = self._latest.get(alert_id)
            reason = withheld_because(msg.kind, latest) if latest is not None else None
            if reason is None:
                return None
            reasons[alert_id] = reason
        return reasons or None

    async def _send(self, msg: OutMessage) -> None:
        async with self._sem:
            if self.fence is not None and not self.fence.held():
                log.warning("notify: the notify role was lost before message %s left; not sent from here", msg.id)
                at = self.clock()  # the lease ran out (a pause, a slow store): handed back to the holder
                with contextlib.suppress(Exception):
                    await self.db(lambda conn: self.notifier.release_claim(conn, msg, at))
                return
            gone = self._gone(msg)  # checked at the moment it leaves
            if gone is not None:
                at = self.clock()
                await self.db(lambda conn: self.notifier.withhold_message(conn, msg.id, msg.kind, gone, at))
                self.kick.set()
                return
            result = await self.transports.attempt(msg)
        now = self.clock()
        self._note_send(msg, result)
        try:
            await self.db(lambda conn: self.notifier.record(conn, msg, result, now))
        except Exception:  # sent (or tried): recorded by the next round that reaches the store, not sent again
            log.warning("notify: cannot record the attempt of message %s now; kept for the next round", msg.id)
            self._unrecorded.append((msg, result, now))
        if result.ok and self.notifier.on_sent is not None:
            self.notifier.on_sent(msg)
        self.kick.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop``; then let sends in flight finish (their outcome is recorded)."""
        await self.db(lambda conn: self.notifier.restore_storm(conn, self.clock()))
        while not stop.is_set():
            self.kick.clear()
            failing = self.store_error is not None
            try:
                wake = await self.step()
            except Exception:  # the store hiccuped: log, wait, go on (nothing is lost: see step)
                if not failing:
                    log.exception("notify: a round failed; trying again (pages go out from memory meanwhile)")
                wake = None
            delay = self.idle
            if wake is not None:
                delay = max(0.0, min(self.idle, (wake - self.clock()).total_seconds()))
            kick = asyncio.ensure_future(self.kick.wait())
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({kick, halt}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            kick.cancel()
            halt.cancel()
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=10)
        if self._unstored or not self.queue.empty():  # what is not stored yet goes in, for the next start
            with contextlib.suppress(Exception):
                pending, self._unstored = self._unstored, []
                while not self.queue.empty():
                    pending.append(self.queue.get_nowait())
                now = self.clock()

                def keep(conn: Connection) -> None:
                    for tr in pending:
                        self.notifier.observe(conn, tr, now)

                await self.db(keep)

    # -- acknowledgement ----------------------------------------------------------------------------
    def check_token(self, token: str) -> acktokens.AckClaim:
        return acktokens.verify(self.notifier.key, token, self.clock())

    async def token_spent(self, claim: acktokens.AckClaim) -> bool:
        return await self.db(lambda conn: nonce_used(conn, claim.nonce))

    async def acknowledge_token(self, token: str, note: str | None = None) -> AckOutcome:
        """Acknowledge what a one-tap link names, as the recipient it was sent to; once."""
        try:
            claim = self.check_token(token)
        except acktokens.TokenError as exc:
            return AckOutcome.refusal(AckRefusal.token, exc.why)
        if self.actions is None:
            return AckOutcome.refusal(AckRefusal.not_running, Message("ack_link.not_running"))
        now = self.clock()
        if claim.message_id is not None:  # a storm's link: the alerts of its message
            row = await self.message(claim.message_id)
            if row is None:
                return AckOutcome.refusal(AckRefusal.unknown_message, Message("ack_link.unknown_message"))
            claim = dataclasses.replace(claim, alert_ids=tuple(int(a) for a in row.alert_ids))
        fresh = await self.db(lambda conn: spend_nonce(conn, claim.nonce, claim.recipient.key,
                                                       list(claim.alert_ids), now))
        if not fresh:
            return AckOutcome.refusal(AckRefusal.used, Message("ack_link.used"))
        by = claim.recipient.id if claim.recipient.kind == "person" else claim.recipient.key
        refusals: list[Message] = []
        for alert_id in claim.alert_ids:
            try:
                await self.actions.acknowledge(alert_id, by=by, via="link", note=note)
            except AlertError as exc:  # already acknowledged, resolved, unknown
                refusals.append(exc.why)
            except Exception:  # the store failed, say: the details go to the log, not to the page
                log.exception("ack link: acknowledging alert #%s as %s failed", alert_id, by)
                refusals.append(Message("alert.action_failed", {"alert": alert_id}))
        if refusals and len(refusals) == len(claim.alert_ids):
            return AckOutcome.refusal(AckRefusal.alert, refusals[0], claim.alert_ids, by)
        return AckOutcome(True, "acknowledged", claim.alert_ids, by)

    def may_act(self, person: str, msg_recipient: Recipient) -> bool:
        """A person may acknowledge or resolve what was sent to them or to a group they belong to."""
        if person not in self.notifier.people:
            return False
        if msg_recipient == Recipient("person", person):
            return True
        group = self.notifier.groups.get(msg_recipient.id) if msg_recipient.kind == "group" else None
        return group is not None and person in group.members

    async def message(self, message_id: int) -> Any:
        return await self.db(lambda conn: conn.execute(
            select(notify_messages).where(notify_messages.c.id == message_id)).first())

    # -- tests of a channel -------------------------------------------------------------------------
    async def send_test(self, channel: str, address: str | None, recipient: Recipient) -> AttemptResult:
        """Send a test message on ``channel`` now (not through the outbox) and say how it went."""
        from siaga.notify.texts import N_, gettext_for

        lang = self.notifier.config.site.language.value
        g = gettext_for(lang)
        title = "[siaga] " + g(N_("siaga test message"))
        body = g(N_("siaga test message from {site}, sent {now}. If you read this, the channel works.")).format(
            site=self.notifier.config.site.name, now=self.notifier.renderer.local_time(self.clock(), lang))
        msg = OutMessage(0, Kind.test, recipient, channel, address or "", title, body, body, (), 0)
        return await self.transports.attempt(msg)
