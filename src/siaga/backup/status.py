"""Backup figures for people and machines: status per job, figures for the dashboard and /metrics, and
the question the inventory and the notifier ask: when was this service last copied off site, verified?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, select

from siaga.backup import records
from siaga.backup.tables import backup_checks, backup_snapshots
from siaga.config.models import SiteConfig
from siaga.i18n import N_


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class OffsiteCopy:
    """A service's newest verified copy off site: when its snapshot was taken, by which job, on which target,
    and what verified it: a restore drill of that snapshot, or an integrity check of the target run after it."""

    at: dt.datetime
    job: str
    target: str
    verified_by: str  # "drill" or "check"
    verified_at: dt.datetime

    def as_dict(self) -> dict[str, str]:
        return {
            "at": self.at.isoformat(),
            "job": self.job,
            "target": self.target,
            "verified_by": self.verified_by,
            "verified_at": self.verified_at.isoformat(),
        }


def verified_offsite_copy(service_id: str, *, config: SiteConfig, engine: Engine) -> OffsiteCopy | None:
    """The newest verified off-site copy of ``service_id``'s data; None when it has none (a risk).

    A service protected by several jobs (its files and its database) is only as recent as its oldest part:
    the answer is the oldest of the jobs' newest verified off-site copies, or None when a part has none.
    """
    offsite = sorted(t.id for t in config.targets if t.is_offsite)
    jobs = [j for j in config.backups if service_id in j.services]
    if not jobs or not offsite:
        return None
    parts: list[OffsiteCopy] = []
    with engine.connect() as conn:
        checks = {
            target: when
            for target, when in conn.execute(
                select(backup_checks.c.target, func.max(backup_checks.c.started_at))
                .where(and_(backup_checks.c.target.in_(offsite), backup_checks.c.ok.is_(True)))
                .group_by(backup_checks.c.target)
            ).all()
        }
        for job in jobs:
            found = _job_copy(conn, job.id, offsite, checks)
            if found is None:
                return None
            parts.append(found)
    return min(parts, key=lambda c: c.at)


def _job_copy(conn: Connection, job: str, offsite: list[str], checks: dict[str, Any]) -> OffsiteCopy | None:
    """A job's newest off-site snapshot that a drill verified, or that a later successful check covered."""
    kept = and_(backup_snapshots.c.job == job, backup_snapshots.c.forgotten_at.is_(None))
    found: list[OffsiteCopy] = []
    drilled = conn.execute(
        select(backup_snapshots.c.target, backup_snapshots.c.taken_at, backup_snapshots.c.verified_at)
        .where(and_(kept, backup_snapshots.c.target.in_(offsite), backup_snapshots.c.verified_at.is_not(None)))
        .order_by(backup_snapshots.c.taken_at.desc())
        .limit(1)
    ).first()
    if drilled is not None:
        found.append(OffsiteCopy(_need(drilled.taken_at), job, drilled.target, "drill", _need(drilled.verified_at)))
    for target, checked in checks.items():
        checked_at = _need(checked)
        taken = conn.execute(
            select(func.max(backup_snapshots.c.taken_at)).where(
                and_(kept, backup_snapshots.c.target == target, backup_snapshots.c.taken_at <= checked_at)
            )
        ).scalar()
        if taken is not None:
            found.append(OffsiteCopy(_need(taken), job, target, "check", checked_at))
    # The newest; a drill (which restored and compared the data) before a check of the same snapshot time.
    return max(found, key=lambda c: (c.at, c.verified_by == "drill"), default=None)


def _need(value: Any) -> dt.datetime:
    when = _aware(value)
    assert when is not None
    return when


def last_verified_offsite_copy(service_id: str, *, config: SiteConfig, engine: Engine) -> dt.datetime | None:
    """When the data of ``service_id`` was last copied off site in a verified snapshot (see
    :func:`verified_offsite_copy`); None when never."""
    found = verified_offsite_copy(service_id, config=config, engine=engine)
    return found.at if found is not None else None


def verified_copy_lookup(config: SiteConfig, engine: Engine) -> Callable[[str], dt.datetime | None]:
    """``last_verified_offsite_copy`` bound to a config and a store: ``lookup(service_id)``."""

    def lookup(service_id: str) -> dt.datetime | None:
        return last_verified_offsite_copy(service_id, config=config, engine=engine)

    return lookup


def describe_offsite_copy(
    found: OffsiteCopy | None, gettext: Callable[[str], str], when: Callable[[dt.datetime], str]
) -> str:
    """One line for people (the CLI's impact, the dashboard's alert): the copy, or none flagged as a risk."""
    if found is None:
        return gettext(N_("none: no verified copy off site (at risk)"))
    how = (
        gettext(N_("{when}, job {job} on {target}, verified by a restore drill"))
        if found.verified_by == "drill"
        else gettext(N_("{when}, job {job} on {target}, verified by an integrity check"))
    )
    return how.format(when=when(found.at), job=found.job, target=found.target)


@dataclass(frozen=True)
class JobFigures:
    """What the dashboard and /metrics show of one job."""

    job: str
    target: str
    last_success_at: dt.datetime | None
    last_run_at: dt.datetime | None
    last_run_ok: bool | None
    last_error: str | None
    duration_s: float | None
    bytes_added: int | None
    snapshot_age_s: float | None
    rpo_s: float | None
    rto_s_target: float | None
    drill_at: dt.datetime | None
    drill_ok: bool | None
    drill_rto_s: float | None
    drill_snapshot_age_s: float | None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, dt.datetime):
                out[key] = value.isoformat()
        return out


def job_figures(config: SiteConfig, engine: Engine, now: dt.datetime) -> list[JobFigures]:
    """Per job: last success, duration, bytes added, snapshot age, drill outcome and measured RTO."""
    out: list[JobFigures] = []
    for job in config.backups:
        last = records.last_run(engine, job.id)
        good = records.last_run(engine, job.id, ok=True)
        newest = _aware(records.newest_snapshot_time(engine, job=job.id, targets=[job.target]))
        drill = records.last_drill(engine, job.id)
        rpo, rto = job.rpo_delta, job.rto_delta
        out.append(
            JobFigures(
                job=job.id,
                target=job.target,
                last_success_at=_aware(good.finished_at) if good else None,
                last_run_at=_aware(last.started_at) if last else None,
                last_run_ok=last.ok if last else None,
                last_error=last.error if last else None,
                duration_s=good.duration_s if good else None,
                bytes_added=good.bytes_added if good else None,
                snapshot_age_s=(now - newest).total_seconds() if newest else None,
                rpo_s=rpo.total_seconds() if rpo else None,
                rto_s_target=rto.total_seconds() if rto else None,
                drill_at=_aware(drill["started_at"]) if drill else None,
                drill_ok=bool(drill["ok"]) if drill else None,
                drill_rto_s=drill["rto_s"] if drill else None,
                drill_snapshot_age_s=drill["snapshot_age_s"] if drill else None,
            )
        )
    return out


def prometheus_lines(figures: list[JobFigures]) -> list[str]:
    """The figures in Prometheus text format (for /metrics)."""
    lines: list[str] = []
    metrics: list[tuple[str, str, Any]] = [
        (
            "siaga_backup_last_success_timestamp_seconds",
            "Time of the last successful backup.",
            lambda f: f.last_success_at.timestamp() if f.last_success_at else None,
        ),
        ("siaga_backup_duration_seconds", "Duration of the last successful backup.", lambda f: f.duration_s),
        (
            "siaga_backup_bytes_added",
            "Bytes the last successful backup added to the repository.",
            lambda f: f.bytes_added,
        ),
        ("siaga_backup_snapshot_age_seconds", "Age of the newest good snapshot.", lambda f: f.snapshot_age_s),
        (
            "siaga_backup_drill_ok",
            "1 when the last restore drill verified the data, 0 when it failed.",
            lambda f: None if f.drill_ok is None else int(f.drill_ok),
        ),
        (
            "siaga_backup_drill_rto_seconds",
            "Measured time to usable data in the last restore drill.",
            lambda f: f.drill_rto_s,
        ),
    ]
    for name, help_text, get in metrics:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for fig in figures:
            value = get(fig)
            if value is not None:
                lines.append(f'{name}{{job="{fig.job}",target="{fig.target}"}} {float(value):g}')
    return lines
