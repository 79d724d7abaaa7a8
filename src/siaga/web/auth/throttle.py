"""Slow down repeated wrong passwords, per account and per client address (pure; the clock is passed in).

After ``free`` failures within ``window`` seconds, each further attempt for the same key must wait
``base * 2**(failures - free)`` seconds (at most ``max_delay``) after the last failure. A success clears
the account's key (not the address's: one right password must not unlock guessing at other accounts).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class _Record:
    failures: int = 0
    last: dt.datetime | None = None


@dataclass
class LoginThrottle:
    free: int = 3
    base: float = 1.0
    max_delay: float = 300.0
    window: float = 3600.0
    max_keys: int = 100_000
    _records: dict[str, _Record] = field(default_factory=dict)

    def delay(self, key: str) -> float:
        """The wait in seconds that ``key`` has earned (0 when it may try at once)."""
        rec = self._records.get(key)
        if rec is None or rec.failures < self.free:
            return 0.0
        return float(min(self.max_delay, self.base * 2 ** (rec.failures - self.free)))

    def retry_after(self, keys: list[str], now: dt.datetime) -> float:
        """Seconds the caller must still wait before trying any of ``keys`` (0: go ahead)."""
        wait = 0.0
        for key in keys:
            rec = self._records.get(key)
            if rec is None or rec.last is None:
                continue
            if (now - rec.last).total_seconds() > self.window:
                del self._records[key]
                continue
            earned = self.delay(key)
            if earned <= 0:
                continue
            remaining = earned - max(0.0, (now - rec.last).total_seconds())
            wait = max(wait, remaining)
        return max(0.0, wait)

    def failed(self, keys: list[str], now: dt.datetime) -> None:
        """Count one wrong password against every key."""
        if len(self._records) >= self.max_keys:
            self._forget_old(now)
        for key in keys:
            rec = self._records.setdefault(key, _Record())
            if rec.last is not None and (now - rec.last).total_seconds() > self.window:
                rec.failures = 0
            rec.failures += 1
            rec.last = now

    def succeeded(self, key: str) -> None:
        self._records.pop(key, None)

    def _forget_old(self, now: dt.datetime) -> None:
        for key in [k for k, r in self._records.items() if r.last and (now - r.last).total_seconds() > self.window]:
            del self._records[key]
        if len(self._records) >= self.max_keys:  # still full: drop the oldest half
            ordered = sorted(self._records.items(), key=lambda kv: kv[1].last or now)
            for key, _ in ordered[: len(ordered) // 2]:
                del self._records[key]


def account_key(name: str) -> str:
    return f"account:{name.strip().lower()}"


def address_key(address: str | None) -> str:
    return f"address:{address or 'unknown'}"
