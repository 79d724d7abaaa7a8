"""The checks' writes under the slots' leases, on a real PostgreSQL: a process whose lease of a slot ran out
(a slow round on a busy machine, a pause) and that another process took writes nothing of that slot (the new
holder started from what was written and runs its checks again: each change is written once, and no older
state lands over the new holder's); a lease run out that nobody took is still the last holder's to write; and
while a write is under way, the slots it writes cannot be taken."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from siaga.checks.base import CheckResult
from siaga.checks.engine import ChecksEngine
from siaga.checks.tables import check_changes, check_states
from siaga.cluster import leases, shards
from siaga.cluster.component import Cluster, Shard
from siaga.config import parse_config

from .cluster import Clock

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

LEASE = dt.timedelta(seconds=3)


def checks_engine() -> ChecksEngine:
    services = "\n".join(f"  - {{id: s{i}, name: S{i}}}" for i in range(50))
    checks = "\n".join(f"  - {{service: s{i}, type: tcp, host: 127.0.0.1, port: 9}}" for i in range(50))
    cfg = parse_config(f"site: {{name: Test}}\nservices:\n{services}\nchecks:\n{checks}\n", "siaga.yaml")
    return ChecksEngine(cfg, base_dir=Path.cwd())


def three_slots(e: ChecksEngine) -> list[str]:
    """Three services, each alone in its slot among them."""
    seen: dict[int, str] = {}
    for svc, slot in e.slot_of.items():
        seen.setdefault(slot, svc)
    return list(seen.values())[:3]


def take(engine: Engine, clock: Clock, keeper: Cluster, svc: str) -> leases.Lease | str | None:
    role = shards.role("checks", shards.slot_of(svc))
    with engine.begin() as conn:
        got = leases.take_or_renew(conn, role, keeper.holder, None, clock.now(), LEASE)
    if isinstance(got, leases.Lease) and got.holder == keeper.holder:
        keeper._held[role] = leases.Held(got.token, clock.mono() + LEASE.total_seconds())
    return got


def test_a_slot_taken_by_another_process_is_not_written_by_its_late_last_holder(engine: Engine) -> None:
    clock = Clock()
    a = Cluster(engine, lease_s=LEASE.total_seconds(), shared=True, clock=clock.now, monotonic=clock.mono)
    b = Cluster(engine, lease_s=LEASE.total_seconds(), shared=True, clock=clock.now, monotonic=clock.mono)
    a.holder, b.holder = "uji:a", "uji:b"
    e = checks_engine()
    e.share(Shard(a, "checks", shards.SLOTS), a.declare("checks"), None)
    taken, run_out, kept = three_slots(e)
    for svc in (taken, run_out, kept):
        take(engine, clock, a, svc)
        e.on_result(CheckResult(f"{svc}-tcp", svc, clock.now(), True, 1.0, "open"))  # unknown -> up, not written yet

    # a's round is late: its leases run out; b takes one slot, nobody takes the second, a renews the third
    clock.s += LEASE.total_seconds() + 1
    assert isinstance(got := take(engine, clock, b, taken), leases.Lease) and got.holder == b.holder
    take(engine, clock, a, kept)
    with engine.begin() as conn:
        e.flush(conn)
    with engine.connect() as conn:
        changed = sorted(r.check_id for r in conn.execute(select(check_changes.c.check_id)))
        stated = sorted(r.check_id for r in conn.execute(select(check_states.c.check_id)))
    assert changed == stated == sorted([f"{run_out}-tcp", f"{kept}-tcp"])
    assert e.not_written == 2  # the change and the state of the slot b took


def test_the_slots_a_write_checked_cannot_be_taken_until_it_commits(engine: Engine) -> None:
    clock = Clock()
    a = Cluster(engine, lease_s=LEASE.total_seconds(), shared=True, clock=clock.now, monotonic=clock.mono)
    b = Cluster(engine, lease_s=LEASE.total_seconds(), shared=True, clock=clock.now, monotonic=clock.mono)
    a.holder, b.holder = "uji:a", "uji:b"
    share = Shard(a, "checks", shards.SLOTS)
    take(engine, clock, a, "s1")
    clock.s += LEASE.total_seconds() + 1  # run out: free to take, but a's write checks it first
    with engine.connect() as conn, conn.begin():
        assert share.still_ours(conn, ["s1"]) == {"s1"}
        assert take(engine, clock, b, "s1") == leases.BUSY  # b waits for a's write
    got = take(engine, clock, b, "s1")
    assert isinstance(got, leases.Lease) and got.holder == b.holder  # then takes it, and reads what a wrote
    with engine.connect() as conn, conn.begin():
        assert share.still_ours(conn, ["s1"]) == set()
