"""What restic says about snapshots and backups, parsed (pure): the snapshot list and the backup summary."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any

RUN_TAG_PREFIX = "siaga-run="


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: dt.datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str

    @property
    def run_tag(self) -> str | None:
        for tag in self.tags:
            if tag.startswith(RUN_TAG_PREFIX):
                return tag[len(RUN_TAG_PREFIX) :]
        return None


def parse_snapshots(stdout: bytes) -> list[Snapshot]:
    """``restic snapshots --json``, oldest first."""
    data = json.loads(stdout or b"[]") or []
    out = []
    for item in data:
        out.append(
            Snapshot(
                id=item["id"],
                short_id=item.get("short_id", item["id"][:8]),
                time=parse_time(item["time"]),
                tags=tuple(item.get("tags") or ()),
                paths=tuple(item.get("paths") or ()),
                hostname=item.get("hostname", ""),
            )
        )
    return sorted(out, key=lambda s: s.time)


_RFC3339 = re.compile(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")


def parse_time(text: str) -> dt.datetime:
    """restic's RFC 3339 times carry nanoseconds; Python takes microseconds."""
    match = _RFC3339.match(text)
    if not match:
        return dt.datetime.fromisoformat(text)
    base, frac, zone = match.groups()
    frac = (frac or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    return dt.datetime.fromisoformat(f"{base}.{frac}{zone}").astimezone(dt.UTC)


def parse_summary(stdout: bytes) -> dict[str, Any]:
    """The summary message of ``restic backup --json`` (the last JSON line of kind summary)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith(b"{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("message_type") == "summary":
            return dict(item)
    return {}
