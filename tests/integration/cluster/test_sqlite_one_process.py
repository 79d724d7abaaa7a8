"""SQLite is the one-process store: a second ``siaga serve`` on the same database file is refused with one
line naming the first one's pid (exit 2); once the first has stopped, a new one starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from siaga.cluster.single import AlreadyServing, hold_single_process_lock
from siaga.store import sqlite_url

from .cluster import ROOT, free_port, wait_for

pytestmark = pytest.mark.integration


def test_a_second_serve_on_the_same_sqlite_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "siaga.yaml"
    config.write_text("site: {name: Diskominfo Uji, timezone: Asia/Makassar, language: en}\nstore: {data_dir: state}\n")
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    first = subprocess.Popen([sys.executable, "-m", "siaga", "serve", "--config", str(config), "--port",
                              str(free_port())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        lock = tmp_path / "state" / "siaga.db.lock"
        wait_for(lambda: lock.exists() and lock.read_text().strip() == str(first.pid))
        second = subprocess.run([sys.executable, "-m", "siaga", "serve", "--config", str(config), "--port",
                                 str(free_port())], capture_output=True, text=True, env=env, timeout=120)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.pid}" in lines[0] and "PostgreSQL" in lines[0]
    finally:
        first.terminate()
        first.wait(30)
    # the kernel let go of the lock with the process: the store is free again
    held = hold_single_process_lock(sqlite_url(tmp_path / "state" / "siaga.db"))
    assert held is not None
    with pytest.raises(AlreadyServing):
        hold_single_process_lock(sqlite_url(tmp_path / "state" / "siaga.db"))
    held.close()
    assert hold_single_process_lock("postgresql+psycopg://u@h/db") is None
