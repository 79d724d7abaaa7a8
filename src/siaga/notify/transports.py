"""Sending one message on one channel: apprise for most, siaga's own Bot API client for Telegram.

One method to implement (``send``) and one error type that says whether trying again can help;
the worker owns retries, backoff and fallback. Apprise's ``notify`` blocks, so it runs in a thread of the
transports' own pool (not the event loop's default executor, where every store call of the process waits its
turn: a page must not queue behind the readings' and the checks' writes).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import apprise
import httpx

from siaga.config.models import SiteConfig
from siaga.config.notify import EmailChannel, TelegramChannel
from siaga.errors import SiagaError
from siaga.i18n import _
from siaga.notify.engine import AttemptResult, OutMessage
from siaga.notify.model import Kind
from siaga.notify.telegram import BotApi, BotApiError, ack_keyboard, approve_keyboard
from siaga.notify.urls import ChannelError, apprise_url, secret
from siaga.runbooks.approval import approval_token_in

log = logging.getLogger("siaga.notify")


class DeliveryError(SiagaError):
    """Sending failed; ``retryable`` says whether trying again later may help (yes unless said)."""

    retryable = True


def _apprise_send(url: str, title: str, body: str) -> None:
    obj = apprise.Apprise()
    if not obj.add(url):
        raise DeliveryError("apprise cannot use this channel's URL (check the channel's settings)", retryable=False)
    with apprise.LogCapture(level=logging.WARNING) as logs:  # type: ignore[no-untyped-call]
        ok = obj.notify(body=body, title=title)
    if not ok:
        lines = [ln.split(" - ", 2)[-1] for ln in logs.getvalue().strip().splitlines() if ln.strip()]
        raise DeliveryError(lines[-1] if lines else "apprise reported a failure")


class Transports:
    """Sends messages for one site config; ``environ`` and ``http`` can be passed in by tests."""

    delivers = True  # False: a stand-in that records attempts as not sent (siaga demo)

    def __init__(
        self,
        config: SiteConfig,
        base_dir: Path | None,
        environ: Mapping[str, str] | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config
        self.base_dir = base_dir
        self.environ = environ
        self.timeout = config.notification.delivery.timeout.total_seconds()
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(self.timeout))
        self._bots: dict[str, BotApi] = {}
        self._pool = ThreadPoolExecutor(max_workers=config.notification.delivery.concurrency,
                                        thread_name_prefix="siaga-send")  # threads started as sends need them

    def warm_up(self) -> None:
        """Load apprise's plugins now (~150-250 ms, once per process) rather than on the first page."""
        apprise.NotificationManager().load_modules()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        await self.http.aclose()

    def bot(self, channel: str) -> BotApi:
        """The Bot API client of a telegram channel."""
        if channel not in self._bots:
            spec = self.config.notification.channels[channel]
            if not isinstance(spec, TelegramChannel):
                raise DeliveryError(f"channel {channel} is not a telegram channel", retryable=False)
            try:
                token = secret(spec, "bot_token", self.base_dir, self.environ)
            except ChannelError as exc:
                raise DeliveryError(str(exc), retryable=False) from None
            if not token:
                raise DeliveryError("the bot token is empty", retryable=False)
            self._bots[channel] = BotApi(spec.api_base_url, token, self.http)
        return self._bots[channel]

    async def send(self, msg: OutMessage) -> dict[str, Any] | None:
        """Deliver ``msg``; return what identifies it at the other end (Telegram ids), or None."""
        spec = self.config.notification.channels.get(msg.channel)
        if spec is None:
            raise DeliveryError(f"no channel {msg.channel!r} in the config", retryable=False)
        if isinstance(spec, TelegramChannel):
            lang = self.config.site.language.value
            markup = None
            if spec.buttons and not msg.kind.is_notice and msg.kind is not Kind.test:
                markup = (approve_keyboard(msg.id, lang) if approval_token_in(msg.body) is not None
                          else ack_keyboard(msg.id, lang))
            try:
                sent = await self.bot(msg.channel).send_message(msg.address, msg.body, markup)
            except BotApiError as exc:
                raise DeliveryError(str(exc), retryable=exc.retryable) from None
            return {"chat_id": msg.address, "message_id": sent.get("message_id")}
        body = msg.body_full if isinstance(spec, EmailChannel) else msg.body
        extra = {"siaga_message": str(msg.id), "siaga_kind": msg.kind.value, "siaga_recipient": msg.recipient.key,
                 "siaga_alerts": ",".join(str(a) for a in msg.alert_ids)}
        try:
            url = apprise_url(spec, msg.address, self.base_dir, self.environ, extra=extra if spec.type == "webhook"
                              else None)
        except ChannelError as exc:
            raise DeliveryError(str(exc), retryable=False) from None
        seconds = max(1, int(self.timeout))
        url += ("&" if "?" in url else "?") + f"cto={seconds}&rto={seconds}"
        try:
            sending = asyncio.get_running_loop().run_in_executor(self._pool, _apprise_send, url, msg.title, body)
            await asyncio.wait_for(sending, self.timeout + 2)
        except TimeoutError:
            raise DeliveryError(f"no answer within {self.timeout:g} s") from None
        return None

    async def attempt(self, msg: OutMessage) -> AttemptResult:
        """One try, measured: never raises."""
        start = time.perf_counter()
        try:
            ref = await self.send(msg)
        except DeliveryError as exc:
            return AttemptResult(False, int((time.perf_counter() - start) * 1000), str(exc), exc.retryable)
        except Exception as exc:  # a bug or an unexpected library error: record it, retry later
            return AttemptResult(False, int((time.perf_counter() - start) * 1000), f"{type(exc).__name__}: {exc}")
        return AttemptResult(True, int((time.perf_counter() - start) * 1000), external_ref=ref, demo=not self.delivers)


class DemoTransports(Transports):
    """``siaga demo``: nothing leaves the machine; each message is logged as it would have gone out and
    recorded as not sent (outcome ``demo``)."""

    delivers = False

    async def send(self, msg: OutMessage) -> dict[str, Any] | None:
        spec = self.config.notification.channels.get(msg.channel)
        if spec is None:
            raise DeliveryError(f"no channel {msg.channel!r} in the config", retryable=False)
        log.info("%s", _("demo: would send on {channel} to {address} ({recipient}): {title}").format(
            channel=msg.channel, address=msg.address or "-", recipient=msg.recipient.key, title=msg.title))
        return None
