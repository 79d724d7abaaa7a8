"""What every step kind shares: the context a run passes in and the outcome a step gives back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from siaga.i18n.messages import NOTE_MARK, Message, note_of, note_text

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
    """What a step did: ok or not, what it printed (trimmed), and facts for the record. ``output`` holds
    what a program printed as it printed it and siaga's own words as message keys (:func:`said`, one a line),
    so the timeline, the audit log and a page word them for each reader (:meth:`text`)."""

    ok: bool
    output: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def text(self, lang: str = "en", zone: ZoneInfo | None = None) -> str:
        """The output worded for a reader of ``lang`` (times in ``zone``)."""
        return words(self.output, lang, zone)


def said(key: str, **params: Any) -> str:
    """siaga's own line in a step's output: the message key and its parameters, worded when read."""
    return note_of(Message(key, params))


def words(output: str, lang: str = "en", zone: ZoneInfo | None = None) -> str:
    """A step's output (as recorded) worded for a reader of ``lang``."""
    return note_text(output, lang, zone or ZoneInfo("UTC")) or ""


def trim(text: str, limit: int = OUTPUT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, keeping the end (where errors are); siaga's own lines (message
    keys) are kept whole, what programs printed is cut."""
    text = text.strip(" \t\r\n")  # not str.strip(): it takes the note mark (a control character) for space
    if NOTE_MARK in text:
        lines = text.split("\n")
        printed = "\n".join(line for line in lines if not line.startswith(NOTE_MARK))
        kept = [line for line in lines if line.startswith(NOTE_MARK)]
        return "\n".join([*kept, trim(printed, limit)] if printed.strip(" \t\r\n") else kept)
    return text if len(text) <= limit else "…" + text[-(limit - 1):]
