"""Fault drills against a real ``siaga serve``: does siaga keep watching, and keep every reading once?

Each scenario is one function in ``SCENARIOS`` (name -> function(workdir) -> dict of figures); the
script runs those named on the command line (all by default), each in a fresh folder, and prints one
JSON object with every figure. ``tests/faults/`` runs the same functions and checks the figures.
Add a scenario: write ``def my_drill(work: Path) -> dict[str, object]`` and add it to the table.

- ``kill9``, ``redelivery``, ``words``: the MQTT ingest path (``bench/ingest_faults.py``): ``kill9_lost``,
  ``kill9_doubled``, ``redelivery_doubled`` (all 0 when every published reading is stored exactly once);
  ``words_refused`` of ``words_sent`` and the alerts they raised (only ``sensor.faulty``).
- ``disk_full``, ``pg_restart``: the store cannot write (``bench/store_faults.py``): a leak pages from
  memory (``disk_full_page_latency_s``), nothing lost or doubled once the store is back
  (``pg_restart_survived``).
- ``crash_loop``: a component that keeps crashing (``bench/runtime_faults.py``): restarted with backoff,
  siaga serving all along, the "siaga degraded" page and its resolution at a real webhook
  (``crash_loop_degraded_page_s``), sd_notify READY/WATCHDOG/STOPPING on a real socket.

    PYTHONPATH=src .venv/bin/python bench/faults.py [kill9] [redelivery] [words] [disk_full] [pg_restart] [crash_loop]
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_faults import kill9, redelivery, words
from runtime_faults import crash_loop
from store_faults import Skip as StoreSkip
from store_faults import disk_full, pg_restart


class Skip(Exception):
    """The scenario cannot run on this machine: its reason."""


SCENARIOS: dict[str, Callable[[Path], dict[str, object]]] = {
    "kill9": kill9,
    "redelivery": redelivery,
    "words": words,
    "disk_full": disk_full,
    "pg_restart": pg_restart,
    "crash_loop": crash_loop,
}


def main(argv: list[str]) -> int:
    names = argv or list(SCENARIOS)
    out: dict[str, object] = {}
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"siaga-{name}-") as tmp:
            work = Path(tmp)
            os.chmod(work, 0o755)
            try:
                out.update(SCENARIOS[name](work))
            except (Skip, StoreSkip) as exc:
                out[f"{name}_skipped"] = str(exc)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
