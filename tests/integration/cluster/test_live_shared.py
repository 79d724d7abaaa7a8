"""Live updates across processes: a change one ``siaga serve`` writes reaches the pages (SSE) open on
another, told by PostgreSQL (``LISTEN siaga_live``, fed by the tables' triggers), not found by polling."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from siaga.store.types import utcnow
from siaga.web.auth import accounts

from .cluster import Pages, cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_a_leak_heard_by_one_process_reaches_the_pages_open_on_another(
        tmp_path: Path, postgres_url: str, pages: Pages) -> None:
    with cluster(tmp_path, postgres_url, pages, 2) as c:
        a, b = c.processes
        with c.db.begin() as conn:
            secret, _ = accounts.create_token(conn, "sse", ["read"], utcnow(), actor="test")
        events: list[tuple[float, str]] = []
        listening = threading.Event()
        done = threading.Event()

        failed: list[BaseException] = []

        def listen() -> None:
            try:
                with httpx.stream("GET", f"{b.base}/events", headers={"Authorization": f"Bearer {secret}"},
                                  timeout=httpx.Timeout(5, read=30)) as resp:
                    resp.raise_for_status()
                    for line in resp.iter_lines():
                        listening.set()
                        if line.startswith("event: "):
                            events.append((time.monotonic(), line[len("event: "):]))
                        if done.is_set():
                            return
            except httpx.HTTPError as exc:  # the stream ends when the processes stop: an error only before
                if not done.is_set():
                    failed.append(exc)

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        assert listening.wait(30)
        time.sleep(1.0)  # B's listener connects (its first LISTEN), as on a page already open
        events.clear()
        pushed = time.monotonic()
        a.push("leak-0", 1)
        wait_for(lambda: any(topic == "alerts" for _, topic in events), timeout=30)
        alerts_at = next(t for t, topic in events if topic == "alerts")
        assert alerts_at - pushed < 5.0
        # the reading's own notice follows at the readings writer's commit (the alert is committed first)
        wait_for(lambda: any(topic == "readings" for _, topic in events), timeout=10)
        done.set()
        assert not failed, failed
