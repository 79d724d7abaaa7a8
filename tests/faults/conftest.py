"""Fault tests: a real ``siaga serve`` (a subprocess) while its world breaks under it.

The drills live in ``bench/faults.py`` (one function per scenario, also run by hand as a benchmark)
and the modules beside it; these tests run them and check what they report and what the store holds.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"siaga_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ingest_drills() -> ModuleType:
    """``bench/ingest_faults.py``: the MQTT ingest drills (real mosquitto, real ``siaga serve``)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    return bench_module("ingest_faults")
