"""SQLite is the one-process store: ``siaga serve`` holds an exclusive lock beside the database file.

The lock is ``flock`` on ``<database>.lock`` (the kernel drops it when the process dies, even after
``kill -9``), held for the life of the process; the file names the holder's pid. A second ``siaga
serve`` on the same file is refused with one line naming that pid (several processes need PostgreSQL:
docs/running.md).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from siaga.errors import SiagaError
from siaga.i18n import _


class AlreadyServing(SiagaError):
    """Another ``siaga serve`` holds this SQLite store."""


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite URL (None for other stores and for an in-memory database)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).with_name(Path(parsed.database).name + ".lock")


def hold_single_process_lock(url: str) -> IO[str] | None:
    """Take the lock of a SQLite store for this process's life (keep the returned file open); raise
    :class:`AlreadyServing` naming the other process when it is taken. None: not SQLite (nothing to lock)."""
    path = lock_path(url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open until the process ends
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        pid = handle.read().strip() or "?"
        handle.close()
        raise AlreadyServing(
            _("another siaga serve (pid {pid}) already runs on {path}: SQLite takes one process; "
              "several processes need PostgreSQL (store.database_url)").format(pid=pid, path=path.with_suffix(""))
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
