"""A small append-only file for readings the store could not take: fsync'd before they are acknowledged.

When a flush of the readings writer fails (the database is down, locked, full or read-only), the rows
go here instead, so a QoS 1 message can still be acknowledged (its readings are on disk) and siaga keeps
hearing its sensors. The next flush that reaches the store writes the file's rows too (readings are
unique on (sensor, ts), so a replay interrupted by a crash and run again stores nothing twice) and
removes it.

One line per reading, ``sensor<TAB>ts_ms<TAB>value``; a line cut short by a crash (no newline, or
not three fields) is skipped on replay. Sensor ids are config slugs: no tabs or newlines.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

log = logging.getLogger(__name__)

Row = tuple[str, int, float]
REPLAY_CHUNK = 20_000  # rows per transaction when the spool is written back


class ReadingSpool:
    """The spool file at ``path`` (its folder is created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.spooled = 0  # rows appended since start
        self.replayed = 0  # rows written back to the store since start

    def append(self, rows: Sequence[Row]) -> None:
        """Append ``rows`` and fsync; raises OSError when the disk refuses (then nothing is promised)."""
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(f"{s}\t{t}\t{v!r}\n" for s, t, v in rows).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            start = os.fstat(fd).st_size
            try:
                os.write(fd, data)
                os.fsync(fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)  # no half-written tail that a later append would glue onto
                raise
        finally:
            os.close(fd)
        self.spooled += len(rows)

    @property
    def pending(self) -> bool:
        try:
            return self.path.stat().st_size > 0
        except OSError:
            return False

    def chunks(self, size: int = REPLAY_CHUNK) -> Iterator[list[Row]]:
        """The spooled rows, ``size`` at a time; torn or unreadable lines are skipped (and logged)."""
        chunk: list[Row] = []
        bad = 0
        with self.path.open("rb") as f:
            for raw in f:
                parts = raw.decode("utf-8", "replace").split("\t") if raw.endswith(b"\n") else []
                try:
                    sensor, ts, value = parts
                    chunk.append((sensor, int(ts), float(value)))
                except ValueError:
                    bad += 1
                    continue
                if len(chunk) >= size:
                    yield chunk
                    chunk = []
        if chunk:
            yield chunk
        if bad:
            log.warning("readings spool %s: %d unreadable lines skipped (cut short by a crash)", self.path, bad)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
