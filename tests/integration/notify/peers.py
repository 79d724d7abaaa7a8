"""Real peers on loopback for the notify tests: an HTTP receiver (webhooks, a WhatsApp gateway, the
Telegram Bot API stand-in) in a thread, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


@dataclass
class Receiver:
    """An HTTP server that records what it gets; ``mode``: ok, fail (HTTP 500) or slow (``delay`` s)."""

    port: int = field(default_factory=free_port)
    mode: str = "ok"
    delay: float = 0.0
    requests: list[Request] = field(default_factory=list)
    # Telegram Bot API stand-in
    updates: list[dict[str, Any]] = field(default_factory=list)
    tg_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    tg_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.cond = threading.Condition()
        self.server: ThreadingHTTPServer | None = None
        self._next_update = 1
        self._next_msg = 100

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode("utf-8", "replace")
                ctype = self.headers.get("Content-Type", "")
                if "json" in ctype:
                    body = json.loads(raw or "{}")
                else:
                    body = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
                if "/bot" in self.path:
                    owner._telegram(self, body)
                    return
                if owner.mode == "slow":
                    time.sleep(owner.delay)
                with owner.cond:
                    owner.requests.append(Request(self.path, dict(self.headers), body, time.monotonic()))
                    owner.cond.notify_all()
                code = 500 if owner.mode == "fail" else 200
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if code == 200 else b'{"error": "boom"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def wait_for(self, n: int, timeout: float = 10.0) -> list[Request]:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n and time.monotonic() < end:
                self.cond.wait(0.05)
            return list(self.requests)

    # -- Telegram Bot API stand-in --------------------------------------------------------------------
    def push_update(self, update: dict[str, Any]) -> None:
        with self.cond:
            update = {"update_id": self._next_update, **update}
            self._next_update += 1
            self.updates.append(update)
            self.cond.notify_all()

    def wait_tg(self, method: str, n: int = 1, timeout: float = 10.0) -> list[dict[str, Any]]:
        end = time.monotonic() + timeout
        with self.cond:
            while sum(1 for m, _ in self.tg_calls if m == method) < n and time.monotonic() < end:
                self.cond.wait(0.05)
            return [b for m, b in self.tg_calls if m == method]

    def _telegram(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        method = handler.path.rsplit("/", 1)[-1]
        result: Any = True
        if method == "getUpdates":
            offset = int(body.get("offset") or 0)
            end = time.monotonic() + min(float(body.get("timeout") or 0), 1.0)
            with self.cond:
                while not [u for u in self.updates if u["update_id"] >= offset] and time.monotonic() < end:
                    self.cond.wait(0.05)
                result = [u for u in self.updates if u["update_id"] >= offset]
        else:
            with self.cond:
                self.tg_calls.append((method, body))
                if method == "sendMessage":
                    self._next_msg += 1
                    result = {"message_id": self._next_msg, "chat": {"id": body.get("chat_id")},
                              "text": body.get("text")}
                    self.tg_messages[self._next_msg] = dict(body)
                elif method == "editMessageText":
                    self.tg_messages[int(body["message_id"])].update(body)
                self.cond.notify_all()
        ok = self.mode != "fail"
        payload = ({"ok": True, "result": result} if ok
                   else {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        data = json.dumps(payload).encode()
        handler.send_response(200 if ok else 502)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class Mailbox:
    """A real SMTP server (aiosmtpd) on loopback keeping what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[tuple[str, list[str], str]] = []
        self.cond = threading.Condition()
        owner = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                with owner.cond:
                    owner.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                           envelope.content.decode("utf-8", "replace")))
                    owner.cond.notify_all()
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 10.0) -> list[tuple[str, list[str], str]]:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.messages) < n and time.monotonic() < end:
                self.cond.wait(0.05)
            return list(self.messages)
