"""A log that says a recurring problem once per window, with how often it happened meanwhile.

A misbehaving device can send thousands of malformed payloads a second; the counts go to the ingest
path's rejection counters, and the log gets one line per reason per window.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, window_s: float = 60.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.window_s = window_s
        self._monotonic = monotonic
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def warning(self, key: str, detail: str, *, reason: str | None = None) -> bool:
        """Log ``detail`` under ``key`` unless that key was logged within the window; True when logged.

        The line reads ``key: detail``, or just ``detail`` when a separate ``reason`` (the log field) is given.
        """
        now = self._monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self.window_s:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        more = self._suppressed.pop(key, 0)
        tail = f" (and {more} more like it in the last {self.window_s:.0f} s)" if more else ""
        if reason is None:
            self.logger.warning("%s: %s%s", key, detail, tail, extra={"reason": key})
        else:
            self.logger.warning("%s%s", detail, tail, extra={"reason": reason})
        return True
