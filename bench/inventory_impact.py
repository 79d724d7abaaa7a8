"""Inventory and impact on a large generated site: build time and impact latency. Prints JSON.

    PYTHONPATH=src python bench/inventory_impact.py [--racks 400] [--devices 8000] [--services 4000]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import statistics
import time

from siaga.config import SiteConfig
from siaga.inventory import Inventory
from siaga.kinds import EXPECTED_RACK_COVERAGE


def site(rooms: int, racks: int, devices: int, services: int, seed: int = 7) -> SiteConfig:
    rnd = random.Random(seed)
    data: dict[str, object] = {"site": {"name": "bench"}}
    data["rooms"] = [{"id": f"room{i}", "name": f"Room {i}", "grid": {"columns": 200, "rows": 200}}
                     for i in range(rooms)]
    data["racks"] = [{"id": f"rack{i}", "room": f"room{i % rooms}", "height_u": 60} for i in range(racks)]
    devs = []
    for i in range(devices):
        rack = i % racks
        devs.append({"id": f"dev{i}", "kind": "server", "rack": f"rack{rack}",
                     "value": rnd.randrange(10**7, 2 * 10**9)})
    data["devices"] = devs
    svcs = []
    for i in range(services):
        deps = rnd.sample(range(i), k=min(i, rnd.randrange(0, 4)))
        svcs.append({"id": f"svc{i}", "name": f"Service {i}",
                     "criticality": rnd.choice(["low", "medium", "high", "vital"]),
                     "runs_on": [f"dev{d}" for d in rnd.sample(range(devices), k=rnd.randrange(1, 4))],
                     "depends_on": [f"svc{j}" for j in deps]})
    data["services"] = svcs
    sensors = []
    for r in range(racks):
        for zone, kinds in EXPECTED_RACK_COVERAGE.items():
            if rnd.random() < 0.8:
                sensors.append({"id": f"s{r}-{zone}", "kind": kinds[0], "rack": f"rack{r}", "zone": zone})
    sensors += [{"id": f"room-temp{i}", "kind": "temperature", "room": f"room{i}"} for i in range(rooms)]
    data["sensors"] = sensors
    return SiteConfig.model_validate(data)


def timed(fn, repeat: int) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(samples), 3), "max_ms": round(max(samples), 3)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rooms", type=int, default=4)
    ap.add_argument("--racks", type=int, default=400)
    ap.add_argument("--devices", type=int, default=8000)
    ap.add_argument("--services", type=int, default=4000)
    args = ap.parse_args()
    cfg = site(args.rooms, args.racks, args.devices, args.services)
    t0 = time.perf_counter()
    inv = Inventory.from_config(cfg)
    build_ms = (time.perf_counter() - t0) * 1000
    sensor_ids = list(inv.sensors)
    rnd = random.Random(1)
    out = {
        "bench": "inventory_impact",
        "rooms": args.rooms, "racks": args.racks, "devices": args.devices, "services": args.services,
        "sensors": len(sensor_ids),
        "build_ms": round(build_ms, 1),
        "impact_rack": timed(lambda: inv.impact(f"rack{rnd.randrange(args.racks)}"), 50),
        "impact_device": timed(lambda: inv.impact(f"dev{rnd.randrange(args.devices)}"), 200),
        "impact_of_sensor": timed(lambda: inv.impact_of_sensor(rnd.choice(sensor_ids)), 200),
        "impact_room": timed(lambda: inv.impact("room0"), 5),
        "unknown_target_with_suggestions": timed(lambda: _safe(inv, "rack9999x"), 5),
    }
    print(json.dumps(out))


def _safe(inv: Inventory, query: str) -> None:
    with contextlib.suppress(LookupError):
        inv.resolve(query)


if __name__ == "__main__":
    main()
