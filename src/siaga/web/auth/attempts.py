"""The login throttle on the store: one count per account and per address for every siaga process.

Several ``siaga serve`` processes on one PostgreSQL (or a restart) must not each grant their own free
guesses. :class:`StoreThrottle` keeps the counters of :class:`~siaga.web.auth.throttle.LoginThrottle`'s
policy in ``web_login_attempts`` and looks and counts in one transaction that holds the keys' rows:
``SELECT ... FOR UPDATE`` in key order on PostgreSQL, SQLite's one writer (the transaction writes first).
So a burst of parallel wrong passwords, spread over processes or not, gets ``free`` checks.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection, Engine, case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from siaga.web.auth.tables import web_login_attempts as attempts
from siaga.web.auth.throttle import LoginThrottle

CLEANUP_EVERY = 200  # attempts between sweeps of counters older than the window


class StoreThrottle:
    """``begin``/``succeeded``/``retry_after`` as :class:`LoginThrottle`, counted in the store (blocking I/O:
    call it from a worker thread)."""

    def __init__(self, engine_of: Callable[[], Engine], policy: LoginThrottle | None = None) -> None:
        self.engine_of = engine_of
        self.policy = policy or LoginThrottle()
        self._lock = threading.Lock()  # in one process, one attempt at a time reaches the store
        self._begun = 0

    def begin(self, keys: list[str], now: dt.datetime) -> float:
        """The seconds still to wait (nothing counted), or 0 and the attempt counted against every key."""
        t = now.timestamp()
        ordered = sorted(set(keys))
        with self._lock, self.engine_of().begin() as conn:
            for key in ordered:  # a row per key, so that there is something to hold
                conn.execute(_insert_missing(conn).values(key=key, failures=0, last_s=t, allowed_s=t)
                             .on_conflict_do_nothing(index_elements=["key"]))
            rows = [conn.execute(select(attempts).where(attempts.c.key == key).with_for_update()).one()
                    for key in ordered]  # held in key order (no deadlock between two attempts)
            counted = [0 if t - r.last_s > self.policy.window else r.failures for r in rows]
            wait = max((r.allowed_s - t for r, n in zip(rows, counted, strict=True) if n >= self.policy.free),
                       default=0.0)
            if wait > 0:
                return wait
            for key, n in zip(ordered, counted, strict=True):
                conn.execute(update(attempts).where(attempts.c.key == key).values(
                    failures=n + 1, last_s=t, allowed_s=t + self.policy.delay_after(n + 1)))
            self._begun += 1
            if self._begun % CLEANUP_EVERY == 0:
                conn.execute(delete(attempts).where(attempts.c.last_s < t - self.policy.window))
            return 0.0

    def succeeded(self, keys: list[str], account: str) -> None:
        """The attempt was right: clear ``account``, take the attempt back from the other keys."""
        with self._lock, self.engine_of().begin() as conn:
            conn.execute(delete(attempts).where(attempts.c.key == account))
            others = sorted(k for k in set(keys) if k != account)
            if others:
                conn.execute(update(attempts).where(attempts.c.key.in_(others)).values(
                    failures=case((attempts.c.failures > 0, attempts.c.failures - 1), else_=0)))

    def retry_after(self, keys: Iterable[str], now: dt.datetime) -> float:
        """Seconds before any of ``keys`` may try again (0: go ahead); counts nothing."""
        t = now.timestamp()
        with self.engine_of().connect() as conn:
            rows = conn.execute(select(attempts).where(attempts.c.key.in_(list(keys)))).all()
        return max([0.0, *(float(r.allowed_s) - t for r in rows
                           if t - r.last_s <= self.policy.window and r.failures >= self.policy.free)])


def _insert_missing(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(attempts)
