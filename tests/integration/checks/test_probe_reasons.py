"""A probe's failure is a message key with parameters, worded for each reader; the raw OS line is only a part."""

from __future__ import annotations

import socket
from zoneinfo import ZoneInfo

import pytest

from siaga.checks.base import ProbeContext, run_once, stored_reason
from siaga.checks.tcp import TcpProbe
from siaga.config.checks import TcpCheck
from siaga.i18n.messages import Message, note_text, render

pytestmark = pytest.mark.integration

WITA = ZoneInfo("Asia/Makassar")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_connection_is_worded_for_each_reader(probe_ctx: ProbeContext) -> None:
    port = _closed_port()
    result = await run_once(TcpProbe(TcpCheck(service="portal", type="tcp", host="127.0.0.1", port=port)), probe_ctx)
    assert not result.ok and result.why is not None
    assert result.why.key == "check.refused"
    assert render(result.why, "en", WITA) == f"cannot connect to 127.0.0.1:{port}: connection refused"
    assert render(result.why, "id", WITA) == f"tidak dapat terhubung ke 127.0.0.1:{port}: koneksi ditolak"
    assert result.message == f"cannot connect to 127.0.0.1:{port}: connection refused"  # logs stay English

    stored = stored_reason(result)  # what the check's state and history keep
    assert note_text(stored, "id", WITA) == f"tidak dapat terhubung ke 127.0.0.1:{port}: koneksi ditolak"
    down = Message("service.down", {"name": "Portal", "detail": stored})
    assert render(down, "id", WITA).endswith("koneksi ditolak") and "refused" not in render(down, "id", WITA)
    assert render(down, "en", WITA).endswith("connection refused")


async def test_a_timeout_says_the_limit_in_the_readers_words(probe_ctx: ProbeContext) -> None:
    class Stuck:
        check = TcpCheck(service="portal", type="tcp", host="127.0.0.1", port=1, timeout_s=0.05)

        async def probe(self, ctx: ProbeContext) -> None:
            import asyncio

            await asyncio.sleep(5)

    result = await run_once(Stuck(), probe_ctx)  # type: ignore[arg-type]
    assert result.why is not None and result.why.key == "check.timeout"
    assert "tidak ada jawaban" in render(result.why, "id", WITA)


def test_a_check_row_stored_before_keys_shows_its_text_as_written() -> None:
    assert note_text("cannot connect: connection refused", "id", WITA) == "cannot connect: connection refused"
    old = Message("service.down", {"name": "Portal", "detail": "cannot connect: connection refused"})
    assert render(old, "en", WITA) == "Portal is down: cannot connect: connection refused"


def test_the_service_down_alert_carries_the_reason_key_and_words_it_per_reader(db_engine) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt
    from pathlib import Path

    import siaga
    from siaga.alerts.manager import AlertManager
    from siaga.checks.base import CheckResult
    from siaga.checks.engine import site_zone
    from siaga.checks.monitor import Monitor
    from siaga.config import load_config

    cfg = load_config(Path(siaga.__file__).parent / "examples" / "bontang.yaml").config
    at = dt.datetime(2025, 7, 16, 2, 2, tzinfo=dt.UTC)
    manager = AlertManager(db_engine, clock=lambda: at)
    monitor = Monitor(cfg.checks, cfg.services, site_zone(cfg), sink=manager, active_alerts=manager.active)
    why = Message("check.refused", {"target": "10.10.3.5:25"})
    for i in range(3):
        monitor.handle(CheckResult("mail-tcp", "mail", at + dt.timedelta(seconds=10 * i), False, None,
                                   why.english(), why=why))
    alert = manager.get("service.down", "mail")
    assert alert is not None
    assert alert.params["reason"]["key"] == "check.refused"
    assert alert.params["message"] == "cannot connect to 10.10.3.5:25: connection refused"
    assert render(alert.summary, "id", WITA).endswith("tidak dapat terhubung ke 10.10.3.5:25: koneksi ditolak")
    assert render(alert.summary, "en", WITA).endswith("cannot connect to 10.10.3.5:25: connection refused")
