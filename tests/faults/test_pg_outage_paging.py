"""PostgreSQL stopped under a running siaga (checks + sensing): a leak meanwhile pages from memory at once,
and once the server is back the alert and its page are in the store once each, the page never sent again.
(``test_store_restart.py`` holds the runtime's side: siaga keeps running and catches up.)"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def test_a_leak_while_postgresql_is_down_pages_from_memory_once_and_is_stored_once(
        store_drills: ModuleType, work: Path) -> None:
    try:
        out = store_drills.pg_restart(work)
    except store_drills.Skip as exc:
        pytest.skip(str(exc))
    assert out["pg_restart_push_status"] == 200
    assert out["pg_restart_page_latency_s"] is not None, out  # paged while the server was stopped
    assert out["pg_restart_health_while_down"] == 503
    assert any("store cannot write" in r for r in out["pg_restart_health_reasons"]), out
    assert out["pg_restart_pages_received"] == 1, out
    assert out["pg_restart_alert_rows"] == 1 and out["pg_restart_page_rows"] == 1, out
    assert out["pg_restart_page_status"] == ["sent"], out
    assert out["pg_restart_survived"] and out["pg_restart_exit_code"] == 0, out
