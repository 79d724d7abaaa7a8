"""Several ``siaga serve`` on one PostgreSQL: a leak pages once, whichever process hears it and however many
run; the notify role moves to a live process when its holder is killed, and a paused holder that wakes
sends nothing (fencing)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .cluster import LEASE_S, Cluster, Pages, cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

SETTLE_S = 3 * LEASE_S
"""After the page, long enough for a second sender (if there were one) to have sent it too."""


def paged_once_each(pages: Pages, expected: int) -> list[str]:
    wait_for(lambda: len(pages.got) >= expected)
    time.sleep(SETTLE_S)
    alerts = [str(body.get("siaga_alerts")) for _, _, body in pages.got]
    assert len(alerts) == expected, alerts
    assert len(set(alerts)) == expected, alerts  # every alert paged once
    return alerts


def new_holder(c: Cluster, old_pid: int, old_token: int) -> tuple[int, int]:
    pid, token = wait_for(lambda: (h := c.holder()) is not None and h[0] != old_pid and h)
    assert token > old_token  # the fencing token grows at every takeover
    return pid, token


def test_a_leak_pages_once_with_one_two_and_three_processes(tmp_path: Path, postgres_url: str,
                                                            pages: Pages) -> None:
    with cluster(tmp_path, postgres_url, pages, 1) as c:
        c.processes[0].push("leak-0", 1)
        paged_once_each(pages, 1)
        for n in (2, 3):
            wait_for(c.start().up)
            pid, _ = wait_for(c.holder)
            # heard by a process that does not send: it stores the alert, the holder pages it
            c.others(pid)[-1].push(f"leak-{n - 1}", 1)
            paged_once_each(pages, n)
        keys = [key for _, key, _ in pages.got]
        assert all(k is not None and k.startswith("siaga-message-") for k in keys), keys
        # siaga cluster status: three processes alive, "notify" held by the one the lease row names
        out = subprocess.run([sys.executable, "-m", "siaga", "cluster", "status", "--json", "--config", str(c.config)],
                             capture_output=True, text=True, env=c.env, timeout=60, check=True)
        status = json.loads(out.stdout)
        assert sorted(p["pid"] for p in status["processes"]) == sorted(p.proc.pid for p in c.processes)
        notify = next(r for r in status["roles"] if r["role"] == "notify")
        assert notify["held"] and notify["token"] >= 1
        holders = [p for p in status["processes"] if "notify" in p["roles"]]
        assert len(holders) == 1


def test_the_role_moves_on_kill_and_a_paused_holder_that_wakes_sends_nothing(
        tmp_path: Path, postgres_url: str, pages: Pages) -> None:
    with cluster(tmp_path, postgres_url, pages, 3) as c:
        # kill -9 of the holder: a live process takes "notify"; pages before and after, each once
        pid, token = wait_for(c.holder)
        c.others(pid)[0].push("leak-0", 1)
        wait_for(lambda: pages.got)
        os.kill(pid, signal.SIGKILL)
        c.process_of(pid).proc.wait()
        pid, token = new_holder(c, pid, token)
        c.others(pid)[0].push("leak-1", 1)
        paged_once_each(pages, 2)
        # SIGSTOP of the holder past its lease: the other takes over; a leak reaches the paused process
        # (its socket takes the request, it answers once woken): it raises the alert but sends nothing,
        # the new holder pages it, once
        paused = c.process_of(pid)
        os.kill(pid, signal.SIGSTOP)
        try:
            taken, _ = new_holder(c, pid, token)
            pushed = threading.Thread(target=paused.push, args=("leak-2", 1), kwargs={"timeout": 60})
            pushed.start()
            time.sleep(0.5)
        finally:
            os.kill(pid, signal.SIGCONT)
        pushed.join(60)
        paged_once_each(pages, 3)
        assert (c.holder() or (0, 0))[0] == taken
