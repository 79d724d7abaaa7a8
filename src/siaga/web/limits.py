"""Bounds on what a request may carry before any route parses it: JSON nesting (see ``siaga.jsonsafe``).

:class:`JsonDepthLimit` is a plain ASGI middleware: for a request that says its body is JSON it reads the
body (up to ``max_body`` bytes; a longer one goes on unchecked, for the route's own size limit to refuse),
measures the nesting without recursing, answers 422 in the one error shape when it is deeper than
``max_depth``, and otherwise hands the same body on to the app.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siaga.jsonsafe import MAX_DEPTH, TooDeep, check_depth
from siaga.web.errors import error_body

MAX_CHECKED_BODY = 1024 * 1024  # the HTTP push default; our JSON routes take far less (notes, windows)


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


class JsonDepthLimit:
    def __init__(self, app: ASGIApp, max_depth: int = MAX_DEPTH, max_body: int = MAX_CHECKED_BODY) -> None:
        self.app = app
        self.max_depth = max_depth
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS") or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        size = 0
        while True:
            message = await receive()
            held.append(message)
            if message["type"] != "http.request":
                break  # the client went away: let the app see it
            size += len(message.get("body", b""))
            if not message.get("more_body", False) or size > self.max_body:
                break
        complete = held[-1]["type"] == "http.request" and not held[-1].get("more_body", False)
        if complete:
            body = b"".join(m.get("body", b"") for m in held)
            try:
                check_depth(body, self.max_depth)
            except TooDeep as exc:
                await _answer(send, 422, "validation_failed", f"the body is not accepted: {exc}")
                return
            held = [{"type": "http.request", "body": body, "more_body": False}]

        async def replay() -> Message:
            return held.pop(0) if held else await receive()

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, code: str, message: str) -> None:
    payload = json.dumps(error_body(status, message, code=code)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]})
    await send({"type": "http.response.body", "body": payload})
