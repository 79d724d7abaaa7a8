"""Two ``siaga serve`` on one PostgreSQL and one spool folder: one process's flushes fail (the store refuses
its inserts) while the other's go through. The failing one spools; the other writes back only its own
spool, never empties the first one's; the first is killed with SIGKILL and the other adopts its spool:
every reading that was accepted (200) ends in the store, once."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from integration.cluster.cluster import PUSH_TOKEN, Pages, Process, cluster, wait_for
from siaga.readings.tables import readings
from siaga.store.spool import default_spool_dir

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

FAULTY = "siaga-faulty"  # the application_name (PGAPPNAME) of the process whose inserts fail
N = 60  # readings pushed to each process

REFUSE = f"""
CREATE FUNCTION refuse_faulty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('application_name') = '{FAULTY}' THEN
    RAISE EXCEPTION 'could not extend file: No space left on device (this process only)';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER refuse_faulty BEFORE INSERT ON readings FOR EACH STATEMENT EXECUTE FUNCTION refuse_faulty();
"""


@pytest.fixture
def pages() -> Iterator[Pages]:
    p = Pages()
    try:
        yield p
    finally:
        p.close()


def push_all(p: Process, sensor: str, t0: dt.datetime, accepted: list[int]) -> None:
    """``N`` readings, one request each (each answered once committed or spooled), with their own ``ts``."""
    with httpx.Client(base_url=p.base, headers={"Authorization": f"Bearer {PUSH_TOKEN}"}, timeout=15) as client:
        for i in range(N):
            ts = (t0 + dt.timedelta(milliseconds=i)).isoformat()
            r = client.post("/api/v1/readings", json={"sensor": sensor, "value": 0, "ts": ts})
            if r.status_code == 200:
                accepted.append(i)


def test_a_process_whose_flushes_fail_loses_no_reading_to_the_other_and_its_spool_is_adopted_when_it_dies(
        tmp_path: Path, postgres_url: str, pages: Pages) -> None:
    spools = default_spool_dir(tmp_path / "state")  # both processes' (one config, one data dir)
    shutil.rmtree(spools, ignore_errors=True)
    try:
        with cluster(tmp_path, postgres_url, pages, 1) as c:
            c.env = {**c.env, "PGAPPNAME": FAULTY}
            faulty = c.start()
            wait_for(faulty.up)
            with c.db.begin() as conn:
                conn.execute(text(REFUSE))
            t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
            accepted: dict[str, list[int]] = {"leak-0": [], "leak-1": []}
            pushers = [threading.Thread(target=push_all, args=(p, s, t0, accepted[s]))
                       for p, s in ((faulty, "leak-0"), (c.processes[0], "leak-1"))]
            for t in pushers:
                t.start()
            for t in pushers:
                t.join(60)
            assert {s: len(a) for s, a in accepted.items()} == {"leak-0": N, "leak-1": N}
            assert any(f.stat().st_size for f in spools.glob("readings*.spool")), "spooled, not stored"
            os.kill(faulty.proc.pid, signal.SIGKILL)  # dies with its spool full: the other adopts it

            def stored() -> dict[str, int]:
                with c.db.connect() as conn:
                    return dict(conn.execute(select(readings.c.sensor, func.count()).group_by(readings.c.sensor)).all())

            try:
                wait_for(lambda: stored() == {"leak-0": N, "leak-1": N}, timeout=20)
            except AssertionError:
                raise AssertionError(f"stored {stored()}; {c.processes[0].log_tail()}") from None
            wait_for(lambda: not list(spools.glob("readings*.spool")), timeout=5)  # written back, removed
    finally:
        shutil.rmtree(spools, ignore_errors=True)
