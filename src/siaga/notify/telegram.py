"""A small client of the Telegram Bot API (the methods siaga uses), against a configurable base URL."""

from __future__ import annotations

from typing import Any

import httpx

from siaga.errors import SiagaError
from siaga.notify.texts import N_, gettext_for


class BotApiError(SiagaError):
    """The Bot API refused or could not be reached; ``retryable`` says whether trying again can help."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)


def ack_keyboard(message_id: int, lang: str) -> dict[str, Any]:
    """Inline buttons under an alert: Acknowledge and Resolve (callback data names the siaga message)."""
    g = gettext_for(lang)
    return {
        "inline_keyboard": [[
            {"text": "✅ " + g(N_("Acknowledge")), "callback_data": f"ack:{message_id}"},
            {"text": "✔️ " + g(N_("Resolve")), "callback_data": f"res:{message_id}"},
        ]]
    }


def approve_keyboard(message_id: int, lang: str) -> dict[str, Any]:
    """Inline buttons under a runbook's approval request: Approve, then Acknowledge and Resolve. The button
    stands for the message's approval link and is checked at use like it (``siaga.runbooks.component.approve``)."""
    g = gettext_for(lang)
    return {"inline_keyboard": [[{"text": "👍 " + g(N_("Approve")), "callback_data": f"apr:{message_id}"}],
                                *ack_keyboard(message_id, lang)["inline_keyboard"]]}


class BotApi:
    """``POST {base}/bot{token}/{method}`` with a JSON body; ``result`` of the answer or BotApiError."""

    def __init__(self, base_url: str, token: str, http: httpx.AsyncClient) -> None:
        self.base = base_url.rstrip("/")
        self.token = token
        self.http = http

    async def call(self, method: str, http_timeout: float | None = None, **params: Any) -> Any:
        url = f"{self.base}/bot{self.token}/{method}"
        body = {k: v for k, v in params.items() if v is not None}
        try:
            if http_timeout is not None:
                resp = await self.http.post(url, json=body, timeout=http_timeout)
            else:
                resp = await self.http.post(url, json=body)
        except httpx.TimeoutException:
            raise BotApiError(f"Telegram {method}: no answer in time", retryable=True) from None
        except httpx.HTTPError as exc:
            raise BotApiError(
                f"Telegram {method}: {type(exc).__name__}: cannot reach {self.base}", retryable=True
            ) from None
        try:
            data = resp.json()
        except ValueError:
            raise BotApiError(
                f"Telegram {method}: HTTP {resp.status_code}, not JSON", retryable=resp.status_code >= 500
            ) from None
        if not isinstance(data, dict) or not data.get("ok"):
            code = int(data.get("error_code", resp.status_code)) if isinstance(data, dict) else resp.status_code
            desc = data.get("description", "") if isinstance(data, dict) else ""
            raise BotApiError(f"Telegram {method}: {code} {desc}".strip(), retryable=code >= 500 or code == 429)
        return data.get("result")

    async def send_message(self, chat_id: str, text: str, markup: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.call("sendMessage", chat_id=chat_id, text=text, reply_markup=markup,
                                 disable_web_page_preview=True)
        return result if isinstance(result, dict) else {}

    async def edit_message_text(self, chat_id: str, message_id: int, text: str,
                                markup: dict[str, Any] | None = None) -> None:
        await self.call("editMessageText", chat_id=chat_id, message_id=message_id, text=text, reply_markup=markup,
                        disable_web_page_preview=True)

    async def answer_callback_query(self, callback_query_id: str, text: str) -> None:
        await self.call("answerCallbackQuery", callback_query_id=callback_query_id, text=text)

    async def get_updates(self, offset: int | None, wait_s: int) -> list[dict[str, Any]]:
        """Long poll: the Bot API answers at once when updates wait, else after ``wait_s`` seconds."""
        result = await self.call("getUpdates", http_timeout=wait_s + 10, offset=offset, timeout=wait_s,
                                 allowed_updates=["message", "callback_query"])
        return [u for u in result if isinstance(u, dict)] if isinstance(result, list) else []
