"""Config problems a person can act on: file, line, field path, message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from siaga.errors import SiagaError

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file, and where."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ConfigError(SiagaError):
    """The config cannot be used; ``problems`` says every reason found."""

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def dotted(loc: Loc) -> str:
    """``("devices", 2, "value")`` as ``devices[2].value``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
