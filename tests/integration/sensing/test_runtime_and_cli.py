"""The sensing core inside `siaga serve` (nothing accepted is lost on stop) and its commands."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from siaga.alerts.component import component as alerts_component
from siaga.cli.main import app
from siaga.config import load_config
from siaga.readings.tables import readings
from siaga.runtime import Component, RuntimeContext
from siaga.runtime.serve import run_siaga
from siaga.sources.component import component as sensing_component
from siaga.sources.ingest import Ingest
from siaga.sources.reading import RawReading
from siaga.store import create_engine_for, database_url, upgrade

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "siaga.yaml"
    shutil.copy(EXAMPLE, path)
    return path


def _ctx(site: Path) -> RuntimeContext:
    loaded = load_config(site)
    engine = create_engine_for(database_url(loaded))
    upgrade(engine)
    return RuntimeContext(loaded=loaded, engine=engine)


async def test_a_normal_stop_writes_what_sources_hand_over_while_stopping(site: Path) -> None:
    ctx = _ctx(site)
    sent = 0
    t0 = ctx.clock() - dt.timedelta(hours=1)

    def batch(n: int, value: float) -> list[RawReading]:  # one row per (sensor, ts): each its own millisecond
        return [RawReading("temp-r1-top", value, t0 + dt.timedelta(milliseconds=sent + i)) for i in range(n)]

    async def source(c: RuntimeContext, stop: asyncio.Event) -> None:
        nonlocal sent
        ingest = c.services.ingest
        assert isinstance(ingest, Ingest)
        while not stop.is_set():
            ingest.ingest(batch(100, 24.0))
            sent += 100
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.3)  # a source draining its own queue after stop
        ingest.ingest(batch(1000, 25.0))
        sent += 1000

    alerts_component(ctx)
    components = [*sensing_component(ctx), Component("fake-source", source)]
    failure = await run_siaga(ctx, components, duration=0.5, grace=5)
    assert failure is None
    with ctx.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(readings)).scalar_one()
    assert stored == sent and sent > 1000


def test_alert_commands_list_ack_and_show(site: Path) -> None:
    ctx = _ctx(site)
    alerts_component(ctx)
    [*_comps] = sensing_component(ctx)
    ingest = ctx.services.ingest
    assert isinstance(ingest, Ingest)
    ingest.ingest([RawReading("leak-r1-ceiling", True), RawReading("temp-r1-top", 24.0)])
    assert ctx.services.readings_writer is not None
    ctx.services.readings_writer.flush_sync()
    runner = CliRunner()
    cfg = ["--config", str(site)]
    out = runner.invoke(app, ["--lang", "en", "alerts", *cfg])
    assert out.exit_code == 0, out.output
    assert "leak-r1-ceiling" in out.output and "critical" in out.output
    out = runner.invoke(app, ["alerts", "list", "--lang", "en", "--json", *cfg])
    assert out.exit_code == 0, out.output
    assert any(a["subject"] == "leak-r1-ceiling" for a in json.loads(out.stdout))
    out = runner.invoke(app, ["--lang", "en", "alerts", "ack", "1", "--as", "mallory", *cfg])
    assert out.exit_code == 2 and "neither a person of the config nor an account" in out.output
    out = runner.invoke(app, ["--lang", "en", "alerts", "ack", "1", *cfg], env={"USER": "root", "SIAGA_USER": ""})
    assert out.exit_code == 2  # a Unix login that is nobody siaga knows is not recorded
    out = runner.invoke(app, ["--lang", "en", "alerts", "ack", "1", "--as", "andi", "--note", "on my way", *cfg])
    assert out.exit_code == 0 and "acknowledged by andi" in out.output
    out = runner.invoke(app, ["alerts", "show", "1", "--json", *cfg])
    [acked] = [e for e in json.loads(out.stdout)["timeline"] if e["event"] == "acknowledged"]
    assert acked["by"] == "andi" and acked["note"] == "on my way"
    password = site.parent / "pw"
    password.write_text("a long passphrase for ops\n", encoding="utf-8")
    out = runner.invoke(app, ["user", "add", "ops-lead", "--role", "operator", "--password-file", str(password), *cfg])
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["--lang", "en", "alerts", "note", "1", "UPS checked", "--as", "ops-lead", *cfg])
    assert out.exit_code == 0, out.output  # an account, not a person of the config
    out = runner.invoke(app, ["alerts", "show", "1", "--json", *cfg])
    assert [e["by"] for e in json.loads(out.stdout)["timeline"] if e["event"] == "note"] == ["ops-lead"]
    out = runner.invoke(app, ["incidents", "show", "1", "--json", "--lang", "en", *cfg])
    assert out.exit_code == 0 and json.loads(out.stdout)["alerts"][0]["subject"] == "leak-r1-ceiling"
    out = runner.invoke(app, ["notify", "timeline", "1", "--json", "--lang", "en", *cfg])
    assert out.exit_code == 0 and isinstance(json.loads(out.stdout), list)
    out = runner.invoke(app, ["--lang", "en", "alerts", "ack", "1", "--by", "andi", *cfg])
    assert out.exit_code == 1 and "siaga: alert #1 was already acknowledged by andi" in out.output
    out = runner.invoke(app, ["--lang", "id", "alerts", "ack", "1", "--by", "andi", *cfg])  # the refusal, worded
    assert out.exit_code == 1 and "siaga: alarm #1 sudah ditangani oleh andi" in out.output, out.output
    out = runner.invoke(app, ["--lang", "id", "alerts", "note", "99", "x", "--by", "andi", *cfg])
    assert out.exit_code == 1 and "siaga: tidak ada alarm #99" in out.output, out.output
    out = runner.invoke(app, ["--lang", "en", "incidents", "note", "99", "x", "--by", "andi", *cfg])
    assert out.exit_code == 1 and "siaga: no incident #99" in out.output, out.output
    out = runner.invoke(app, ["--lang", "id", "incidents", "note", "99", "x", "--by", "andi", *cfg])
    assert out.exit_code == 1 and "siaga: tidak ada insiden #99" in out.output, out.output
    out = runner.invoke(app, ["--lang", "en", "alerts", "show", "1", *cfg])
    assert "srv-web-1" in out.output and "on my way" in out.output
    out = runner.invoke(app, ["--lang", "en", "alerts", "--state", "firing,nonsense", *cfg])
    assert out.exit_code == 2
    out = runner.invoke(app, ["--lang", "en", "incidents", "show", "1", *cfg])
    assert out.exit_code == 0 and "water detected by leak-r1-ceiling" in out.output
    out = runner.invoke(app, ["--lang", "en", "status", *cfg])
    assert out.exit_code == 0, out.output
    assert "2 accepted" in out.output and "never reported" in out.output and "#1" in out.output
    out = runner.invoke(app, ["--lang", "en", "readings", "temp-r1-top", "--since", "1h", *cfg])
    assert out.exit_code == 0 and "24" in out.output
    out = runner.invoke(app, ["--lang", "en", "readings", "temp-r1-tpo", *cfg])
    assert out.exit_code == 2 and "did you mean 'temp-r1-top'" in out.output
