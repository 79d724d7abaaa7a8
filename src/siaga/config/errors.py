"""Config problems a person can act on: file, line, field path, message.

The message is a key of :data:`siaga.i18n.messages.MESSAGES` and its parameters where one exists (``said``),
worded in the reader's language by :meth:`ConfigProblem.worded` (``siaga config check`` speaks ``--lang`` or the
site's language); ``message`` is it in English (logs, tests). A validator refuses with :class:`Refusal` to give
its reason as a key; a plain ``ValueError``'s sentence is shown as it is.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from siaga.errors import SiagaError
from siaga.i18n.messages import Message, render

Loc = tuple[str | int, ...]


class Refusal(SiagaError, ValueError):
    """A validator's reason as a ``config.*`` message key and its parameters; ``str()`` is it in English."""

    def __init__(self, key: str, **params: Any) -> None:
        self.why = Message(key, params)
        super().__init__(self.why.english())


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file, and where."""

    file: str
    line: int
    field: str
    message: str
    said: Message | None = dataclasses.field(default=None, compare=False)

    @classmethod
    def of(cls, file: str, line: int, field_path: str, reason: Message | str) -> ConfigProblem:
        """A problem whose reason is a message (worded per reader) or a sentence shown as it is."""
        if isinstance(reason, Message):
            return cls(file, line, field_path, reason.english(), reason if reason.key else None)
        return cls(file, line, field_path, reason)

    def worded(self, lang: str) -> str:
        """``file:line: field: reason`` with the reason in ``lang``."""
        reason = render(self.said, lang, ZoneInfo("UTC")) if self.said is not None else self.message
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.field}: {reason}" if self.field else f"{where}: {reason}"

    def __str__(self) -> str:
        return self.worded("en")


class ConfigError(SiagaError):
    """The config cannot be used; ``problems`` says every reason found; ``language``: the site's language the
    file names, when it could be read (to word the problems in it)."""

    def __init__(self, problems: Sequence[ConfigProblem], *, language: str | None = None) -> None:
        self.problems = list(problems)
        self.language = language
        super().__init__("\n".join(str(p) for p in self.problems))


def unknown(what: str, value: str, known: Iterable[str]) -> Message:
    """``unknown room 'x'`` (``config.ref.<what>``), with the nearest known id when one is close."""
    close = difflib.get_close_matches(value, list(known), n=1)
    if close:
        return Message(f"config.ref.{what}.close", {"value": repr(value), "close": repr(close[0])})
    return Message(f"config.ref.{what}", {"value": repr(value)})


def duplicate(ident: str, other: str) -> Message:
    """``duplicate id 'x': already used by racks[0]``."""
    return Message("config.duplicate_id", {"id": repr(ident), "other": other})


def dotted(loc: Loc) -> str:
    """``("devices", 2, "value")`` as ``devices[2].value``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
