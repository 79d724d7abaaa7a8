"""What siaga remembers about backups: runs, snapshots seen, manifests, restore drills, integrity checks."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

backup_runs = Table(
    "backup_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=True),  # empty for target-wide steps (prune, check)
    Column("target", String(64), nullable=False),
    Column("operation", String(16), nullable=False),  # backup, copy, forget, prune
    Column("run_tag", String(64), nullable=True),
    Column("scheduled", Boolean(), nullable=False, default=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean(), nullable=True),
    Column("snapshot_id", String(64), nullable=True),
    Column("bytes_added", BigInteger(), nullable=True),
    Column("bytes_processed", BigInteger(), nullable=True),
    Column("files", Integer(), nullable=True),
    Column("duration_s", Float(), nullable=True),
    Column("error_kind", String(32), nullable=True),
    Column("error", Text(), nullable=True),
    Index("ix_backup_runs_job_started_at", "job", "started_at"),
)
"""One row per backup, copy, forget or prune."""

backup_manifests = Table(
    "backup_manifests",
    metadata,
    Column("run_tag", String(64), primary_key=True),
    Column("job", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("kind", String(16), nullable=False),  # files, files-delta or database
    Column("file_count", Integer(), nullable=False),
    Column("total_bytes", BigInteger(), nullable=False),
    Column("data", LargeBinary(), nullable=False),  # zlib-compressed JSON
    Column("base_run_tag", String(64), nullable=True),  # files-delta: the run of the whole manifest it changes
    Index("ix_backup_manifests_job_created_at", "job", "created_at"),
)
"""What a backup read, recorded at backup time, for drills to verify against."""

backup_snapshots = Table(
    "backup_snapshots",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("snapshot_id", String(64), nullable=False),
    Column("job", String(64), nullable=False),
    Column("run_tag", String(64), nullable=True),
    Column("taken_at", UTCDateTime(), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    Column("verified_at", UTCDateTime(), nullable=True),  # a drill restored and verified it
    Column("forgotten_at", UTCDateTime(), nullable=True),
    UniqueConstraint("target", "snapshot_id"),
    Index("ix_backup_snapshots_job_taken_at", "job", "taken_at"),
)
"""Every snapshot siaga knows of, per target."""

backup_drills = Table(
    "backup_drills",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(64), nullable=False),
    Column("target", String(64), nullable=False),
    Column("snapshot_id", String(64), nullable=True),
    Column("scheduled", Boolean(), nullable=False, default=False),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean(), nullable=True),
    Column("restore_s", Float(), nullable=True),
    Column("verify_s", Float(), nullable=True),
    Column("rto_s", Float(), nullable=True),  # measured time to usable data
    Column("snapshot_age_s", Float(), nullable=True),  # RPO achieved
    Column("checked", Integer(), nullable=True),  # files or tables verified
    Column("bytes_restored", BigInteger(), nullable=True),
    Column("problems", JSON(), nullable=True),
    Column("error", Text(), nullable=True),
    Index("ix_backup_drills_job_started_at", "job", "started_at"),
)
"""One row per restore drill: the measured time to usable data and what was verified."""

backup_checks = Table(
    "backup_checks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("target", String(64), nullable=False),
    Column("subset", String(32), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean(), nullable=True),
    Column("duration_s", Float(), nullable=True),
    Column("error", Text(), nullable=True),
    Index("ix_backup_checks_target_started_at", "target", "started_at"),
)
"""One row per integrity check (``restic check --read-data-subset=k/N``)."""
