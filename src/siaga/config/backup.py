"""Backup targets (restic repositories) and backup jobs, as written in ``siaga.yaml``.

A target is one restic repository: a local path, an SFTP server (the colocation site, over OpenSSH), or a
rest/s3 URL passed through to restic. Its password comes ONLY from ``password_file`` or ``${ENV}``.
A job protects the data of some services: paths with excludes, or a database dump streamed into restic.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from siaga.config.errors import Refusal, duplicate, unknown
from siaga.config.types import (
    ENV_REF,
    Duration,
    EnvRef,
    EnvText,
    SecretFile,
    SecretPairs,
    Slug,
    Strict,
    format_duration,
    parse_duration,
)
from siaga.i18n.messages import Message


def _cron(value: str | None) -> str | None:
    """A cron expression as written; empty (or blank) means no schedule: the step runs on demand only."""
    if value is None or not value.strip():
        return None
    from croniter import croniter

    if not croniter.is_valid(value):
        raise Refusal("config.cron", value=repr(value))
    return value


class Retention(Strict):
    """Which snapshots to keep (restic forget --keep-*); the newest verified one is always kept."""

    keep_last: int | None = Field(default=None, ge=1, description="Keep the newest N snapshots.")
    keep_hourly: int | None = Field(
        default=None, ge=1, description="Keep the last snapshot of each of N hours."
    )
    keep_daily: int | None = Field(
        default=None, ge=1, description="Keep the last snapshot of each of N days."
    )
    keep_weekly: int | None = Field(
        default=None, ge=1, description="Keep the last snapshot of each of N weeks."
    )
    keep_monthly: int | None = Field(
        default=None, ge=1, description="Keep the last snapshot of each of N months."
    )
    keep_yearly: int | None = Field(
        default=None, ge=1, description="Keep the last snapshot of each of N years."
    )
    schedule: str | None = Field(
        default="30 3 * * 0",
        description=(
            "When to forget and prune (cron, site time zone); empty: on demand. Prune never runs with a backup."
        ),
    )

    @field_validator("schedule")
    @classmethod
    def _v_schedule(cls, value: str | None) -> str | None:
        return _cron(value)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.keep_last,
                self.keep_hourly,
                self.keep_daily,
                self.keep_weekly,
                self.keep_monthly,
                self.keep_yearly,
            )
        )


class RollingCheck(Strict):
    """A rolling integrity check: ``restic check --read-data-subset=k/N`` so every pack is read every N days."""

    schedule: str | None = Field(
        default="0 4 * * *", description="When to check (cron, site time zone); daily by default; empty: on demand."
    )
    read_data_days: int = Field(
        default=30, ge=1, le=1000, description="N: every pack of the repository is read once in N days."
    )

    @field_validator("schedule")
    @classmethod
    def _v_schedule(cls, value: str | None) -> str | None:
        return _cron(value)


class TargetType(StrEnum):
    local = "local"
    sftp = "sftp"
    rest = "rest"
    s3 = "s3"


class Target(SecretPairs):
    """A restic repository: where copies go."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": True}

    id: Slug
    name: str | None = Field(default=None, description="Where it is, as people say it.")
    type: TargetType = Field(description="local, sftp, rest or s3.")
    path: str | None = Field(default=None, description="Repository path (local, or on the SFTP server).")
    host: str | None = Field(default=None, description="SFTP server host name or address.")
    port: int = Field(default=22, ge=1, le=65535, description="SFTP server SSH port.")
    user: str | None = Field(default=None, description="SSH user on the SFTP server.")
    identity_file: SecretFile | None = Field(default=None, description="SSH private key file for the SFTP server.")
    known_hosts_file: SecretFile | None = Field(
        default=None, description="known_hosts file pinning the SFTP server's host key (strict checking)."
    )
    url: EnvText | None = Field(
        default=None,
        description="For rest and s3: the restic repository URL, passed through (rest:https://..., s3:https://...).",
    )
    password_file: SecretFile | None = Field(default=None, description="File holding the repository password.")
    password: EnvRef | None = Field(
        default=None, description="The repository password as an environment variable reference: ${NAME}."
    )
    offsite: bool | None = Field(
        default=None,
        description="Outside the server room (default: yes for sftp, rest and s3; no for local).",
    )
    key_kept_at: str | None = Field(
        default=None,
        description="Where a copy of the repository password is kept for the day the room is gone (recovery sheet).",
    )
    restic_options: list[str] = Field(
        default_factory=list,
        description="Extra restic -o options (key=value), e.g. s3.storage-class=STANDARD_IA.",
    )
    retention: Retention | None = Field(default=None, description="What to keep in this repository.")
    check: RollingCheck | None = Field(default_factory=RollingCheck, description="Rolling integrity check.")
    catch_up: Duration = Field(
        default=dt.timedelta(days=8),
        description=(
            "A retention or check occurrence missed while siaga was not running is run once at start when it is at "
            "most this late (recorded as late); 0s: never catch up."
        ),
    )

    @model_validator(mode="after")
    def _shape(self) -> Target:
        if self.type in (TargetType.local, TargetType.sftp) and not self.path:
            raise Refusal("config.target.path", type=self.type.value)
        if self.type is TargetType.sftp and not self.host:
            raise Refusal("config.target.host")
        if self.type in (TargetType.rest, TargetType.s3):
            if not self.url:
                raise Refusal("config.target.url", type=self.type.value)
            if not (self.url.startswith(f"{self.type.value}:") or ENV_REF.match(self.url)):
                raise Refusal("config.target.scheme", type=self.type.value, scheme=f"'{self.type.value}:'")
        return self

    @property
    def is_offsite(self) -> bool:
        return self.offsite if self.offsite is not None else self.type is not TargetType.local


class DatabaseType(StrEnum):
    postgresql = "postgresql"
    mysql = "mysql"
    mariadb = "mariadb"


class DatabaseDump(SecretPairs):
    """A database dumped and streamed into restic (pg_dump plain/uncompressed; mysqldump --single-transaction)."""

    secret_pairs: ClassVar[dict[str, bool]] = {"password": False}

    type: DatabaseType = Field(description="postgresql, mysql or mariadb.")
    name: str = Field(description="Database name.")
    host: str | None = Field(default=None, description="Server host (default: the local socket).")
    port: int | None = Field(default=None, ge=1, le=65535, description="Server port.")
    socket: str | None = Field(
        default=None, description="Unix socket directory (postgresql) or file (mysql)."
    )
    user: str | None = Field(default=None, description="User that dumps.")
    password_file: SecretFile | None = Field(default=None, description="File holding the user's password.")
    password: EnvRef | None = Field(
        default=None, description="The password as an environment variable reference: ${NAME}."
    )
    options: list[str] = Field(default_factory=list, description="Extra options for pg_dump or mysqldump.")


class Hooks(Strict):
    """Commands run around a backup (argument lists, no shell)."""

    before: list[list[str]] = Field(
        default_factory=list, description="Commands run before the backup; one failing stops the backup."
    )
    after: list[list[str]] = Field(
        default_factory=list, description="Commands run after the backup, even when it failed."
    )
    timeout: Duration = Field(default=dt.timedelta(minutes=10), description="Longest a hook may run.")


class Drill(Strict):
    """Restore drills: restore the latest off-site snapshot into a scratch place and verify it."""

    schedule: str | None = Field(
        default="0 2 * * 6", description="When to drill (cron, site time zone); empty: on demand."
    )
    scratch_dir: str | None = Field(
        default=None,
        description="Where to restore (default: a temporary directory); emptied after the drill.",
    )
    scratch_database_url: EnvText | None = Field(
        default=None,
        description=(
            "For a database job: a server where a scratch database is created, loaded and dropped "
            "(postgresql://user@host:port/postgres or mysql://user@host:port/); passwords via ${ENV}."
        ),
    )
    keep_scratch: bool = Field(
        default=False, description="Keep the restored copy after the drill (to inspect it)."
    )

    @field_validator("schedule")
    @classmethod
    def _v_schedule(cls, value: str | None) -> str | None:
        return _cron(value)


class BackupJob(Strict):
    """What to back up, where, when, and how fast it must come back."""

    id: Slug
    name: str | None = Field(default=None, description="What it holds, as people say it.")
    services: list[Slug] = Field(
        default_factory=list, description="Ids of the services whose data it protects."
    )
    target: Slug = Field(description="Id of the target it backs up to (the off-site one, usually).")
    copy_to: list[Slug] = Field(
        default_factory=list,
        description="Ids of further targets each snapshot is copied to (restic copy), for 3-2-1.",
    )
    paths: list[str] = Field(default_factory=list, description="Files and directories to back up.")
    exclude: list[str] = Field(default_factory=list, description="Patterns to leave out (restic --exclude).")
    database: DatabaseDump | None = Field(
        default=None, description="A database dumped into restic (instead of paths)."
    )
    schedule: str | None = Field(
        default=None, description="When to back up (cron, site time zone); empty: by hand."
    )
    hooks: Hooks = Field(default_factory=Hooks, description="Commands before and after.")
    limit_upload_kib: int | None = Field(
        default=None, ge=1, description="Upload limit in KiB/s (restic --limit-upload)."
    )
    tags: list[str] = Field(default_factory=list, description="Extra restic tags.")
    rpo: Duration | None = Field(
        default=None,
        description="Recovery point objective: the newest good snapshot may be at most this old (e.g. 26h).",
    )
    rto: Duration | None = Field(
        default=None,
        description="Recovery time objective: a restore drill must finish within this (e.g. 4h).",
    )
    drill: Drill = Field(default_factory=Drill, description="Restore drills.")
    catch_up: Duration = Field(
        default=dt.timedelta(days=8),
        description=(
            "A backup or drill occurrence missed while siaga was not running is run once at start when it is at "
            "most this late (recorded as late); 0s: never catch up."
        ),
    )
    restore_steps: list[str] = Field(
        default_factory=list,
        description="Steps to bring the service back from this copy (printed on the recovery sheet).",
    )

    @field_validator("schedule")
    @classmethod
    def _v_schedule(cls, value: str | None) -> str | None:
        return _cron(value)

    @model_validator(mode="after")
    def _what(self) -> BackupJob:
        if self.database is None and not self.paths:
            raise Refusal("config.job.what")
        if self.database is not None and self.paths:
            raise Refusal("config.job.both")
        if self.target in self.copy_to:
            raise Refusal("config.job.copy_to_self")
        return self

    @property
    def rpo_delta(self) -> dt.timedelta | None:
        return self.rpo

    @property
    def rto_delta(self) -> dt.timedelta | None:
        return self.rto


Targets = list[Target]
BackupJobs = list[BackupJob]


def check_backup_references(
    targets: list[Target], jobs: list[BackupJob], services: set[str]
) -> list[tuple[tuple[str | int, ...], Message]]:
    """Cross-field problems of the backup sections: ids, target and service references."""
    findings: list[tuple[tuple[str | int, ...], Message]] = []

    tids: dict[str, int] = {}
    for i, t in enumerate(targets):
        if t.id in tids:
            findings.append(
                (("targets", i, "id"), duplicate(t.id, f"targets[{tids[t.id]}]"))
            )
        tids.setdefault(t.id, i)
    jids: dict[str, int] = {}
    for i, job in enumerate(jobs):
        if job.id in jids:
            findings.append(
                (("backups", i, "id"), duplicate(job.id, f"backups[{jids[job.id]}]"))
            )
        jids.setdefault(job.id, i)
        if job.target not in tids:
            findings.append(
                (("backups", i, "target"), unknown("target", job.target, tids))
            )
        for j, other in enumerate(job.copy_to):
            if other not in tids:
                findings.append(
                    (("backups", i, "copy_to", j), unknown("target", other, tids))
                )
        for j, svc in enumerate(job.services):
            if svc not in services:
                findings.append(
                    (("backups", i, "services", j), unknown("service", svc, services))
                )
    return findings


__all__ = [
    "BackupJob",
    "DatabaseDump",
    "DatabaseType",
    "Drill",
    "Hooks",
    "Retention",
    "RollingCheck",
    "Target",
    "TargetType",
    "check_backup_references",
    "format_duration",
    "parse_duration",
]
