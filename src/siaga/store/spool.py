"""A small append-only spool: what could not be written to the store, kept on another disk until it can.

One JSON object per line, each with an ``_id``; every append is flushed and ``fsync``'d before it returns,
so a record survives a crash the moment its writer goes on. Whoever writes the spooled records to the
store marks the last one it wrote (``meta`` key of the spool file, in the same transaction) and then
empties the file: a crash between the two leaves records that a replay skips by that mark (nothing doubled).

Several processes may share one spool folder (``siaga serve`` several times on one PostgreSQL, issue #18):
each running process writes its own files, ``<name>.<instance>.<ext>`` (:class:`SpoolFile`), holding an
exclusive ``flock`` on each for as long as it lives, so nobody else touches a file whose owner is alive.
A file nobody holds (its process died, or an older siaga wrote the single ``<name>.<ext>``) is an orphan:
any process may take it (:func:`adopt`: its lock, then its records), write them to the store and only
then remove it, still holding the lock. A file is never removed or emptied by anyone but its holder.

The default place is outside the data directory (``store.spool_dir``; see docs/running.md): a full
data disk must not also take the spool.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import secrets
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger("siaga.store")

_instance: tuple[int, str] | None = None


def default_spool_dir(data_dir: Path) -> Path:
    """``/var/tmp/siaga-spool/<hash of the data dir>``: another place than the data, kept across reboots."""
    base = Path("/var/tmp") if Path("/var/tmp").is_dir() else Path(tempfile.gettempdir())
    tag = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return base / "siaga-spool" / tag


def process_instance() -> str:
    """This process's part of its spool files' names: ``<pid>-<random>`` (a pid reused later differs)."""
    global _instance
    pid = os.getpid()
    if _instance is None or _instance[0] != pid:  # (a forked child is another process)
        _instance = (pid, secrets.token_hex(3))
    return _instance[1]


def meta_key_of(path: Path) -> str:
    """The ``meta`` key marking what of the spool file ``path`` is stored: ``spool.<name>[.<instance>]``."""
    return "spool." + path.name.rsplit(".", 1)[0]


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except OSError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


class SpoolFile:
    """One spool file held by this process: opened, locked (``flock``) and kept open until :meth:`release`.

    Made by :meth:`own` (this process's new file) or :func:`adopt` (an orphan). Appends go through the held
    descriptor (``O_APPEND``); only the holder empties (:meth:`truncate`) or removes (:meth:`remove`) it.
    """

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.meta_key = meta_key_of(path)
        self.fd: int | None = fd

    @classmethod
    def own(cls, path: Path) -> SpoolFile:
        """Create ``path`` already locked: made under a hidden name, locked, then linked to ``path`` (so no
        one ever sees it unlocked, and an existing file is never replaced)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.link(tmp, path)
        except BaseException:
            os.close(fd)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        return cls(path, fd)

    def _fd(self) -> int:
        if self.fd is None:
            raise OSError(f"spool file {self.path} released")
        return self.fd

    def append(self, data: bytes) -> None:
        """Append ``data`` and fsync; on failure the file is cut back to where it was, and OSError raised.
        A file removed under it (a clean-up of an old, empty file in /var/tmp) is made again first, with
        what it held: what is appended must be found by name after a crash."""
        if self.fd is not None and not _same_file(self.fd, self.path):
            self._relink()
        fd = self._fd()
        start = os.fstat(fd).st_size
        try:
            os.write(fd, data)
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)  # no half-written tail that a later append would glue onto
            raise

    def _relink(self) -> None:
        held = self.read()
        new = SpoolFile.own(self.path)
        try:
            if held:
                new.append(held)
        except OSError:
            new.remove()
            raise
        log.warning("spool: %s was removed under this process; made again", self.path)
        self.release()
        self.fd, new.fd = new.fd, None

    def size(self) -> int:
        return os.fstat(self._fd()).st_size if self.fd is not None else 0

    def read(self) -> bytes:
        """The file's bytes."""
        fd = self._fd()
        size = os.fstat(fd).st_size
        chunks, at = [], 0
        while at < size:
            chunk = self.read_at(at, size - at)
            if not chunk:
                break
            chunks.append(chunk)
            at += len(chunk)
        return b"".join(chunks)

    def read_at(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``offset``."""
        return os.pread(self._fd(), n, offset)

    def truncate(self, expected: int | None = None) -> bool:
        """Empty the file (only when it still has ``expected`` bytes, when given); True when emptied."""
        fd = self._fd()
        if expected is not None and os.fstat(fd).st_size != expected:
            return False  # appended to since it was read: kept (a replay again stores nothing twice)
        os.ftruncate(fd, 0)
        os.fsync(fd)
        return True

    def remove(self) -> None:
        """Unlink the file (still locked: nobody appends to it) and let it go."""
        if self.fd is not None:
            with contextlib.suppress(FileNotFoundError):
                if _same_file(self.fd, self.path):
                    self.path.unlink()
        self.release()

    def release(self) -> None:
        """Close it (the lock goes with it: an orphan now, for whoever adopts it)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


def orphan_names(directory: Path, stem: str, suffix: str) -> list[Path]:
    """The spool files of ``stem`` in ``directory`` (``<stem><suffix>`` and ``<stem>.<instance><suffix>``)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return []
    out = []
    for name in names:
        if name == stem + suffix:
            out.append(directory / name)
        elif name.startswith(stem + ".") and name.endswith(suffix):
            middle = name[len(stem) + 1:len(name) - len(suffix)]
            if middle and "." not in middle:
                out.append(directory / name)
    return out


def adopt(directory: Path, stem: str, suffix: str, *, skip: Path | None = None) -> list[SpoolFile]:
    """Take every orphan spool file of ``stem`` (not locked by a living process) in ``directory``: each one
    returned is locked by this process until it is removed or released. Oldest first."""
    taken: list[tuple[float, SpoolFile]] = []
    for path in orphan_names(directory, stem, suffix):
        if skip is not None and path == skip:
            continue
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND)
        except OSError:
            continue  # gone meanwhile (adopted and removed by another process), or not ours to open
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its owner lives (or another process is adopting it)
            continue
        if not _same_file(fd, path):  # removed by its adopter between our open and our lock
            os.close(fd)
            continue
        taken.append((os.fstat(fd).st_mtime, SpoolFile(path, fd)))
    return [f for _, f in sorted(taken, key=lambda t: t[0])]


def _records(data: bytes, after: str | None) -> list[dict[str, Any]]:
    records = []
    for line in data.splitlines():
        with contextlib.suppress(ValueError):
            records.append(json.loads(line))
    ids = [r.get("_id") for r in records]
    if after is not None and after in ids:
        records = records[ids.index(after) + 1:]
    return records


class Spool:
    """This process's spool of ``name`` (``<dir>/<name>.<instance>.jsonl``, made at the first append);
    thread-safe. :meth:`adopt` takes the orphans of ``name`` beside it."""

    def __init__(self, directory: Path, name: str, *, instance: str | None = None) -> None:
        self.directory = directory
        self.name = name
        self.path = directory / f"{name}.{instance or process_instance()}.jsonl"
        self.meta_key = meta_key_of(self.path)
        self._lock = threading.Lock()
        self._file: SpoolFile | None = None
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
                if self._file is None:
                    self._file = SpoolFile.own(self.path)
                self._file.append(data)
                self.appended += len(out)
            except OSError as exc:
                self.failed += len(out)
                log.error("spool: cannot append to %s: %s", self.path, exc)
        return out

    def read(self, after: str | None = None) -> list[dict[str, Any]]:
        """The records in order (those after the one whose ``_id`` is ``after``, when it is there); a torn last
        line (a crash mid-append) is left out."""
        with self._lock:
            if self._file is None:
                return []
            try:
                data = self._file.read()
            except OSError as exc:
                log.error("spool: cannot read %s: %s", self.path, exc)
                return []
        return _records(data, after)

    def clear(self) -> None:
        with self._lock:
            if self._file is None:
                return
            try:
                self._file.truncate()
            except OSError as exc:
                log.error("spool: cannot clear %s: %s", self.path, exc)

    def adopt(self) -> list[Adopted]:
        """The orphan spool files of ``name`` (their process died; or ``<name>.jsonl`` of an older siaga),
        locked by this process until each is removed (stored) or released."""
        return [Adopted(f) for f in adopt(self.directory, self.name, ".jsonl", skip=self.path)]

    def close(self) -> None:
        """This process stops: its file goes when empty, else stays (an orphan for the next start)."""
        with self._lock:
            if self._file is None:
                return
            if self._file.fd is not None and self._file.size() == 0:
                self._file.remove()
            else:
                self._file.release()
            self._file = None

    def __len__(self) -> int:
        return len(self.read())


class Adopted:
    """An orphan spool file this process holds: read it, store its records, then :meth:`remove` it."""

    def __init__(self, file: SpoolFile) -> None:
        self.file = file
        self.path = file.path
        self.meta_key = file.meta_key

    def read(self, after: str | None = None) -> list[dict[str, Any]]:
        try:
            return _records(self.file.read(), after)
        except OSError as exc:
            log.error("spool: cannot read %s: %s", self.path, exc)
            return []

    def remove(self) -> None:
        self.file.remove()

    def release(self) -> None:
        self.file.release()
