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

    def warning(self, reason: str, detail: str) -> bool:
        """Log ``detail`` under ``reason`` unless it was logged within the window; True when logged."""
        now = self._monotonic()
        last = self._last.get(reason)
        if last is not None and now - last < self.window_s:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return False
        self._last[reason] = now
        more = self._suppressed.pop(reason, 0)
        tail = f" (and {more} more like it in the last {self.window_s:.0f} s)" if more else ""
        self.logger.warning("%s: %s%s", reason, detail, tail, extra={"reason": reason})
        return True
