"""Path backups to a local repository, copies, drills that verify content and measure the time to restore."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select, update

from siaga.backup.manifest import build_file_manifest
from siaga.backup.records import KEEP_MANIFESTS, manifest_for
from siaga.backup.restic.errors import ResticFailure
from siaga.backup.site import in_english
from siaga.backup.tables import backup_manifests, backup_snapshots

if TYPE_CHECKING:
    from conftest import Site

pytestmark = pytest.mark.integration


def _data(root: Path) -> Path:
    src = root / "www"
    (src / "uploads").mkdir(parents=True)
    (src / "cache").mkdir()
    for i in range(20):
        (src / "uploads" / f"f{i}.txt").write_text(f"berkas {i}\n" * (i + 1))
    (src / "cache" / "junk.tmp").write_text("skip me")
    (src / "index.php").write_text("<?php echo 'Bontang';")
    return src


def _targets(site: Site) -> list[dict[str, object]]:
    return [
        {
            "id": "colo",
            "type": "local",
            "path": str(site.tmp / "repo-colo"),
            "password_file": site.password(),
            "offsite": True,
            "retention": {"keep_last": 2},
        },
        {
            "id": "nas",
            "type": "local",
            "path": str(site.tmp / "repo-nas"),
            "password_file": site.password("pw2", "other"),
        },
    ]


async def test_backup_copy_and_drill_verify_the_files_and_measure_rto(site: Site) -> None:
    src = _data(site.tmp)
    mgr = site.manager(
        _targets(site),
        [
            {
                "id": "portal-files",
                "target": "colo",
                "copy_to": ["nas"],
                "services": ["portal"],
                "paths": [str(src)],
                "exclude": ["*.tmp"],
                "rpo": "1h",
                "rto": "1h",
            },
        ],
    )
    await mgr.init_target("colo")
    await mgr.init_target("nas")
    result = await mgr.run_job("portal-files")
    assert result.ok, result.error
    assert result.files == 21 and result.bytes_added and result.bytes_added > 0
    assert result.copies["nas"] is not None
    assert len(await mgr.snapshots("nas", job_id="portal-files")) == 1

    drill = await mgr.drill("portal-files")
    assert drill.ok, drill.problems
    assert drill.checked == 21
    assert drill.rto_s is not None and 0 < drill.rto_s < 60
    assert drill.snapshot_age_s is not None and drill.snapshot_age_s >= 0
    with site.engine.connect() as conn:
        verified = conn.execute(
            select(backup_snapshots.c.verified_at).where(backup_snapshots.c.snapshot_id == drill.snapshot_id)
        ).scalar()
    assert verified is not None
    assert "backup.drill" not in site.sink.active("portal-files")

    from siaga.backup.status import last_verified_offsite_copy

    when = last_verified_offsite_copy("portal", config=mgr.config, engine=site.engine)
    assert when is not None
    assert last_verified_offsite_copy("db-utama", config=mgr.config, engine=site.engine) is None


async def test_a_drill_whose_restored_file_differs_from_the_manifest_fails(site: Site) -> None:
    src = _data(site.tmp)
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(src)]}])
    await mgr.init_target("colo")
    assert (await mgr.run_job("portal-files")).ok
    # What was read at backup time no longer matches what the repository gives back.
    with site.engine.begin() as conn:
        tag, blob = conn.execute(select(backup_manifests.c.run_tag, backup_manifests.c.data)).one()
        data = json.loads(zlib.decompress(blob))
        victim = sorted(data["files"])[3]
        data["files"][victim][2] = "0" * 64
        conn.execute(
            update(backup_manifests)
            .where(backup_manifests.c.run_tag == tag)
            .values(data=zlib.compress(json.dumps(data).encode()))
        )
    drill = await mgr.drill("portal-files")
    assert not drill.ok
    assert [in_english(p) for p in drill.problems] == [f"content differs: {victim}"]
    assert "backup.drill" in site.sink.active("portal-files")


async def test_incremental_backups_store_differences_and_every_kept_manifest_rebuilds(site: Site) -> None:
    src = _data(site.tmp)
    for i in range(40):  # enough files that the changes below stay a small share of them
        (src / "uploads" / f"lama{i}.txt").write_text(f"lama {i}\n")
    jobs = [{"id": "portal-files", "target": "colo", "paths": [str(src)], "exclude": ["*.tmp"]}]
    mgr = site.manager(_targets(site)[:1], jobs)
    await mgr.init_target("colo")
    tags = [str((await mgr.run_job("portal-files")).run_tag)]
    expected = {tags[0]: build_file_manifest([str(src)], ["*.tmp"])}
    for i in range(KEEP_MANIFESTS + 2):
        if i == 3:  # a manager started afresh takes the hash cache and the base from the store
            mgr = site.manager(_targets(site)[:1], jobs)
        (src / "uploads" / f"f{i}.txt").write_text(f"diubah {i}\n")
        result = await mgr.run_job("portal-files")
        assert result.ok, result.error
        tags.append(str(result.run_tag))
        expected[tags[-1]] = build_file_manifest([str(src)], ["*.tmp"])
    with site.engine.connect() as conn:
        rows = {r.run_tag: r for r in conn.execute(select(backup_manifests))}
    kept = tags[-KEEP_MANIFESTS:]
    # The first (whole) manifest is the base of every later one: it stays, the differences beyond 5 go.
    assert set(rows) == {tags[0], *kept}
    assert rows[tags[0]].kind == "files" and rows[tags[0]].base_run_tag is None
    assert all(rows[t].kind == "files-delta" and rows[t].base_run_tag == tags[0] for t in kept)
    assert all(len(rows[t].data) < len(rows[tags[0]].data) for t in kept)
    for tag in (tags[0], *kept):
        assert manifest_for(site.engine, tag) == expected[tag]
    drill = await mgr.drill("portal-files")
    assert drill.ok, drill.problems
    assert drill.checked == 61


async def test_a_drill_fails_when_a_file_differs_from_a_manifest_stored_as_a_difference(site: Site) -> None:
    src = _data(site.tmp)
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(src)]}])
    await mgr.init_target("colo")
    assert (await mgr.run_job("portal-files")).ok
    changed = src / "uploads" / "f4.txt"
    changed.write_text("diubah\n")
    second = await mgr.run_job("portal-files")
    assert second.ok
    with site.engine.begin() as conn:
        blob = conn.execute(
            select(backup_manifests.c.data).where(backup_manifests.c.run_tag == second.run_tag)
        ).scalar_one()
        data = json.loads(zlib.decompress(blob))
        assert data["kind"] == "files-delta" and list(data["files"]) == [str(changed)]
        data["files"][str(changed)][2] = "0" * 64
        conn.execute(
            update(backup_manifests)
            .where(backup_manifests.c.run_tag == second.run_tag)
            .values(data=zlib.compress(json.dumps(data).encode()))
        )
    drill = await mgr.drill("portal-files")
    assert not drill.ok
    assert [in_english(p) for p in drill.problems] == [f"content differs: {changed}"]


async def test_a_difference_is_never_stored_against_a_base_gone_from_the_store(site: Site) -> None:
    src = _data(site.tmp)
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(src)]}])
    await mgr.init_target("colo")
    first = await mgr.run_job("portal-files")
    with site.engine.begin() as conn:  # e.g. another siaga process's retention removed it
        conn.execute(backup_manifests.delete().where(backup_manifests.c.run_tag == first.run_tag))
    (src / "index.php").write_text("<?php echo 'Bontang baru';")
    second = await mgr.run_job("portal-files")
    assert second.ok, second.error
    with site.engine.connect() as conn:
        kind, base = conn.execute(select(backup_manifests.c.kind, backup_manifests.c.base_run_tag)).one()
    assert (kind, base) == ("files", None)
    assert (await mgr.drill("portal-files")).ok


async def test_wrong_password_is_one_clear_error_and_an_alert(site: Site) -> None:
    src = _data(site.tmp)
    targets = _targets(site)[:1]
    mgr = site.manager(targets, [{"id": "portal-files", "target": "colo", "paths": [str(src)]}])
    await mgr.init_target("colo")
    site.password("pw", "not the password")
    result = await mgr.run_job("portal-files")
    assert not result.ok
    assert result.error_kind == ResticFailure.wrong_password.value
    assert result.error is not None and "wrong password" in in_english(result.error) and "\n" not in result.error
    assert "backup.failed" in site.sink.active("portal-files")


async def test_no_repository_says_how_to_create_it(site: Site) -> None:
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(site.tmp)]}])
    result = await mgr.run_job("portal-files")
    assert result.error_kind == "no_repository"
    assert "siaga backup init" in in_english(result.error)


async def test_retention_preview_never_forgets_the_newest_verified_snapshot(site: Site) -> None:
    src = _data(site.tmp)
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(src)]}])
    await mgr.init_target("colo")
    first = await mgr.run_job("portal-files")
    assert (await mgr.drill("portal-files")).ok  # verifies the first snapshot
    for i in range(3):
        (src / "index.php").write_text(f"<?php echo {i};")
        assert (await mgr.run_job("portal-files")).ok
    plans = await mgr.forget("colo", dry_run=True)
    plan = plans["portal-files"]
    assert first.snapshot_id in {s.id[:8] for s in plan.keep}  # keep_last 2 would drop it; verified keeps it
    assert len(plan.forget) == 1
    assert len(await mgr.snapshots("colo", job_id="portal-files")) == 4  # a preview changes nothing
    await mgr.forget("colo", dry_run=False)
    left = {s.short_id for s in await mgr.snapshots("colo", job_id="portal-files")}
    assert first.snapshot_id in left and len(left) == 3
    await mgr.prune("colo")
    check = await mgr.check("colo")
    assert check.ok and check.subset is not None and check.subset.endswith("/30")


async def test_a_failed_backup_fires_an_alert_in_the_alert_manager(site: Site) -> None:
    from siaga.alerts.manager import AlertManager
    from siaga.alerts.model import AlertState

    alerts = AlertManager(site.engine)
    mgr = site.manager(_targets(site)[:1], [{"id": "portal-files", "target": "colo", "paths": [str(site.tmp)]}])
    mgr.sink = alerts
    result = await mgr.run_job("portal-files")
    assert not result.ok
    alert = alerts.get("backup.failed", "portal-files")
    assert alert is not None and alert.state is AlertState.firing
    assert alert.summary.key == "backup.failed" and "siaga backup init" in alert.summary.english()
