"""A process paused (SIGSTOP) past its lease while it runs its share of the checks: the other takes its slots
and writes and pages what changed meanwhile; the paused process, woken (SIGCONT), writes nothing over it (its
results not yet written when it stopped, its checks run late) and pages nothing. Twice: the services go down
while it is paused, then up again while it is paused once more."""

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

from .cluster import LEASE_S, Cluster, Listener, Pages, Process, cluster, tcp_checks, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SERVICES, INTERVAL_S = 60, 1.0  # under the storm limit (100 pages a minute): each page its own


def shares(c: Cluster) -> list[int]:
    with c.db.connect() as conn:
        status = cluster_status(conn, utcnow(), lease_s=LEASE_S, shared=True)
    return sorted(status["shards"].get("checks", {}).get("by_session", {}).values())


def states(c: Cluster) -> Counter[str]:
    with c.db.connect() as conn:
        return Counter(str(r.status) for r in conn.execute(select(check_states.c.status)))


def checked_since(c: Cluster, since: dt.datetime) -> int:
    with c.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(check_states)
                                .where(check_states.c.last_at > since)).scalar_one())


def paused_while(c: Cluster, paused: Process, change: Callable[[], object], now: str) -> None:
    """Pause ``paused`` until the other holds every slot, ``change()`` the services meanwhile, wait for the other
    to write every state ``now``; wake it, and for three seconds (its write every second, its late checks) see
    no state change back."""
    def taken_over() -> bool:
        """the other process holds every slot of the checks"""
        return shares(c) == [64]

    def written() -> bool:
        """every check's state, as the other process wrote it, is the new one"""
        return states(c) == Counter({now: SERVICES})

    os.kill(paused.proc.pid, signal.SIGSTOP)
    wait_for(taken_over, timeout=60)
    change()
    wait_for(written, timeout=60)
    os.kill(paused.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        assert states(c) == Counter({now: SERVICES}), "the woken process wrote over the new holder"
        time.sleep(0.1)


def test_a_paused_holder_of_checks_woken_after_its_slots_moved_writes_and_pages_nothing(
        tmp_path: Path, postgres_url: str, pages: Pages) -> None:
    listener = Listener()
    port = listener.port
    try:
        with cluster(tmp_path, postgres_url, pages, 2, extra=tcp_checks(port, SERVICES, interval_s=INTERVAL_S),
                     up_timeout=120) as c:
            wait_for(lambda: shares(c) == [32, 32], timeout=60)
            long_ago = utcnow() - dt.timedelta(hours=1)
            wait_for(lambda: checked_since(c, long_ago) == SERVICES, timeout=60)
            # the process that does not send the pages stops mid-stream: results of its last second unwritten
            notify_pid = wait_for(c.holder)[0]
            paused = next(p for p in c.processes if p.proc.pid != notify_pid)
            paused_while(c, paused, listener.close, "down")  # every service goes down meanwhile
            wait_for(lambda: len(pages.got) >= SERVICES, timeout=30)
            # it rejoins and takes its share back (from the store: down), then stops again; they come up
            wait_for(lambda: shares(c) == [32, 32], timeout=60)
            time.sleep(2 * INTERVAL_S)  # its checks of them run (down) and are written
            opened: list[Listener] = []
            paused_while(c, paused, lambda: opened.append(Listener(port=port)), "up")
            time.sleep(3 * LEASE_S)  # the woken process has rejoined and may have taken slots back
            assert paused.proc.poll() is None, paused.log_tail(2000)
            with c.db.connect() as conn:
                per_check = Counter(r.check_id for r in conn.execute(select(check_changes.c.check_id)))
            for lst in opened:
                lst.close()
    finally:
        listener.close()
    # each check changed three times (unknown -> up, up -> down, down -> up), each change written once
    assert len(per_check) == SERVICES and set(per_check.values()) == {3}, Counter(per_check.values())
    # each service paged once down and once up: nothing from the woken process
    sent = Counter((str(body.get("siaga_alerts")), str(body.get("siaga_kind"))) for _, _, body in pages.got)
    assert len({a for a, _ in sent}) == SERVICES and set(sent.values()) == {1}, sent.most_common(3)
