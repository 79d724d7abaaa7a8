"""Warm standbys in ``siaga.yaml``: at the colocation, a service's newest verified snapshot restored into a
standby web root and database on a schedule, started or reloaded by a command and checked with the
service's own checks (see docs/standby.md).

The ``standbys:`` list is its own section (not a field of a service): only the colocation's siaga has one,
and the room's siaga.yaml stays as it was.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator, model_validator

from siaga.config.backup import BackupJob, _cron
from siaga.config.errors import Refusal, unknown
from siaga.config.runbooks import RunbooksConfig, StandbyStep
from siaga.config.types import Duration, EnvText, Seconds, Slug, Strict
from siaga.i18n.messages import Message


class Standby(Strict):
    """One service's warm standby at the colocation."""

    service: Slug = Field(description="Id of the service kept warm (its backup jobs give the data).")
    web_root: str | None = Field(
        default=None,
        description=(
            "The folder the standby web server serves: siaga makes it a symlink to the newest restored copy "
            "of the service's file job and switches it atomically (a half-restored copy is never served)."
        ),
        examples=["/srv/standby/portal/www"],
    )
    files_path: str | None = Field(
        default=None,
        description="Which path of the file job is served from web_root (default: the job's first path).",
    )
    database_url: EnvText | None = Field(
        default=None,
        description=(
            "The standby database the service's dump is loaded into (postgresql://user@host:port/name); "
            "it is replaced on each refresh. Passwords via ${ENV}."
        ),
    )
    schedule: str | None = Field(
        default="30 */6 * * *", description="When to refresh the standby (cron, site time zone); empty: on demand."
    )
    command: list[str] = Field(
        default_factory=list,
        description="Started after each refresh to start or reload the standby (an argument list, no shell).",
        examples=[["systemctl", "reload", "nginx"]],
    )
    command_timeout_s: Seconds = Field(default=120, gt=0, le=3600, description="Longest the command may run.")
    check_url: str | None = Field(
        default=None,
        description="The service's http checks are run against this base URL (scheme, host, port) instead.",
        examples=["http://127.0.0.1:8080"],
    )
    check_host: str | None = Field(
        default=None, description="The service's tcp and tls checks are run against this host instead."
    )
    answer_within_s: Seconds = Field(
        default=60, gt=0, le=3600,
        description="After a switch or a drill's start, how long the standby may take to answer its checks.",
    )
    keep: int = Field(default=2, ge=1, le=10, description="Restored copies kept beside the one served.")
    stale_after: Duration | None = Field(
        default=None,
        description="The standby is stale past this age of its data (default: the RPO of the service's jobs).",
    )

    @field_validator("schedule")
    @classmethod
    def _v_schedule(cls, value: str | None) -> str | None:
        return _cron(value)

    @model_validator(mode="after")
    def _v_what(self) -> Standby:
        if self.web_root is None and self.database_url is None:
            raise Refusal("config.standby.what")
        return self


def standby_jobs(standby: Standby, jobs: list[BackupJob]) -> tuple[BackupJob | None, BackupJob | None]:
    """The file job and the database job whose snapshots a standby restores (None where it has none)."""
    mine = [j for j in jobs if standby.service in j.services]
    files = next((j for j in mine if j.paths), None) if standby.web_root else None
    database = next((j for j in mine if j.database is not None), None) if standby.database_url else None
    return files, database


def stale_after(standby: Standby, jobs: list[BackupJob]) -> dt.timedelta | None:
    """Past which age of its data a standby is stale: its own setting, else the longest RPO of its jobs."""
    if standby.stale_after is not None:
        return standby.stale_after
    rpos = [j.rpo for j in standby_jobs(standby, jobs) if j is not None and j.rpo is not None]
    return max(rpos) if rpos else None


def check_standby_references(
    standbys: list[Standby], jobs: list[BackupJob], services: set[str]
) -> list[tuple[tuple[str | int, ...], Message]]:
    """Cross-field problems of ``standbys``: unknown services, a service kept twice, no job for what is kept."""
    findings: list[tuple[tuple[str | int, ...], Message]] = []
    seen: dict[str, int] = {}
    for i, sb in enumerate(standbys):
        if sb.service not in services:
            findings.append((("standbys", i, "service"), unknown("service", sb.service, services)))
            continue
        if sb.service in seen:
            first = seen[sb.service]
            findings.append((("standbys", i, "service"), Message("config.standby.twice", {
                "service": repr(sb.service), "other": f"standbys[{first}]"})))
        seen.setdefault(sb.service, i)
        files, database = standby_jobs(sb, jobs)
        if sb.web_root is not None and files is None:
            findings.append(
                (("standbys", i, "web_root"), Message("standby.no_files_job", {"service": repr(sb.service)}))
            )
        if files is not None and sb.files_path is not None and sb.files_path not in files.paths:
            findings.append(
                (("standbys", i, "files_path"), Message("config.standby.files_path", {
                    "path": repr(sb.files_path), "job": files.id, "paths": ", ".join(files.paths)}))
            )
        if sb.database_url is not None and database is None:
            findings.append(
                (("standbys", i, "database_url"), Message("standby.no_database_job", {"service": repr(sb.service)}))
            )
    return findings


def check_standby_steps(runbooks: RunbooksConfig, standbys: list[Standby]
                        ) -> list[tuple[tuple[str | int, ...], Message]]:
    """Runbook steps of kind ``standby`` naming a service without a standby."""
    kept = {sb.service for sb in standbys}
    findings: list[tuple[tuple[str | int, ...], Message]] = []
    for i, book in enumerate(runbooks.books):
        for j, step in enumerate(book.steps):
            if isinstance(step, StandbyStep) and step.service not in kept:
                findings.append((("runbooks", "books", i, "steps", j, "service"),
                                 Message("config.standby.none", {"service": repr(step.service)})))
    return findings


__all__ = ["Standby", "check_standby_references", "check_standby_steps", "stale_after", "standby_jobs"]
