"""A small append-only spool: what could not be written to the store, kept on another disk until it can.

One JSON object per line, each with an ``_id``; every append is flushed and ``fsync``'d before it returns,
so a record survives a crash the moment its writer goes on. Whoever writes the spooled records to the
store marks the last one it wrote (``meta`` key of the spool, in the same transaction) and then clears
the file: a crash between the two leaves records that a replay skips by that mark (nothing doubled).

The default place is outside the data directory (``store.spool_dir``; see docs/running.md): a full
data disk must not also take the spool.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("siaga.store")


def default_spool_dir(data_dir: Path) -> Path:
    """``/var/tmp/siaga-spool/<hash of the data dir>``: another place than the data, kept across reboots."""
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return base / "siaga-spool" / tag


class Spool:
    """One spool file (``<dir>/<name>.jsonl``); thread-safe."""

    def __init__(self, directory: Path, name: str) -> None:
        self.path = directory / f"{name}.jsonl"
        self.meta_key = f"spool.{name}"
        self._lock = threading.Lock()
        self.appended = 0
        self.failed = 0  # appends the spool itself could not take (its disk full too)

    def append(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Add ``records`` (each given an ``_id`` when it has none), durably; never raises."""
        out = [r if "_id" in r else {"_id": uuid.uuid4().hex, **r} for r in records]
        if not out:
            return out
        data = "".join(json.dumps(r, separators=(",", ":"), default=str) + "\n" for r in out).encode()
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                self.appended += len(out)
            except OSError as exc:
                self.failed += len(out)
                log.error("spool: cannot append to %s: %s", self.path, exc)
        return out

    def read(self, after: str | None = None) -> list[dict[str, Any]]:
        """The records in order (those after the one whose ``_id`` is ``after``, when it is there); a torn last
        line (a crash mid-append) is left out."""
        with self._lock:
            try:
                lines = self.path.read_bytes().splitlines()
            except FileNotFoundError:
                return []
            except OSError as exc:
                log.error("spool: cannot read %s: %s", self.path, exc)
                return []
        records = []
        for line in lines:
            with contextlib.suppress(ValueError):
                records.append(json.loads(line))
        ids = [r.get("_id") for r in records]
        if after is not None and after in ids:
            records = records[ids.index(after) + 1:]
        return records

    def clear(self) -> None:
        with self._lock:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
            except FileNotFoundError:
                return
            except OSError as exc:
                log.error("spool: cannot clear %s: %s", self.path, exc)
                return
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def __len__(self) -> int:
        return len(self.read())
