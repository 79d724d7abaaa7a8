"""The recovery sheet: one printable page for the day the room is gone (HTML; Bahasa Indonesia or English).

It says where every repository is, where its password is kept, how to bring each service back, and how long
the last drill took to bring its data back. It is meant to be printed and kept outside the server room.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import Engine

from siaga.backup import records
from siaga.backup.restic.repository import mask_url, repository_for
from siaga.backup.status import _aware
from siaga.config.backup import format_duration
from siaga.config.models import SiteConfig

LABELS: dict[str, dict[str, str]] = {
    "title": {"id": "Lembar Pemulihan Cadangan", "en": "Backup Recovery Sheet"},
    "printed": {"id": "Dicetak", "en": "Printed"},
    "keep": {
        "id": "Simpan lembar ini di luar ruang server (brankas kantor lain). Isinya tidak memuat kata sandi.",
        "en": "Keep this sheet outside the server room (another office's safe). It holds no password.",
    },
    "repositories": {"id": "Repositori", "en": "Repositories"},
    "target": {"id": "Target", "en": "Target"},
    "where": {"id": "Lokasi", "en": "Location"},
    "offsite": {"id": "Di luar lokasi", "en": "Off site"},
    "key": {"id": "Kata sandi disimpan di", "en": "Password kept at"},
    "key_unknown": {"id": "BELUM DICATAT: tulis di key_kept_at", "en": "NOT RECORDED: set key_kept_at"},
    "jobs": {"id": "Memulihkan layanan", "en": "Bringing services back"},
    "services": {"id": "Layanan", "en": "Services"},
    "what": {"id": "Isi cadangan", "en": "What is backed up"},
    "rpo": {"id": "Target RPO / RTO", "en": "RPO / RTO target"},
    "last_snapshot": {"id": "Snapshot terbaru", "en": "Newest snapshot"},
    "last_drill": {"id": "Uji pemulihan terakhir", "en": "Last restore drill"},
    "measured": {"id": "waktu pulih terukur", "en": "measured time to restore"},
    "age": {"id": "umur data", "en": "data age"},
    "ok": {"id": "BERHASIL", "en": "PASSED"},
    "failed": {"id": "GAGAL", "en": "FAILED"},
    "never": {"id": "belum pernah", "en": "never"},
    "steps": {"id": "Langkah", "en": "Steps"},
    "generic_files": {
        "id": "siaga restore {job} --to /srv/pulih/{job}  (pasang restic dan siaga dulu: apt-get install restic)",
        "en": "siaga restore {job} --to /srv/restore/{job}  (install restic and siaga first: apt-get install restic)",
    },
    "generic_db": {
        "id": "siaga restore {job} --to-database postgresql://USER@HOST/NAMA_BARU (tidak pernah menimpa)",
        "en": "siaga restore {job} --to-database postgresql://USER@HOST/NEW_NAME (never overwrites)",
    },
    "bare": {
        "id": "Tanpa siaga: restic -r {repo} snapshots --tag siaga-job={job} lalu restic restore ID --target DIR",
        "en": "Without siaga: restic -r {repo} snapshots --tag siaga-job={job} then restic restore ID --target DIR",
    },
    "paths": {"id": "berkas", "en": "files"},
    "database": {"id": "basis data", "en": "database"},
}


@dataclass(frozen=True)
class SheetTarget:
    id: str
    name: str
    location: str
    offsite: bool
    key_kept_at: str | None


@dataclass(frozen=True)
class SheetJob:
    id: str
    name: str
    services: list[str]
    what: str
    target: str
    copies: list[str]
    rpo: str
    rto: str
    newest: str | None
    drill_when: str | None
    drill_ok: bool | None
    drill_rto: str | None
    drill_age: str | None
    steps: list[str]
    bare: str


def render_sheet(config: SiteConfig, engine: Engine, *, now: dt.datetime, language: str | None = None) -> str:
    lang = language or config.site.language.value
    if lang not in ("id", "en"):
        lang = "en"
    tz = ZoneInfo(config.site.timezone)
    labels = {k: v[lang] for k, v in LABELS.items()}

    def local(when: dt.datetime | None) -> str | None:
        return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if when else None

    service_names = {s.id: s.name for s in config.services}
    targets = []
    repos = {}
    for t in config.targets:
        try:
            location = mask_url(repository_for(t).location)
        except Exception:
            location = t.url or t.path or ""
        repos[t.id] = location
        targets.append(SheetTarget(t.id, t.name or t.id, location, t.is_offsite, t.key_kept_at))
    jobs = []
    for job in config.backups:
        newest = _aware(records.newest_snapshot_time(engine, job=job.id, targets=[job.target, *job.copy_to]))
        drill = records.last_drill(engine, job.id)
        what = (
            f"{labels['database']} {job.database.type.value} {job.database.name}"
            if job.database
            else f"{labels['paths']}: " + ", ".join(job.paths)
        )
        generic = labels["generic_db" if job.database else "generic_files"].format(job=job.id)
        jobs.append(
            SheetJob(
                id=job.id,
                name=job.name or job.id,
                services=[service_names.get(s, s) for s in job.services],
                what=what,
                target=job.target,
                copies=list(job.copy_to),
                rpo=format_duration(job.rpo) if job.rpo else "-",
                rto=format_duration(job.rto) if job.rto else "-",
                newest=local(newest),
                drill_when=local(_aware(drill["started_at"])) if drill else None,
                drill_ok=bool(drill["ok"]) if drill else None,
                drill_rto=format_duration(dt.timedelta(seconds=round(drill["rto_s"])))
                if drill and drill["rto_s"] is not None
                else None,
                drill_age=format_duration(dt.timedelta(seconds=round(drill["snapshot_age_s"])))
                if drill and drill["snapshot_age_s"] is not None
                else None,
                steps=list(job.restore_steps) or [generic],
                bare=labels["bare"].format(repo=repos.get(job.target, job.target), job=job.id),
            )
        )
    env = Environment(
        loader=PackageLoader("siaga.backup", "templates"), autoescape=select_autoescape(["html"])
    )
    template = env.get_template("recovery_sheet.html")
    return template.render(
        site=config.site.name, lang=lang, t=labels, printed=local(now), targets=targets, jobs=jobs
    )
