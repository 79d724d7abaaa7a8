"""settle_heap: what start-up built is left out of later full collections (they stay short)."""

from __future__ import annotations

import gc

from siaga.runtime.heap import THRESHOLDS, settle_heap


def test_what_start_up_built_is_left_out_of_later_full_collections() -> None:
    built = [{"sensor": i} for i in range(1000)]  # containers: the collector tracks them
    gc.collect()
    assert any(o is built for o in gc.get_objects(generation=2))
    defaults = gc.get_threshold()
    try:
        assert settle_heap() >= len(built)
        assert gc.get_threshold() == THRESHOLDS  # and the collections are spaced out
        walked = {id(o) for o in gc.get_objects()}  # every generation a collection walks
        assert id(built) not in walked and not any(id(o) in walked for o in built)
    finally:
        gc.unfreeze()  # this test process goes on collecting them, as often as before
        gc.set_threshold(*defaults)
