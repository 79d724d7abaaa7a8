"""The login throttle in the store: two siaga processes on one database share the counts, and a burst of
parallel attempts spread over both still gets the free number of password checks (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import Engine, func, select

from siaga.store import create_engine_for
from siaga.web.auth.attempts import StoreThrottle
from siaga.web.auth.tables import web_login_attempts
from siaga.web.auth.throttle import LoginThrottle, account_key, address_key

NOW = dt.datetime(2026, 7, 16, 1, 0, tzinfo=dt.UTC)
KEYS = [account_key("admin"), address_key("203.0.113.9")]


def test_a_burst_over_two_processes_gets_the_free_checks_once(db_engine: Engine) -> None:
    other = create_engine_for(db_engine.url.render_as_string(hide_password=False))  # a second process's engine
    try:
        throttles = [StoreThrottle(lambda: db_engine, LoginThrottle(free=3)),
                     StoreThrottle(lambda: other, LoginThrottle(free=3))]
        waits: list[float] = []
        start = threading.Barrier(16)

        def attempt(i: int) -> None:
            start.wait()
            waits.append(throttles[i % 2].begin(KEYS, NOW))

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(waits) == 16 and waits.count(0.0) == 3, waits
        assert all(w > 0 for w in waits if w)
        # The other process sees the same count: the address waits there too, and a right password still
        # waits its turn.
        assert throttles[1].retry_after([address_key("203.0.113.9")], NOW) > 0
        assert throttles[1].begin([account_key("opera"), address_key("203.0.113.9")], NOW) > 0
    finally:
        other.dispose()


def test_waits_double_then_a_success_clears_the_account_and_gives_back_the_address(db_engine: Engine) -> None:
    t = StoreThrottle(lambda: db_engine, LoginThrottle(free=3, base=1.0, max_delay=8.0))
    for i in range(3):
        assert t.begin(KEYS, NOW + dt.timedelta(seconds=i)) == 0
    assert t.begin(KEYS, NOW + dt.timedelta(seconds=2)) == 1.0  # refused: not counted
    assert t.begin(KEYS, NOW + dt.timedelta(seconds=3)) == 0  # the 4th: the wait doubles
    assert t.retry_after(KEYS, NOW + dt.timedelta(seconds=3)) == 2.0
    assert t.begin(KEYS, NOW + dt.timedelta(seconds=5)) == 0  # right this time
    t.succeeded(KEYS, account_key("admin"))
    assert t.retry_after([account_key("admin")], NOW + dt.timedelta(seconds=5)) == 0
    with db_engine.connect() as conn:
        left = conn.execute(select(web_login_attempts.c.failures)
                            .where(web_login_attempts.c.key == address_key("203.0.113.9"))).scalar_one()
    assert left == 4  # five attempts, one of them right
    assert t.retry_after(KEYS, NOW + dt.timedelta(hours=2)) == 0  # the window passed
    assert t.begin(KEYS, NOW + dt.timedelta(hours=2)) == 0
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(web_login_attempts)).scalar_one() == 2
