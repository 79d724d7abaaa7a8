"""What a backup action hands back to its caller (the CLI, the scheduler, the API)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass
class RunResult:
    job: str
    target: str
    ok: bool
    started_at: dt.datetime
    duration_s: float = 0.0
    snapshot_id: str | None = None
    run_tag: str | None = None
    bytes_added: int | None = None
    bytes_processed: int | None = None
    files: int | None = None
    error: str | None = None
    error_kind: str | None = None
    copies: dict[str, str | None] = field(default_factory=dict)  # target -> snapshot id, None on failure


@dataclass
class DrillResult:
    job: str
    target: str
    ok: bool
    started_at: dt.datetime
    snapshot_id: str | None = None
    restore_s: float | None = None
    verify_s: float | None = None
    rto_s: float | None = None
    snapshot_age_s: float | None = None
    checked: int = 0
    bytes_restored: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CheckResult:
    target: str
    ok: bool
    subset: str | None
    duration_s: float
    error: str | None = None
