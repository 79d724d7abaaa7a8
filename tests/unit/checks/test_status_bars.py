"""The status page's past bars: one bar object per (day, tally), shared by the services that have it, so a
site of 20,000 services does not make 1.8 million bars each day; the sums stay those of the rows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import insert

from siaga.checks.status.snapshot import SnapshotBuilder
from siaga.checks.tables import service_daily
from siaga.config import parse_config
from siaga.store import create_engine_for, upgrade

NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)  # 11:00 WITA
TODAY = dt.date(2026, 12, 6)


def test_services_with_the_same_days_share_their_bars_and_the_sums_are_right(tmp_path: Path) -> None:
    services = "\n".join(f"  - {{id: s{i}, name: S{i}, group: g}}" for i in range(4))
    checks = "\n".join(f"  - {{service: s{i}, type: tcp, host: 127.0.0.1, port: 9}}" for i in range(4))
    cfg = parse_config(f"site: {{name: T, timezone: Asia/Makassar}}\nservices:\n{services}\nchecks:\n{checks}\n",
                       "siaga.yaml")
    db = create_engine_for(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(db)
    day = TODAY - dt.timedelta(days=3)
    full = {"up_s": 86400.0, "down_s": 0.0, "unknown_s": 0.0, "maintenance_s": 0.0}
    with db.begin() as conn:
        conn.execute(insert(service_daily), [
            {"service": "s0", "day": day, **full}, {"service": "s1", "day": day, **full},
            {"service": "s2", "day": day, **full, "up_s": 82800.0, "down_s": 3600.0},
            {"service": "s2", "day": TODAY - dt.timedelta(days=120), **full},  # older than the 90 days shown
        ])
    snap = SnapshotBuilder(cfg, db, clock=lambda: NOW).build()
    db.dispose()
    bars = {s: snap.by_id[s].bars for s in ("s0", "s1", "s2", "s3")}
    assert all(len(b) == 90 for b in bars.values())
    i = snap.days.index(day)
    assert bars["s0"][i] is bars["s1"][i] and bars["s0"][i].cls == "ok"
    assert bars["s2"][i].cls == "partial" and bars["s2"][i].down_s == 3600.0
    assert bars["s3"][i].cls == "none"
    # the days without data: one bar object per day for every service
    assert all(a is b for a, b in zip(bars["s0"][:i], bars["s3"][:i], strict=True))
    assert snap.by_id["s0"].uptime == 1.0 and snap.by_id["s3"].uptime is None
    assert snap.by_id["s2"].uptime == 82800.0 / 86400.0
    group = snap.groups[0]
    assert group.bars[i].down_s == 3600.0 and group.bars[i].uptime == (3 * 86400.0 - 3600.0) / (3 * 86400.0)
