"""A component that raises again and again (``bench/runtime_faults.py`` crash_loop, a real ``siaga serve``
under a real sd_notify socket): restarted with doubling pauses, never the end of siaga; /healthz names it;
the "siaga degraded" page reaches a real webhook and is resolved once the component is healthy; READY,
WATCHDOG and STOPPING reach systemd's socket; SIGTERM ends it with 0."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from types import ModuleType

import pytest

from .conftest import bench_module

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def runtime_drills() -> ModuleType:
    return bench_module("runtime_faults")


def test_a_crashing_component_is_restarted_with_backoff_and_pages_degraded(
    runtime_drills: ModuleType, tmp_path: Path
) -> None:
    f = runtime_drills.crash_loop(tmp_path, crash_for_s=2.5)
    assert f["crash_loop_survived"] and f["crash_loop_health_while_crashing"] == 503, f
    reason = f["crash_loop_health_reason"]
    assert reason["reason"] == "component.restarting" and reason["state"] == "restarting", f
    assert reason["last_error"] == "RuntimeError: sensor bus driver crashed"
    assert f["crash_loop_restarts"] >= 2 and f["crash_loop_pauses_s"][:2] == [1.0, 2.0], f  # doubling

    page = f["crash_loop_page"]
    assert page is not None and "siaga terganggu" in page and "faults.crashing" in page, f
    since = dt.datetime.fromisoformat(reason["since"]).astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert re.search(rf"{since:%H}[:.]{since:%M} WITA", page), page  # since when, in the site's time
    assert f["crash_loop_resolved_page_s"] is not None, f  # resolved once it ran healthy

    assert f["crash_loop_ready_s"] is not None and f["crash_loop_watchdog_pings"] >= 1, f
    assert f["crash_loop_stopping_sent"] and f["crash_loop_exit_code"] == 0, f
