"""The restic driver: find the binary, build commands as data, run them in one place, classify failures."""

from siaga.backup.restic.binary import Features, ResticBinary, find_restic, parse_version
from siaga.backup.restic.errors import ResticError, ResticFailure, classify
from siaga.backup.restic.repository import Repository

__all__ = [
    "Features",
    "Repository",
    "ResticBinary",
    "ResticError",
    "ResticFailure",
    "classify",
    "find_restic",
    "parse_version",
]
