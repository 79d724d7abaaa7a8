"""Reading and writing the backup tables (runs, manifests, snapshots, drills, checks)."""

from __future__ import annotations

import contextlib
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from siaga.backup.manifest import (
    FILES,
    FILES_DELTA,
    DatabaseManifest,
    FileManifest,
    LastManifest,
    StoredManifest,
    load_manifest,
    store_form,
)
from siaga.backup.tables import backup_checks, backup_drills, backup_manifests, backup_runs, backup_snapshots

KEEP_MANIFESTS = 5  # per job: enough for the snapshots drills look at, and the hash cache


def start_run(
    engine: Engine,
    *,
    job: str | None,
    target: str,
    operation: str,
    at: dt.datetime,
    run_tag: str | None = None,
    scheduled: bool = False,
) -> int:
    with engine.begin() as conn:
        result = conn.execute(
            insert(backup_runs).values(
                job=job,
                target=target,
                operation=operation,
                run_tag=run_tag,
                scheduled=scheduled,
                started_at=at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])


def finish_run(engine: Engine, run_id: int, *, at: dt.datetime, ok: bool, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(backup_runs).where(backup_runs.c.id == run_id).values(finished_at=at, ok=ok, **values)
        )


def _save_manifest(
    conn: Connection,
    *,
    run_tag: str,
    job: str,
    at: dt.datetime,
    manifest: FileManifest | DatabaseManifest,
    stored: StoredManifest | None,
) -> StoredManifest:
    if stored is None or (stored.base is not None and _manifest_row(conn, stored.base) is None):
        stored = store_form(manifest)  # no form given, or the whole manifest a difference needs is gone
    if isinstance(manifest, FileManifest):
        count, total = len(manifest.files), manifest.total_bytes
    else:
        count, total = len(manifest.tables), manifest.size
    conn.execute(
        insert(backup_manifests).values(
            run_tag=run_tag,
            job=job,
            created_at=at,
            kind=stored.kind,
            file_count=count,
            total_bytes=total,
            data=stored.data,
            base_run_tag=stored.base,
        )
    )
    rows = conn.execute(
        select(backup_manifests.c.run_tag, backup_manifests.c.base_run_tag)
        .where(backup_manifests.c.job == job)
        .order_by(backup_manifests.c.created_at.desc())
    ).all()
    # The newest KEEP_MANIFESTS stay, and so does every whole manifest one of them is a difference against.
    needed = {base for _tag, base in rows[:KEEP_MANIFESTS] if base}
    old = [tag for tag, _base in rows[KEEP_MANIFESTS:] if tag not in needed]
    if old:
        conn.execute(backup_manifests.delete().where(backup_manifests.c.run_tag.in_(old)))
    return stored


def _manifest_row(conn: Connection, run_tag: str) -> tuple[bytes, str | None] | None:
    row = conn.execute(
        select(backup_manifests.c.data, backup_manifests.c.base_run_tag).where(backup_manifests.c.run_tag == run_tag)
    ).first()
    return (row[0], row[1]) if row is not None else None


@dataclass(frozen=True)
class _Loaded:
    manifest: FileManifest | DatabaseManifest
    base_tag: str | None = None
    base: FileManifest | None = None


def _load(conn: Connection, run_tag: str) -> _Loaded | None:
    """The manifest of a run, rebuilt from the whole manifest it is a difference against (when it is one)."""
    row = _manifest_row(conn, run_tag)
    if row is None:
        return None
    blob, base_tag = row
    if base_tag is None:
        return _Loaded(load_manifest(blob))
    base_row = _manifest_row(conn, base_tag)
    base = load_manifest(base_row[0]) if base_row is not None else None
    if not isinstance(base, FileManifest):
        return None  # its base is gone: not verifiable, as if none had been kept
    return _Loaded(load_manifest(blob, base), base_tag, base)


def manifest_for(engine: Engine, run_tag: str) -> FileManifest | DatabaseManifest | None:
    """The manifest recorded by run ``run_tag`` (None when siaga kept none)."""
    with engine.connect() as conn:
        found = _load(conn, run_tag)
    return found.manifest if found is not None else None


def latest_file_manifest(engine: Engine, job: str) -> LastManifest | None:
    """The newest file manifest of ``job`` and the whole manifest it is stored against (the hash cache)."""
    with engine.connect() as conn:
        tag = conn.execute(
            select(backup_manifests.c.run_tag)
            .where(and_(backup_manifests.c.job == job, backup_manifests.c.kind.in_([FILES, FILES_DELTA])))
            .order_by(backup_manifests.c.created_at.desc())
            .limit(1)
        ).scalar()
        found = _load(conn, tag) if tag is not None else None
    if found is None or not isinstance(found.manifest, FileManifest):
        return None
    if found.base_tag is None or found.base is None:
        return LastManifest(found.manifest, str(tag), found.manifest)
    return LastManifest(found.manifest, found.base_tag, found.base)


def record_backup(
    engine: Engine,
    *,
    run_tag: str,
    job: str,
    target: str,
    snapshot_id: str,
    taken_at: dt.datetime,
    seen_at: dt.datetime,
    manifest: FileManifest | DatabaseManifest,
    stored: StoredManifest | None = None,
) -> StoredManifest:
    """A backup's manifest and its snapshot, in one transaction; returns the manifest form kept."""
    with engine.begin() as conn:
        kept = _save_manifest(conn, run_tag=run_tag, job=job, at=taken_at, manifest=manifest, stored=stored)
        record_snapshot(
            conn, target=target, snapshot_id=snapshot_id, job=job, run_tag=run_tag, taken_at=taken_at, seen_at=seen_at
        )
    return kept


def record_snapshot(
    db: Engine | Connection,
    *,
    target: str,
    snapshot_id: str,
    job: str,
    run_tag: str | None,
    taken_at: dt.datetime,
    seen_at: dt.datetime,
) -> None:
    """Remember a snapshot seen on a target (once); ``db`` is an engine, or a connection inside a transaction."""
    with db.begin() if isinstance(db, Engine) else contextlib.nullcontext(db) as conn:
        exists = conn.execute(
            select(backup_snapshots.c.id).where(
                and_(backup_snapshots.c.target == target, backup_snapshots.c.snapshot_id == snapshot_id)
            )
        ).scalar()
        if exists is None:
            conn.execute(
                insert(backup_snapshots).values(
                    target=target,
                    snapshot_id=snapshot_id,
                    job=job,
                    run_tag=run_tag,
                    taken_at=taken_at,
                    seen_at=seen_at,
                )
            )


def mark_verified(engine: Engine, *, target: str, snapshot_id: str, at: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(backup_snapshots)
            .where(and_(backup_snapshots.c.target == target, backup_snapshots.c.snapshot_id == snapshot_id))
            .values(verified_at=at)
        )


def mark_forgotten(engine: Engine, *, target: str, snapshot_ids: list[str], at: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(backup_snapshots)
            .where(and_(backup_snapshots.c.target == target, backup_snapshots.c.snapshot_id.in_(snapshot_ids)))
            .values(forgotten_at=at)
        )


def verified_snapshot_ids(engine: Engine, target: str) -> dict[str, dt.datetime]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(backup_snapshots.c.snapshot_id, backup_snapshots.c.verified_at).where(
                and_(backup_snapshots.c.target == target, backup_snapshots.c.verified_at.is_not(None))
            )
        ).all()
    return {r[0]: r[1] for r in rows}


def last_good_check_time(engine: Engine, target: str) -> dt.datetime | None:
    """When the newest successful integrity check of ``target`` started (it covered the snapshots before it)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(backup_checks.c.started_at)).where(
                and_(backup_checks.c.target == target, backup_checks.c.ok.is_(True))
            )
        ).scalar()
    if isinstance(value, str):  # SQLite's max() loses the column type
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value


def newest_snapshot_time(engine: Engine, *, job: str, targets: list[str], verified: bool = False) -> dt.datetime | None:
    cond = [
        backup_snapshots.c.job == job,
        backup_snapshots.c.target.in_(targets),
        backup_snapshots.c.forgotten_at.is_(None),
    ]
    if verified:
        cond.append(backup_snapshots.c.verified_at.is_not(None))
    with engine.connect() as conn:
        value = conn.execute(select(func.max(backup_snapshots.c.taken_at)).where(and_(*cond))).scalar()
    if isinstance(value, str):  # SQLite's max() loses the column type
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value


@dataclass(frozen=True)
class RunRow:
    id: int
    job: str | None
    target: str
    operation: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    ok: bool | None
    snapshot_id: str | None
    bytes_added: int | None
    duration_s: float | None
    error_kind: str | None
    error: str | None


def last_run(engine: Engine, job: str, operation: str = "backup", *, ok: bool | None = None) -> RunRow | None:
    cond = [backup_runs.c.job == job, backup_runs.c.operation == operation]
    if ok is not None:
        cond.append(backup_runs.c.ok.is_(ok))
    with engine.connect() as conn:
        row = conn.execute(
            select(
                backup_runs.c.id,
                backup_runs.c.job,
                backup_runs.c.target,
                backup_runs.c.operation,
                backup_runs.c.started_at,
                backup_runs.c.finished_at,
                backup_runs.c.ok,
                backup_runs.c.snapshot_id,
                backup_runs.c.bytes_added,
                backup_runs.c.duration_s,
                backup_runs.c.error_kind,
                backup_runs.c.error,
            )
            .where(and_(*cond))
            .order_by(backup_runs.c.started_at.desc(), backup_runs.c.id.desc())
            .limit(1)
        ).first()
    return RunRow(**row._mapping) if row is not None else None


def last_target_run(engine: Engine, target: str, operations: tuple[str, ...]) -> dt.datetime | None:
    """When one of ``operations`` (e.g. forget, prune) last started on ``target``."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.max(backup_runs.c.started_at)).where(
                and_(backup_runs.c.target == target, backup_runs.c.operation.in_(operations))
            )
        ).scalar()
    if isinstance(value, str):  # SQLite's max() loses the column type
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value if isinstance(value, dt.datetime) else None


def record_drill(engine: Engine, **values: Any) -> int:
    with engine.begin() as conn:
        key = conn.execute(insert(backup_drills).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])


def last_drill(engine: Engine, job: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(backup_drills)
                .where(backup_drills.c.job == job)
                .order_by(backup_drills.c.started_at.desc(), backup_drills.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def record_check(engine: Engine, **values: Any) -> int:
    with engine.begin() as conn:
        key = conn.execute(insert(backup_checks).values(**values)).inserted_primary_key
        assert key is not None
        return int(key[0])


def last_check(engine: Engine, target: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(backup_checks)
                .where(backup_checks.c.target == target)
                .order_by(backup_checks.c.started_at.desc(), backup_checks.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row is not None else None


def first_run_time(engine: Engine, job: str) -> dt.datetime | None:
    """When siaga first tried to back up ``job`` (its RPO clock starts there when no snapshot exists)."""
    with engine.connect() as conn:
        value = conn.execute(
            select(func.min(backup_runs.c.started_at)).where(
                and_(backup_runs.c.job == job, backup_runs.c.operation == "backup")
            )
        ).scalar()
    if isinstance(value, str):  # SQLite's min() loses the column type
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value
