"""The Telegram bot: long-polls ``getUpdates``; links accounts (``/link CODE``); handles the Acknowledge
and Resolve buttons (checked against the pressing person's rights) and edits the message to show it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from siaga.alerts.store import AlertError
from siaga.config.notify import TelegramBot as TelegramBotConfig
from siaga.i18n.messages import Message, render
from siaga.notify.links import person_of_user, redeem_link_code
from siaga.notify.model import Recipient
from siaga.notify.service import NotifyService
from siaga.notify.telegram import BotApi, BotApiError, ack_keyboard, approve_keyboard
from siaga.notify.texts import N_, gettext_for
from siaga.runbooks.approval import approval_token_in
from siaga.store import get_meta, set_meta

log = logging.getLogger("siaga.notify.telegram")
OFFSET_KEY = "notify.telegram.offset"


class TelegramBot:
    def __init__(self, service: NotifyService, config: TelegramBotConfig) -> None:
        self.svc = service
        self.config = config
        self.lang = service.notifier.config.site.language.value
        self._api: BotApi | None = None

    @property
    def api(self) -> BotApi:
        if self._api is None:
            self._api = self.svc.transports.bot(self.config.channel)
        return self._api

    def _(self, text: str) -> str:
        return gettext_for(self.lang)(text)

    async def run(self, stop: asyncio.Event) -> None:
        from siaga.errors import ComponentError
        from siaga.notify.transports import DeliveryError

        try:
            self.api  # noqa: B018 - reads the token now, to say so when it cannot be had
        except DeliveryError as exc:
            # not a quiet bot that seems to run: the supervisor retries it and, if it lasts, pages "siaga degraded"
            raise ComponentError(f"telegram bot: channel {self.config.channel}: {exc}") from None
        raw = await self.svc.db(lambda c: get_meta(c, OFFSET_KEY))
        offset = int(raw) if raw else None
        pause = 1.0
        while not stop.is_set():
            poll = asyncio.ensure_future(self.api.get_updates(offset, self.config.poll_timeout))
            halt = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({poll, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if poll not in done:
                poll.cancel()
                break
            try:
                updates = poll.result()
            except BotApiError as exc:
                log.warning("telegram: %s; trying again in %.0f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 60.0)
                continue
            pause = 1.0
            for update in updates:
                try:
                    await self.handle(update)
                except Exception:
                    log.exception("telegram: cannot handle update %s", update.get("update_id"))
                offset = int(update["update_id"]) + 1
                value = str(offset)
                await self.svc.db(lambda c, v=value: set_meta(c, OFFSET_KEY, v))  # type: ignore[misc]

    async def handle(self, update: dict[str, Any]) -> None:
        if "callback_query" in update:
            await self.on_press(update["callback_query"])
            return
        message = update.get("message") or {}
        text = str(message.get("text") or "").strip()
        chat_id = str((message.get("chat") or {}).get("id", ""))
        user_id = str((message.get("from") or {}).get("id", ""))
        if not chat_id:
            return
        if text.startswith("/link"):
            parts = text.split()
            if len(parts) != 2:
                await self.api.send_message(chat_id, self._(N_("Send /link followed by the code siaga gave you.")))
                return
            now = self.svc.clock()
            person = await self.svc.db(lambda c: redeem_link_code(c, parts[1], user_id, chat_id, now))
            if person is None:
                await self.api.send_message(chat_id, self._(N_(
                    "This code is unknown or expired: ask for a new one (siaga notify link PERSON).")))
                return
            name = self.svc.notifier.people[person].name if person in self.svc.notifier.people else person
            await self.api.send_message(chat_id, self._(N_(
                "Linked: this Telegram account is {name} now.")).format(name=name))
        elif text.startswith("/start") or text.startswith("/help"):
            await self.api.send_message(chat_id, self._(N_(
                "siaga sends alerts here. To act on them, link your account: ask for a code "
                "(siaga notify link PERSON) and send /link CODE.")))

    async def on_press(self, cq: dict[str, Any]) -> None:
        cq_id = str(cq.get("id", ""))
        action, _, mid = str(cq.get("data") or "").partition(":")
        user_id = str((cq.get("from") or {}).get("id", ""))
        person = await self.svc.db(lambda c: person_of_user(c, user_id))
        if person is None:
            await self.api.answer_callback_query(cq_id, self._(N_(
                "This Telegram account is not linked to anyone in siaga: send /link CODE first.")))
            return
        # what only the pressing person sees (the answer to the press) is in their language; the note added to the
        # message, which the whole chat sees, in the language the bot speaks
        lang = self.svc.notifier.language_of(Recipient("person", person))
        say = gettext_for(lang)
        row = await self.svc.message(int(mid)) if mid.isdigit() else None
        if row is not None and action == "apr":
            await self.on_approve(cq, cq_id, person, row, lang)
            return
        if row is None or action not in ("ack", "res"):
            await self.api.answer_callback_query(cq_id, say(N_("Unknown alert message.")))
            return
        if not self.svc.may_act(person, Recipient.parse(row.recipient)):
            await self.api.answer_callback_query(cq_id, say(N_("You may not act on this alert.")))
            return
        actions = self.svc.actions
        if actions is None:
            await self.api.answer_callback_query(cq_id, say(N_("The alert manager is not running.")))
            return
        refusals: list[Message] = []
        for alert_id in row.alert_ids:
            try:
                if action == "ack":
                    await actions.acknowledge(int(alert_id), by=person, via="telegram")
                else:
                    await actions.resolve(int(alert_id), by=person, via="telegram")
            except AlertError as exc:  # already acknowledged or resolved
                refusals.append(exc.why)
            except Exception:  # the store failed, say: the details go to the log, not to the chat
                log.exception("telegram: %s of alert #%s by %s failed", action, alert_id, person)
                refusals.append(Message("alert.action_failed", {"alert": alert_id}))
        if refusals and len(refusals) == len(row.alert_ids):
            await self.api.answer_callback_query(
                cq_id, render(refusals[0], lang, self.svc.notifier.renderer.zone)[:190])
            return
        name = self.svc.notifier.people[person].name
        at = self.svc.notifier.renderer.local_time(self.svc.clock(), self.lang, date=False)
        if action == "ack":
            note = self._(N_("✅ Acknowledged by {name} at {time}")).format(name=name, time=at)
            resolve_only = ack_keyboard(int(mid), self.lang)["inline_keyboard"][0][1:]
            markup: dict[str, Any] | None = {"inline_keyboard": [resolve_only]}
            answer = say(N_("Acknowledged."))
        else:
            note = self._(N_("✔️ Resolved by {name} at {time}")).format(name=name, time=at)
            markup = None
            answer = say(N_("Resolved."))
        await self.api.answer_callback_query(cq_id, answer)
        msg = cq.get("message") or {}
        chat = str((msg.get("chat") or {}).get("id", row.address))
        message_id = msg.get("message_id") or (row.external_ref or {}).get("message_id")
        if message_id is not None:
            await self.api.edit_message_text(chat, int(message_id), f"{row.body}\n\n{note}", markup)

    async def on_approve(self, cq: dict[str, Any], cq_id: str, person: str, row: Any, lang: str) -> None:
        """The Approve button of a runbook's approval request: the message's approval link, used by the person
        this Telegram account is linked to (checked at use like the link: signed, unexpired, once per person).
        As for the other buttons, the answer only the pressing person sees is in their language (``lang``); the
        note added to the message, which the whole chat sees, in the language the bot speaks."""
        say = gettext_for(lang)
        token = approval_token_in(str(row.body))
        if token is None or self.svc.approve_runbook is None:
            await self.api.answer_callback_query(cq_id, say(N_("Unknown alert message.")))
            return
        if not self.svc.may_act(person, Recipient.parse(row.recipient)):
            await self.api.answer_callback_query(cq_id, say(N_("You may not act on this alert.")))
            return
        name = self.svc.notifier.people[person].name
        done = await self.svc.approve_runbook(token, via="telegram", person=person)
        renderer = self.svc.notifier.renderer
        if done.refused is not None:
            reason = render(done.refused, lang, renderer.zone)
            await self.api.answer_callback_query(cq_id, say(N_("This approval cannot be used: {reason}.")).format(
                reason=reason)[:190])
            return
        now = self.svc.clock()

        def approved(g: Callable[[str], str], in_lang: str) -> str:
            at = renderer.local_time(now, in_lang, date=False)
            if done.started:
                return g(N_("👍 Approved by {name} at {time}: runbook {id} runs now.")).format(
                    name=name, time=at, id=done.runbook)
            return g(N_("👍 Approved by {name} at {time}: {count} of {needed} approvals.")).format(
                name=name, time=at, count=done.count, needed=done.needed)

        note = approved(self._, self.lang)
        await self.api.answer_callback_query(cq_id, approved(say, lang)[:190])
        msg = cq.get("message") or {}
        chat = str((msg.get("chat") or {}).get("id", row.address))
        message_id = msg.get("message_id") or (row.external_ref or {}).get("message_id")
        if message_id is not None:
            text = str(msg.get("text") or row.body)
            keys = ack_keyboard if done.started else approve_keyboard  # once it runs, only ack and resolve are left
            markup = keys(int(row.id), self.lang)
            await self.api.edit_message_text(chat, int(message_id), f"{text}\n\n{note}", markup)
