"""The live status the status page asks for every second: built again only when a service's status or
the process's share changes (20,000 services are not copied each second on the event loop)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from siaga.checks.base import CheckResult
from siaga.checks.confirm import Status
from siaga.checks.engine import ChecksEngine
from siaga.config import parse_config

T0 = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)


class Share:
    slots = 64

    def __init__(self, held: set[int]) -> None:
        self.held = held

    def owns(self, key: str) -> bool:
        return True

    def held_slots(self) -> set[int]:
        return set(self.held)

    def let_go(self, slots: set[int]) -> None:
        pass


def engine() -> ChecksEngine:
    services = "\n".join(f"  - {{id: s{i}, name: S{i}}}" for i in range(50))
    checks = "\n".join(f"  - {{service: s{i}, type: tcp, host: 127.0.0.1, port: 9}}" for i in range(50))
    cfg = parse_config(f"site: {{name: Test}}\nservices:\n{services}\nchecks:\n{checks}\n", "siaga.yaml")
    return ChecksEngine(cfg, base_dir=Path.cwd())


def test_the_same_status_is_not_built_again_and_a_change_shows() -> None:
    e = engine()
    first = e.live_status()
    assert first == dict.fromkeys((f"s{i}" for i in range(50)), Status.unknown)
    assert e.live_status() is first
    e.on_result(CheckResult("s3-tcp", "s3", T0, True, 1.0, "open"))
    second = e.live_status()
    assert second is not first and second["s3"] == Status.up and first["s3"] == Status.unknown
    e.on_result(CheckResult("s3-tcp", "s3", T0 + dt.timedelta(seconds=60), True, 1.0, "open"))  # still up
    assert e.live_status() is second


def test_a_share_shows_its_services_only_and_follows_the_slots_held() -> None:
    e = engine()
    share = Share(set())
    e.share(share, None, None)  # type: ignore[arg-type]
    assert e.live_status() == {}
    slot = e.slot_of["s7"]
    e.running = {slot}
    mine = e.live_status()
    assert "s7" in mine and set(mine) == {s for s, sl in e.slot_of.items() if sl == slot}
    assert e.live_status() is mine
    e.running = set()
    assert e.live_status() == {}
