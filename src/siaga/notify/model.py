"""Values the notify core passes around (pure data)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Why a message goes out."""

    page = "page"  # an escalation step is due
    repeat = "repeat"  # nobody acknowledged: the last step again
    repage = "repage"  # acknowledged but still firing after a while
    acknowledged = "acknowledged"  # notice: someone took it
    resolved = "resolved"  # notice: it is over
    followup = "followup"  # a service went down too while its probable cause already pages: told, not paged
    test = "test"  # `siaga notify test`

    @property
    def is_notice(self) -> bool:
        return self in (Kind.acknowledged, Kind.resolved)

    @property
    def family(self) -> str:
        """Messages of one family fold together in a storm: pages (and reminders), follow-ups, each notice."""
        return "page" if self in (Kind.page, Kind.repeat, Kind.repage) else self.value


@dataclass(frozen=True, order=True)
class Recipient:
    """A person or a group, by config id."""

    kind: str  # "person" | "group"
    id: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, key: str) -> Recipient:
        kind, _, ident = key.partition(":")
        return cls(kind, ident)


@dataclass(frozen=True)
class Page:
    """The planner's decision: tell ``recipient`` (on ``channels``, else ``fallback`` in order) about one alert."""

    alert_id: int
    kind: Kind
    step: int  # index of the escalation step (-1 for notices and re-pages)
    round: int  # 0 for the first time, 1.. for repeats and re-pages
    recipient: Recipient
    channels: tuple[str, ...]  # empty: every channel the recipient has
    fallback: tuple[str, ...] = ()


@dataclass(frozen=True)
class Sent:
    """What the planner needs to know of a page already decided (the history)."""

    kind: Kind
    step: int
    round: int
    recipient: Recipient
    at: dt.datetime
    policy: str | None = None  # the policy it was planned under (None: unknown, matches any)
    told: bool = True  # False: withheld at send time (the alert changed first); still never planned again
