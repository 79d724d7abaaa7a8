"""The spool file: append-only, fsync'd, read back in order, a torn last line left out."""

from __future__ import annotations

from pathlib import Path

from siaga.store.spool import Spool, default_spool_dir


def test_records_come_back_in_order_and_after_a_mark(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "deep" / "spool", "alerts")
    a = spool.append([{"n": 1}, {"n": 2}])
    spool.append([{"n": 3}])
    assert [r["n"] for r in spool.read()] == [1, 2, 3]
    assert [r["n"] for r in spool.read(after=a[-1]["_id"])] == [3]
    assert [r["n"] for r in spool.read(after="not-there")] == [1, 2, 3]
    assert spool.path.stat().st_mode & 0o777 == 0o600
    spool.clear()
    assert spool.read() == [] and len(spool) == 0


def test_a_line_torn_by_a_crash_is_left_out(tmp_path: Path) -> None:
    spool = Spool(tmp_path, "alerts")
    spool.append([{"n": 1}])
    with spool.path.open("ab") as f:
        f.write(b'{"_id": "x", "n": 2')  # the process died mid-append
    assert [r["n"] for r in spool.read()] == [1]


def test_a_spool_that_cannot_be_written_counts_and_does_not_raise(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    spool = Spool(tmp_path / "file", "alerts")  # its folder is a file
    spool.append([{"n": 1}])
    assert spool.failed == 1 and spool.read() == []


def test_the_default_place_is_outside_the_data_dir(tmp_path: Path) -> None:
    d = default_spool_dir(tmp_path / "data")
    assert tmp_path not in d.parents and d.name and d == default_spool_dir(tmp_path / "data")
