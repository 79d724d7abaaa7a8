"""``/api/v1/backups`` and ``/api/v1/backups/metrics`` from what the store holds; last verified off-site copy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from siaga.backup import records
from siaga.backup.status import last_verified_offsite_copy
from siaga.config import load_config
from siaga.runtime import RuntimeContext
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.app import create_app
from siaga.web.auth import accounts
from siaga.web.dashboard import dashboard_of

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bontang.yaml"
NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def ctx(tmp_path: Path) -> RuntimeContext:
    engine = create_engine_for(sqlite_url(tmp_path / "t.db"))
    upgrade(engine)
    started = NOW - dt.timedelta(hours=3)
    run = records.start_run(engine, job="db-utama", target="colo-kaltim", operation="backup", at=started, run_tag="r1")
    records.finish_run(
        engine,
        run,
        at=started + dt.timedelta(minutes=2),
        ok=True,
        snapshot_id="abcd1234",
        bytes_added=52_000_000,
        duration_s=120.0,
    )
    records.record_snapshot(
        engine,
        target="colo-kaltim",
        snapshot_id="abcd1234",
        job="db-utama",
        run_tag="r1",
        taken_at=started,
        seen_at=started,
    )
    records.record_drill(
        engine,
        job="db-utama",
        target="colo-kaltim",
        snapshot_id="abcd1234",
        scheduled=True,
        started_at=NOW - dt.timedelta(hours=1),
        finished_at=NOW,
        ok=True,
        rto_s=1800.0,
        snapshot_age_s=7200.0,
        checked=40,
    )
    records.mark_verified(engine, target="colo-kaltim", snapshot_id="abcd1234", at=NOW)
    return RuntimeContext(loaded=load_config(EXAMPLE), engine=engine, clock=lambda: NOW)


async def test_backup_figures_for_the_dashboard_and_metrics(ctx: RuntimeContext) -> None:
    dashboard_of(ctx)  # accounts: the routes need the read scope
    with ctx.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "reader", ["read"], NOW, actor="test")
    app = create_app(ctx, routers=["siaga.backup.api:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as client:
        assert (await client.get("/api/v1/backups")).status_code == 401
        client.headers["Authorization"] = f"Bearer {secret}"
        data = (await client.get("/api/v1/backups")).json()
        metrics = (await client.get("/api/v1/backups/metrics")).text
    jobs = {j["job"]: j for j in data["jobs"]}
    db = jobs["db-utama"]
    assert db["bytes_added"] == 52_000_000 and db["drill_ok"] is True and db["drill_rto_s"] == 1800.0
    assert db["snapshot_age_s"] == 3 * 3600
    assert jobs["portal-berkas"]["last_success_at"] is None
    assert 'siaga_backup_drill_rto_seconds{job="db-utama",target="colo-kaltim"} 1800' in metrics
    assert 'siaga_backup_snapshot_age_seconds{job="db-utama",target="colo-kaltim"} 10800' in metrics


def test_a_service_is_only_as_recent_as_its_oldest_verified_part(ctx: RuntimeContext) -> None:
    # db-utama is protected by its own job only; the portal also needs portal-berkas, never verified.
    assert last_verified_offsite_copy("db-utama", config=ctx.config, engine=ctx.engine) == NOW - dt.timedelta(hours=3)
    assert last_verified_offsite_copy("portal", config=ctx.config, engine=ctx.engine) is None
    assert last_verified_offsite_copy("dns", config=ctx.config, engine=ctx.engine) is None


def test_a_job_that_never_succeeded_breaks_its_rpo_counted_from_its_first_attempt(ctx: RuntimeContext) -> None:
    from siaga.backup.manager import BackupManager

    first = NOW - dt.timedelta(hours=10)
    run = records.start_run(ctx.engine, job="portal-berkas", target="colo-kaltim", operation="backup", at=first)
    records.finish_run(ctx.engine, run, at=first, ok=False, error="cannot reach repository colo-kaltim")
    mgr = BackupManager(ctx.config, engine=ctx.engine, clock=lambda: NOW)
    active = {c.rule for c in mgr.conditions() if c.active and c.subject == "portal-berkas"}
    assert {"backup.failed", "backup.rpo"} <= active
    assert not {c.rule for c in mgr.conditions() if c.active and c.subject == "db-utama"} & {"backup.rpo"}


async def test_why_the_last_run_failed_is_worded_in_the_readers_language(ctx: RuntimeContext) -> None:
    from siaga.backup.restic.errors import ResticFailure, describe
    from siaga.i18n.messages import note_of

    dashboard_of(ctx)
    with ctx.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "reader", ["read"], NOW, actor="test")
    run = records.start_run(ctx.engine, job="portal-berkas", target="colo-kaltim", operation="backup", at=NOW)
    records.finish_run(ctx.engine, run, at=NOW, ok=False,
                       error=note_of(describe(ResticFailure.locked, "colo-kaltim")))
    app = create_app(ctx, routers=["siaga.backup.api:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test",
                                 headers={"Authorization": f"Bearer {secret}"}) as client:
        said = {lang: {j["job"]: j for j in (await client.get("/api/v1/backups", headers={
            "Accept-Language": lang})).json()["jobs"]}["portal-berkas"]["last_error"] for lang in ("id", "en")}
    assert said["id"].startswith("repositori colo-kaltim sedang dikunci proses restic lain")
    assert said["en"].startswith("repository colo-kaltim is locked by another restic run")
