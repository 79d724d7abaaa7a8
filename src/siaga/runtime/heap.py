"""Keep the garbage collector's full passes short in a long-running siaga.

After start-up a siaga process holds a few hundred thousand long-lived objects (imported modules,
apprise's plugins, pydantic and SQLAlchemy structures, the config). CPython's oldest-generation
collection walks all of them: measured 100-120 ms on our 2-core machine, during which no thread runs,
so a leak reading arriving then waited that long (the tail of bench/notify_end_to_end.py).
:func:`settle_heap` collects once and moves what survives into the permanent generation
(:func:`gc.freeze`), so later full passes only walk what was allocated since.

It also spaces the collections out (:data:`THRESHOLDS`). With CPython's defaults (700, 10, 10) a busy site
(20,000 checks, a status page rebuilt every few seconds, 300 readings a second) ran a full pass every 6-8
seconds in each process, each 0.1-0.4 s with every thread stopped (bench/cluster.py's province,
``stalls_by_process``): the tail of its leak-to-page time. Most of what siaga allocates dies young by
reference counting (readings, results, rows); the collector is only there for cycles, so it can run far
less often: a young pass every 20,000 allocations kept, a full one considered after 500 young ones. Measured
on that province (3 processes): no full pass in a 2-minute window, leak-to-page p99 1.0 s -> 0.39 s. Larger
young generations made the middle passes the long ones ((50,000, 20, 50): 0.2-0.5 s).
"""

from __future__ import annotations

import gc

THRESHOLDS = (20_000, 5, 100)
"""``gc.set_threshold``: young passes every 20,000 net allocations (CPython: 700), the middle generation every
5 of them (10), a full pass considered after 100 of those (10; CPython also waits until a quarter more objects
than the last full pass kept have been promoted since)."""


def settle_heap() -> int:
    """Collect, freeze what is left and space the collections out (call once the components are built);
    return how many froze."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return gc.get_freeze_count()
