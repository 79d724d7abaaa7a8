"""The sd_notify protocol, spoken by ``siaga serve`` itself (``Type=notify``, ``WatchdogSec=``).

systemd passes ``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace) and, with a
watchdog, ``$WATCHDOG_USEC`` (and ``$WATCHDOG_PID``). siaga sends one datagram per message:
``READY=1`` once it serves (the web server has bound its port), ``STATUS=...`` when a component
changes state, ``WATCHDOG=1`` every half watchdog period from a task on the event loop (so a loop that
hangs stops feeding, and systemd restarts siaga), ``RELOADING=1`` on SIGHUP and ``STOPPING=1`` when
it stops. Without ``$NOTIFY_SOCKET`` every call does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("siaga.runtime")


class SystemdNotifier:
    def __init__(self, address: str | None, *, watchdog_usec: int | None = None) -> None:
        self.address = address
        self.watchdog_usec = watchdog_usec
        self._sock: socket.socket | None = None
        self.sent = 0
        self.failed = 0

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET") or None
        usec: int | None = None
        with contextlib.suppress(ValueError):
            usec = int(env.get("WATCHDOG_USEC", "")) or None
        pid = env.get("WATCHDOG_PID")
        if pid and pid != str(os.getpid()):
            usec = None  # the watchdog is meant for another process (our parent, say)
        return cls(address, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between two WATCHDOG=1 (half the period systemd waits), or None without a watchdog."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2_000_000

    def _target(self) -> str | bytes:
        assert self.address is not None
        return "\0" + self.address[1:] if self.address.startswith("@") else self.address

    def send(self, *fields: str) -> bool:
        """Send ``fields`` (``"READY=1"``, ``"STATUS=..."``) as one datagram; False when it could not."""
        if self.address is None:
            return False
        message = "\n".join(f.replace("\n", " ") for f in fields).encode("utf-8")
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message, self._target())
        except OSError as exc:
            self.failed += 1
            if self.failed == 1 or self.failed % 1000 == 0:
                log.warning("cannot notify systemd", extra={"socket": self.address, "error": str(exc),
                                                            "failed": self.failed})
            return False
        self.sent += 1
        return True

    def ready(self, status: str) -> bool:
        return self.send("READY=1", f"STATUS={status}", f"MAINPID={os.getpid()}")

    def status(self, status: str) -> bool:
        return self.send(f"STATUS={status}")

    def reloading(self) -> bool:
        return self.send("RELOADING=1", "STATUS=reloading the config")

    def stopping(self) -> bool:
        return self.send("STOPPING=1", "STATUS=stopping")

    async def feed_watchdog(self, stop: asyncio.Event) -> None:
        """WATCHDOG=1 every half period until ``stop``: runs on the event loop, so a blocked loop starves it."""
        interval = self.watchdog_interval
        if interval is None:
            return
        while not stop.is_set():
            self.send("WATCHDOG=1")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
