"""SQLite on a 2 MB tmpfs, filled to the last block, under a running ``siaga serve``."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration


def test_a_leak_pages_from_memory_while_the_disk_is_full_and_is_stored_once_when_space_returns(
        store_drills: ModuleType, work: Path) -> None:
    try:
        out = store_drills.disk_full(work)
    except store_drills.Skip as exc:
        pytest.skip(str(exc))
    print(out)  # shown when an assertion fails
    assert out["disk_full_push_status"] == 200
    assert out["disk_full_paged_while_full"], out  # from memory: the store could not take the page
    assert out["disk_full_page_latency_s"] < 1.0, out  # push -> webhook (measured ~0.05 s, endpoint warm)
    assert out["disk_full_health_status"] == 503
    assert any("store cannot write" in p and "database or disk is full" in p
               for p in out["disk_full_health_reasons"]), out
    assert out["disk_full_store_alert_paged"], out  # store.unavailable paged after its window (2 s here)
    assert out["disk_full_spooled_writes"] >= 2  # the alert's insert and its first timeline line, on disk
    # space back: the spooled alert and the page sent from memory are in the store, once each (by id)
    assert out["disk_full_alert_rows"] == 1, out
    assert out["disk_full_page_rows"] == 1 and out["disk_full_page_status"] == ["sent"], out
    assert out["disk_full_pages_received"] == 1, out  # and nobody was paged twice
    assert out["disk_full_survived"] and out["disk_full_exit_code"] == 0, out
