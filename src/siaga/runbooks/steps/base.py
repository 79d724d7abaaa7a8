"""What every step kind shares: the context a run passes in and the outcome a step gives back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OUTPUT_LIMIT = 2000
"""Characters of a step's output kept in the timeline and the audit log."""


@dataclass(frozen=True)
class StepContext:
    """The world a step acts on, passed in: the config's folder (relative key files), the environment
    (secret references), how often to poll a host while waiting and the programs steps run."""

    base_dir: Path | None = None
    environ: Mapping[str, str] | None = None
    poll_s: float = 0.5
    standby: Callable[[str], Awaitable[Outcome]] | None = None
    """Activates the warm standby of a service (``siaga.standby.actions.activate`` bound to the site)."""
    ipmitool: str = "ipmitool"
    """The ipmitool program (IPMI shutdowns and power states)."""
    ping: str = "ping"
    """The ping program (the ``ping`` off check)."""


@dataclass(frozen=True)
class Outcome:
    """What a step did: ok or not, what it printed (trimmed), and facts for the record."""

    ok: bool
    output: str = ""
    facts: dict[str, Any] = field(default_factory=dict)


def trim(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, keeping the end (where errors are)."""
    text = text.strip()
    return text if len(text) <= limit else "…" + text[-(limit - 1):]
