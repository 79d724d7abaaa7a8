"""Structured logging for the running siaga: JSON lines (one object per record) or readable text.

Pass context as ``extra={...}``; every extra key becomes a field of the JSON object.

Under systemd, stderr is a stream to the journal (``JOURNAL_STREAM`` names its device and inode): each
line then starts with the sd-daemon priority (``<3>`` error ... ``<7>`` debug), which journald strips and
records as the entry's PRIORITY, so ``journalctl -p warning`` works and no logrotate is needed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
from typing import Any, TextIO

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


def _when(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": _when(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{_when(record)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if fields:
            line += f" {fields}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


# sd-daemon(3) priorities: what journald records as PRIORITY when a line starts with one.
_PRIORITIES = ((logging.ERROR, "<3>"), (logging.WARNING, "<4>"), (logging.INFO, "<6>"))


def journal_priority(levelno: int) -> str:
    """``<3>`` for error and worse, ``<4>`` warning, ``<6>`` info, ``<7>`` debug."""
    return next((prefix for level, prefix in _PRIORITIES if levelno >= level), "<7>")


def writes_to_journal(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd connected (``JOURNAL_STREAM=dev:inode``)."""
    wanted = os.environ.get("JOURNAL_STREAM", "")
    if not wanted:
        return False
    try:
        st = os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):  # not a file (a test's StringIO), or closed
        return False
    return wanted == f"{st.st_dev}:{st.st_ino}"


class JournalFormatter(logging.Formatter):
    """Another formatter's lines, each prefixed with the record's priority (a JSON line stays JSON after it;
    a traceback's every line carries it, since journald takes each line as one entry)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = journal_priority(record.levelno)
        return "\n".join(prefix + line for line in self.inner.format(record).split("\n"))


def configure_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """Send every log record (siaga's, uvicorn's) to ``stream`` (stderr) in ``fmt``, with journald
    priorities when that stream is the journal."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler.setFormatter(JournalFormatter(formatter) if writes_to_journal(stream) else formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
    if root.level > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # siaga logs the migration itself
