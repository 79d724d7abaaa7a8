"""Keep the garbage collector's full passes short in a long-running siaga.

After start-up a siaga process holds a few hundred thousand long-lived objects (imported modules,
apprise's plugins, pydantic and SQLAlchemy structures, the config). CPython's oldest-generation
collection walks all of them: measured 100-120 ms on our 2-core machine, during which no thread runs,
so a leak reading arriving then waited that long (the tail of bench/notify_end_to_end.py).
:func:`settle_heap` collects once and moves what survives into the permanent generation
(:func:`gc.freeze`), so later full passes only walk what was allocated since.
"""

from __future__ import annotations

import gc


def settle_heap() -> int:
    """Collect, then freeze what is left (call once the components are built); return how many froze."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
