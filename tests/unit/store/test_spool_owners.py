"""Spool files shared by several processes (issue #18): each process its own file, locked while it lives;
a file whose process died is adopted (under its lock) by whoever writes it back, then removed.

Real processes (forked) append and write back at the same time: every row comes back once, none lost;
a child killed with SIGKILL leaves its file to the first process that looks.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import os
import signal
from collections import Counter
from pathlib import Path

from siaga.readings.spool import ReadingSpool
from siaga.store.spool import Spool

FORK = multiprocessing.get_context("fork")
N = 300


def _always() -> object:
    return itertools.count(step=100).__next__  # a clock that makes every look for orphans due


def _write_back(spool: ReadingSpool, out: Path) -> None:
    """The store: rows written back are appended to ``out`` (one line each; a row twice is two lines)."""
    if not spool.pending:
        return
    for part in spool.parts():
        with out.open("a") as f:
            for chunk in part.chunks():
                f.writelines(f"{s}\t{t}\n" for s, t, _ in chunk)
        part.done()


def _racer(folder: Path, out: Path) -> None:
    _write_back(ReadingSpool(folder / "readings.spool", clock=_always()), out)


def _readings_child(folder: Path, name: str, out: Path, ready: object = None) -> None:
    spool = ReadingSpool(folder / "readings.spool", clock=_always())
    for i in range(N):
        spool.append([(name, i, float(i))])
        if i % 7 == 6:
            _write_back(spool, out)
        if ready is not None and i == N // 2:
            ready.set()  # type: ignore[attr-defined]
            signal.pause()  # killed here, its spool holding rows
    _write_back(spool, out)


def _written(folder: Path) -> Counter[str]:
    return Counter(line for f in folder.glob("out.*") for line in f.read_text().splitlines())


def test_two_processes_spool_and_write_back_at_once_and_every_reading_comes_back_once(tmp_path: Path) -> None:
    procs = [FORK.Process(target=_readings_child, args=(tmp_path, n, tmp_path / f"out.{n}")) for n in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    _write_back(ReadingSpool(tmp_path / "readings.spool", clock=_always()), tmp_path / "out.parent")
    assert _written(tmp_path) == Counter(f"{n}\t{i}" for n in ("a", "b", "c") for i in range(N))
    assert not list(tmp_path.glob("readings*.spool"))  # emptied files of processes gone are removed


def test_the_spool_of_a_process_killed_is_adopted_by_another_once(tmp_path: Path) -> None:
    ready = FORK.Event()
    doomed = FORK.Process(target=_readings_child, args=(tmp_path, "k", tmp_path / "out.k", ready))
    doomed.start()
    try:
        assert ready.wait(30)
        (tmp_path / "readings.spool").write_text("old\t1\t1.0\nold\t2\t2.0\nold\t3")  # an older siaga's, torn
        mine = ReadingSpool(tmp_path / "readings.spool", clock=_always())
        mine.append([("m", 1, 1.0)])
        assert mine.pending and [p.path.name for p in mine.parts()] == ["readings.spool", mine.path.name]
        mine.close()  # (lets the old file go again: the two writers below race for it)
    finally:
        os.kill(doomed.pid, signal.SIGKILL)  # its file is locked no more
        doomed.join(10)
    racers = [FORK.Process(target=_racer, args=(tmp_path, tmp_path / f"out.r{i}")) for i in range(2)]
    for p in racers:
        p.start()
    for p in racers:
        p.join(30)
        assert p.exitcode == 0
    kept = Counter(f"k\t{i}" for i in range(N // 2 + 1)) + Counter(["old\t1", "old\t2", "m\t1"])
    assert _written(tmp_path) == kept
    assert not list(tmp_path.glob("readings*.spool"))


def _jsonl_child(folder: Path, name: str, out: Path) -> None:
    """The alerts' way: append, and now and then store everything read and empty the file."""
    spool = Spool(folder, "alerts")
    for i in range(N):
        spool.append([{"who": name, "n": i}])
        if i % 7 == 6:
            _store(spool, out)
    _store(spool, out)
    spool.close()


def _store(spool: Spool, out: Path) -> None:
    with out.open("a") as f:
        f.writelines(f"{r['who']}\t{r['n']}\n" for r in spool.read())
    spool.clear()


def test_jsonl_spools_of_processes_at_once_lose_nothing_and_an_orphan_is_adopted(tmp_path: Path) -> None:
    procs = [FORK.Process(target=_jsonl_child, args=(tmp_path, n, tmp_path / f"out.{n}")) for n in ("a", "b")]
    for p in procs:
        p.start()
    dead = Spool(tmp_path, "alerts", instance="dead")
    dead.append([{"who": "dead", "n": 1}])
    assert Spool(tmp_path, "alerts", instance="x").adopt() == []  # its owner lives: not taken
    dead._file.release()  # type: ignore[union-attr]  # it dies without a word
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    (adopted,) = Spool(tmp_path, "alerts", instance="x").adopt()
    assert adopted.meta_key == "spool.alerts.dead" and [r["n"] for r in adopted.read()] == [1]
    adopted.remove()
    assert _written(tmp_path) == Counter(f"{n}\t{i}" for n in ("a", "b") for i in range(N))
    assert [p.name for p in tmp_path.iterdir() if not p.name.startswith("out.")] == []


def test_a_spool_is_read_back_a_block_at_a_time_and_a_torn_line_is_skipped(tmp_path: Path, monkeypatch: object) -> None:
    import siaga.readings.spool as module

    monkeypatch.setattr(module, "READ_BLOCK", 7)  # type: ignore[attr-defined]  # lines cross every block
    spool = ReadingSpool(tmp_path / "readings.spool")
    spool.append([("temp-r1", i, i / 3) for i in range(50)])
    assert spool._file is not None
    spool._file.append(b"temp-r1\t99\t1.")  # the process died mid-append
    (part,) = spool.parts()
    assert [r for c in part.chunks(size=16) for r in c] == [("temp-r1", i, i / 3) for i in range(50)]


def test_a_spool_file_removed_under_its_process_is_made_again_with_what_it_held(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "alerts")
    spool.append([{"n": 1}])
    spool.path.unlink()  # systemd-tmpfiles cleaning /var/tmp, say
    spool.append([{"n": 2}])
    assert [json.loads(line)["n"] for line in spool.path.read_text().splitlines()] == [1, 2]  # found by name
    assert [r["n"] for r in spool.read()] == [1, 2] and spool.failed == 0
