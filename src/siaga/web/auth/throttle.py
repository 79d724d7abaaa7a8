"""Slow down repeated wrong passwords, per account and per client address (pure; the clock is passed in).

After ``free`` failures within ``window`` seconds, each further attempt for the same key must wait
``base * 2**(failures - free)`` seconds (at most ``max_delay``) after the last failure. A success clears
the account's key (not the address's: one right password must not unlock guessing at other accounts).

An attempt is counted *before* its password is checked (:meth:`LoginThrottle.begin`: look and count in
one step under a lock), so parallel requests cannot all pass the look before any of them is counted: a
burst of N wrong passwords gets at most ``free`` checks, the rest wait. A success takes its count back.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


class Throttle(Protocol):
    """What the login form needs of a throttle (this module's in-memory one, or the store's)."""

    def begin(self, keys: list[str], now: dt.datetime) -> float: ...

    def succeeded(self, keys: list[str], account: str) -> None: ...

    def retry_after(self, keys: Iterable[str], now: dt.datetime) -> float: ...


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
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def delay_after(self, failures: int) -> float:
        """The wait in seconds after the last of ``failures`` failures (0 while fewer than ``free``)."""
        if failures < self.free:
            return 0.0
        return float(min(self.max_delay, self.base * 2 ** min(failures - self.free, 64)))

    def delay(self, key: str) -> float:
        """The wait in seconds that ``key`` has earned (0 when it may try at once)."""
        rec = self._records.get(key)
        return self.delay_after(rec.failures if rec else 0)

    def retry_after(self, keys: Iterable[str], now: dt.datetime) -> float:
        """Seconds the caller must still wait before trying any of ``keys`` (0: go ahead); counts nothing."""
        with self._lock:
            return self._wait(keys, now)

    def begin(self, keys: list[str], now: dt.datetime) -> float:
        """One login attempt: the seconds still to wait (nothing counted), or 0 and the attempt counted
        as a failure against every key until :meth:`succeeded` takes it back. Look and count are one step."""
        with self._lock:
            wait = self._wait(keys, now)
            if wait > 0:
                return wait
            if len(self._records) >= self.max_keys:
                self._forget_old(now)
            for key in keys:
                rec = self._records.setdefault(key, _Record())
                if rec.last is not None and (now - rec.last).total_seconds() > self.window:
                    rec.failures = 0
                rec.failures += 1
                rec.last = now
            return 0.0

    def succeeded(self, keys: list[str], account: str) -> None:
        """The attempt begun for ``keys`` was right: clear ``account``, take the count back from the others."""
        with self._lock:
            self._records.pop(account, None)
            for key in keys:
                rec = self._records.get(key)
                if key == account or rec is None:
                    continue
                rec.failures -= 1
                if rec.failures <= 0:
                    del self._records[key]

    def _wait(self, keys: Iterable[str], now: dt.datetime) -> float:
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
