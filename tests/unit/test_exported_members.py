"""The extension points other parts of siaga build on stay where they are."""

from __future__ import annotations

import siaga.runtime
import siaga.store


def test_store_exports() -> None:
    assert set(siaga.store.__all__) >= {
        "BASE_REVISION", "metadata", "TABLE_MODULES", "UTCDateTime", "BigId", "database_url",
        "create_engine_for", "check_connection", "upgrade", "current", "record_event", "StoreError",
    }
    for name in siaga.store.__all__:
        assert hasattr(siaga.store, name), name
    assert siaga.store.BASE_REVISION == "0001_base"


def test_runtime_exports() -> None:
    assert set(siaga.runtime.__all__) >= {"Component", "RuntimeContext", "COMPONENTS", "DEMO_COMPONENTS"}
    for name in siaga.runtime.__all__:
        assert hasattr(siaga.runtime, name), name


def test_registration_tables_resolve() -> None:
    from siaga.runtime.components import resolve
    from siaga.runtime.registry import COMPONENTS, DEMO_COMPONENTS
    from siaga.web.app import ROUTERS

    for entry in [*COMPONENTS, *DEMO_COMPONENTS, *ROUTERS]:
        assert resolve(entry) is not None, entry
