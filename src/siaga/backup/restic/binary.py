"""Find the restic binary, read its version, and say which features that version has."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from siaga.backup.restic.errors import ResticError, ResticFailure
from siaga.i18n.messages import Message

_VERSION = re.compile(r"restic\s+(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Features:
    """What the installed restic can do; siaga uses a feature only when it is there."""

    version: tuple[int, int, int]

    @property
    def stdin_from_command(self) -> bool:  # 0.17: `backup --stdin-from-command`
        return self.version >= (0, 17, 0)

    @property
    def json_restore(self) -> bool:  # 0.16: `restore --json`
        return self.version >= (0, 16, 0)

    @property
    def json_check(self) -> bool:  # 0.17: `check --json`
        return self.version >= (0, 17, 0)

    @property
    def retry_lock(self) -> bool:  # 0.16: global `--retry-lock`
        return self.version >= (0, 16, 0)

    @property
    def exit_codes(self) -> bool:  # 0.17: 10 no repository, 11 locked, 12 wrong password
        return self.version >= (0, 17, 0)

    @property
    def forget_unsafe_allow_remove_all(self) -> bool:
        return self.version >= (0, 16, 0)

    @property
    def compression(self) -> bool:  # 0.14: repository format 2 and --compression
        return self.version >= (0, 14, 0)


def parse_version(text: str) -> tuple[int, int, int]:
    """``restic 0.14.0 compiled with go1.19.8 on linux/amd64`` -> ``(0, 14, 0)``."""
    match = _VERSION.search(text)
    if not match:
        raise ValueError(f"cannot read a restic version from {text.strip()[:80]!r}")
    major, minor, patch = (int(g) for g in match.groups())
    return (major, minor, patch)


@dataclass(frozen=True)
class ResticBinary:
    """The restic to run and what it can do."""

    path: str
    version: tuple[int, int, int]

    @property
    def features(self) -> Features:
        return Features(self.version)

    @property
    def version_text(self) -> str:
        return ".".join(str(p) for p in self.version)


def find_restic(command: str | None = None) -> ResticBinary:
    """The restic at ``command`` (a path or a name on PATH; default ``restic``), with its version.

    A missing binary raises :class:`ResticError` with one line saying how to install it.
    """
    name = command or "restic"
    path = name if Path(name).is_absolute() and Path(name).exists() else shutil.which(name)
    if path is None:
        raise ResticError(ResticFailure.missing_binary, Message("restic.missing", {"program": name}))
    try:
        done = subprocess.run([path, "version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        raise ResticError(
            ResticFailure.missing_binary,
            Message("restic.cannot_run", {"program": path, "error": exc.strerror or str(exc)}),
        ) from None
    try:
        version = parse_version(done.stdout)
    except ValueError as exc:
        raise ResticError(
            ResticFailure.missing_binary, Message("restic.not_restic", {"program": path, "error": str(exc)})
        ) from None
    return ResticBinary(path=path, version=version)
