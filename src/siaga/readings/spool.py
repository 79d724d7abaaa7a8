"""A small append-only file for readings the store could not take: fsync'd before they are acknowledged.

When a flush of the readings writer fails (the database is down, locked, full or read-only), the rows
go here instead, so a QoS 1 message can still be acknowledged (its readings are on disk) and siaga keeps
hearing its sensors. The next flush that reaches the store writes the file's rows too (readings are
unique on (sensor, ts), so a replay interrupted by a crash and run again stores nothing twice) and
empties it.

Each running process has its own file, ``readings.<instance>.spool`` beside the configured
``readings.spool``, locked (``flock``) for the process's life (:class:`siaga.store.spool.SpoolFile`):
several ``siaga serve`` on one store never empty each other's readings. The file of a process that died
(and ``readings.spool`` of an older siaga) is an orphan: a flush that reaches the store adopts it, writes
its rows (their replay is idempotent, whoever does it) and removes it, under its lock.

One line per reading, ``sensor<TAB>ts_ms<TAB>value``; a line cut short by a crash (no newline, or
not three fields) is skipped on replay. Sensor ids are config slugs: no tabs or newlines.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from siaga.store.spool import SpoolFile, adopt, process_instance

log = logging.getLogger(__name__)

Row = tuple[str, int, float]
REPLAY_CHUNK = 20_000  # rows per transaction when the spool is written back
READ_BLOCK = 1 << 20  # bytes read at a time when the spool is written back
ADOPT_EVERY_S = 5.0  # how often a process looks for orphan spool files (of processes that died)


class Part:
    """One spool file to write back: this process's own, or an adopted orphan (see :meth:`ReadingSpool.parts`)."""

    def __init__(self, spool: ReadingSpool, file: SpoolFile, own: bool) -> None:
        self.spool = spool
        self.file = file
        self.own = own
        self.path = file.path
        self._size = file.size()  # what is written back: what the file holds now (appends after it stay)

    def chunks(self, size: int = REPLAY_CHUNK) -> Iterator[list[Row]]:
        """The spooled rows, ``size`` at a time; torn or unreadable lines are skipped (and logged)."""
        chunk: list[Row] = []
        bad = 0
        for raw in self._lines():
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

    def _lines(self) -> Iterator[bytes]:
        """The file's lines up to its size when this part was made, read a block at a time."""
        at, tail = 0, b""
        while at < self._size:
            with self.spool._lock:
                block = self.file.read_at(at, min(READ_BLOCK, self._size - at))
            if not block:
                break
            at += len(block)
            *lines, tail = (tail + block).split(b"\n")
            yield from (line + b"\n" for line in lines)
        if tail:
            yield tail  # cut short by a crash: no newline

    def done(self) -> None:
        """Its rows are in the store: empty the own file (unless appended to meanwhile), remove an orphan."""
        with self.spool._lock:
            if self.own:
                self.file.truncate(expected=self._size)
            else:
                self.file.remove()
                self.spool._adopted.remove(self.file)

    def release(self) -> None:
        """Writing it back failed: an adopted file is let go (any process may adopt it again)."""
        if not self.own:
            with self.spool._lock:
                self.file.release()
                self.spool._adopted.remove(self.file)


class ReadingSpool:
    """This process's spool of readings beside ``path`` (the configured ``<dir>/readings.spool``: this
    process writes ``<dir>/readings.<instance>.spool``; its folder is created on first use)."""

    def __init__(self, path: Path, *, instance: str | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base = Path(path)
        self.path = self.base.with_name(f"{self.base.stem}.{instance or process_instance()}{self.base.suffix}")
        self.clock = clock
        self.spooled = 0  # rows appended since start
        self.replayed = 0  # rows written back to the store since start
        self._lock = threading.Lock()
        self._file: SpoolFile | None = None
        self._adopted: list[SpoolFile] = []
        self._adopt_at = 0.0  # the next look for orphans (at once at start)

    def append(self, rows: Sequence[Row]) -> None:
        """Append ``rows`` and fsync; raises OSError when the disk refuses (then nothing is promised)."""
        if not rows:
            return
        data = "".join(f"{s}\t{t}\t{v!r}\n" for s, t, v in rows).encode()
        with self._lock:
            if self._file is None:
                self._file = SpoolFile.own(self.path)
            self._file.append(data)
        self.spooled += len(rows)

    def _look(self) -> None:
        now = self.clock()
        if now < self._adopt_at:
            return
        self._adopt_at = now + ADOPT_EVERY_S
        found = adopt(self.base.parent, self.base.stem, self.base.suffix, skip=self.path)
        for f in found:
            if f.size() == 0:
                f.remove()  # an empty file of a process gone: nothing to write back
            else:
                log.warning("readings: adopting the spool %s (its process is gone)", f.path)
                self._adopted.append(f)

    @property
    def pending(self) -> bool:
        """Rows wait in this process's file, or in orphans it adopted (looked for every few seconds)."""
        with self._lock:
            try:
                self._look()
                own = self._file is not None and self._file.size() > 0
            except OSError:
                own = False
            return own or bool(self._adopted)

    def parts(self) -> list[Part]:
        """The files to write back now: the adopted orphans (oldest first), then this process's own."""
        with self._lock:
            out = [Part(self, f, own=False) for f in self._adopted]
            if self._file is not None and self._file.size() > 0:
                out.append(Part(self, self._file, own=True))
            return out

    def chunks(self, size: int = REPLAY_CHUNK) -> Iterator[list[Row]]:
        """Every spooled row (adopted and own), ``size`` at a time (for a look; :meth:`parts` to write back)."""
        for part in self.parts():
            yield from part.chunks(size)

    def close(self) -> None:
        """This process stops: its file goes when empty (else it stays, an orphan for the next start);
        adopted files are let go."""
        with self._lock:
            for f in self._adopted:
                f.release()
            self._adopted = []
            if self._file is not None:
                if self._file.size() == 0:
                    self._file.remove()
                else:
                    self._file.release()
                self._file = None
