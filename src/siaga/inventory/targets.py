"""What ``impact`` and ``contents`` can be asked about, and the errors of asking badly."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from siaga.errors import SiagaError


class TargetKind(StrEnum):
    room = "room"
    rack = "rack"
    device = "device"
    service = "service"
    sensor = "sensor"


@dataclass(frozen=True, order=True)
class Target:
    """One thing of the inventory: a kind and a config id."""

    kind: TargetKind
    id: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.id}"


class TargetError(SiagaError, LookupError):
    """A target that cannot be found (or not told apart); ``message`` is one line for people."""

    def __init__(self, message: str, query: str, choices: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.query = query
        self.choices = choices

    def __str__(self) -> str:
        return self.message


class UnknownTarget(TargetError):
    """No room, rack, device, service or sensor has this id."""


class AmbiguousTarget(TargetError):
    """More than one kind of thing has this id: qualify it as ``kind:id``."""


class WrongKind(TargetError):
    """The target exists but the question does not apply to its kind (e.g. the contents of a sensor)."""
