"""Checks shared across several ``siaga serve`` on one PostgreSQL: each process runs the services of its
slots of the shard map; when one is killed, the others run its checks within one check interval; a
service that was down when its slot moved is not paged again, and every change is written once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siaga.checks.tables import check_changes, check_states
from siaga.cluster.status import cluster_status
from siaga.store.types import utcnow

from .cluster import LEASE_S, Cluster, Listener, Pages, cluster, tcp_checks, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

UP, DOWN, INTERVAL_S = 3000, 12, 10.0


def shares(c: Cluster) -> dict[str, int]:
    with c.db.connect() as conn:
        status = cluster_status(conn, utcnow(), lease_s=LEASE_S, shared=True)
    return dict(status["shards"].get("checks", {}).get("by_session", {}))


def checked_since(c: Cluster, since: object) -> int:
    with c.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(check_states)
                                .where(check_states.c.last_at > since)).scalar_one())


def until(what: Callable[[], bool], timeout: float = 90.0) -> None:
    """Poll gently (the cluster is busy enough): every half second."""
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what.__doc__}"
        time.sleep(0.5)


def missing(c: Cluster, since: dt.datetime, total: int) -> list[str]:
    with c.db.connect() as conn:
        seen = {r.check_id for r in conn.execute(select(check_states.c.check_id).where(check_states.c.last_at > since))}
    return sorted({f"s{i}-tcp" for i in range(total)} - seen)


def test_checks_are_shared_and_a_killed_process_share_runs_elsewhere_within_one_interval(
        tmp_path: Path, postgres_url: str, pages: Pages) -> None:
    listener = Listener()
    closed = Listener()
    closed.close()  # a port where nothing listens: the DOWN services fail at once
    total = UP + DOWN
    try:
        with cluster(tmp_path, postgres_url, pages, 3,
                     extra=tcp_checks(listener.port, UP, closed.port, DOWN, INTERVAL_S), up_timeout=180) as c:
            until(lambda: sorted(shares(c).values()) == [21, 21, 22])  # 64 slots, three even shares
            long_ago = utcnow() - dt.timedelta(hours=1)
            until(lambda: checked_since(c, long_ago) == total)
            until(lambda: len(pages.got) >= DOWN)
            # kill -9 of a process that does not send pages: its share is run by the two others
            notify_pid = wait_for(c.holder)[0]
            victim = next(p for p in c.processes if p.proc.pid != notify_pid)
            time.sleep(2.5)  # its last states are written (every 2 s), as in a steady run
            killed = utcnow()
            os.kill(victim.proc.pid, signal.SIGKILL)
            victim.proc.wait()
            until(lambda: sorted(shares(c).values()) == [32, 32])
            taken_up_s = (utcnow() - killed).total_seconds()
            try:
                until(lambda: checked_since(c, killed) == total)
            except AssertionError:
                raise AssertionError(f"not run since the kill: {missing(c, killed, total)[:20]}") from None
            rebalanced_s = (utcnow() - killed).total_seconds()
            # the dead process leaves the member list after 3 leases; its checks run one interval after their
            # last run, or at once when that is past (not spread over a catch-up window again), and every
            # result is written within 2 s
            assert rebalanced_s < 2 * INTERVAL_S, (rebalanced_s, taken_up_s)
            time.sleep(2 * LEASE_S)
            with c.db.connect() as conn:
                per_check = Counter(r.check_id for r in conn.execute(select(check_changes.c.check_id)))
    finally:
        listener.close()
    # every service down paged once, though slots moved as processes joined and one died
    alerts = Counter(str(body.get("siaga_alerts")) for _, _, body in pages.got)
    assert len(alerts) == DOWN and set(alerts.values()) == {1}, alerts
    # each check changed state once (unknown -> up or down), written by one process only
    assert len(per_check) == total and set(per_check.values()) == {1}, Counter(per_check.values())
