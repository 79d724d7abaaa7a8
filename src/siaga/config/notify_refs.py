"""Cross checks of the notification, escalation and maintenance sections (pure)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from siaga.config.errors import Loc
from siaga.config.types import SECRET_KEY, format_duration

if TYPE_CHECKING:
    from siaga.config.models import SiteConfig

Finding = tuple[Loc, str]


def _hint(value: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_notify_references(cfg: SiteConfig) -> list[Finding]:
    """Every unknown channel, person, group, window or inventory id the notify sections name."""
    out: list[Finding] = []
    note = cfg.notification
    channels = set(note.channels)
    people = {p.id for p in cfg.people}
    groups: set[str] = set()
    windows = set(note.windows)

    def ref(loc: Loc, value: str, known: set[str], what: str) -> None:
        if value not in known:
            out.append((loc, f"unknown {what} {value!r}{_hint(value, known)}"))

    for i, person in enumerate(cfg.people):
        for name in person.contacts:
            if SECRET_KEY.search(name):
                continue  # reported as an inline secret already
            ref(("people", i, "contacts", name), name, channels, "channel")
    for i, group in enumerate(note.groups):
        if group.id in groups:
            out.append((("notification", "groups", i, "id"), f"duplicate id {group.id!r}"))
        groups.add(group.id)
        for j, member in enumerate(group.members):
            ref(("notification", "groups", i, "members", j), member, people, "person")
        for name in group.contacts:
            ref(("notification", "groups", i, "contacts", name), name, channels, "channel")
    if note.telegram_bot is not None:
        bot = note.telegram_bot.channel
        loc: Loc = ("notification", "telegram_bot", "channel")
        ref(loc, bot, channels, "channel")
        if bot in note.channels and note.channels[bot].type != "telegram":
            out.append((loc, f"channel {bot!r} is not a telegram channel"))

    policies: set[str] = set()
    group_window = note.storm.group_window
    for i, policy in enumerate(cfg.escalation):
        if policy.id in policies:
            out.append((("escalation", i, "id"), f"duplicate id {policy.id!r}"))
        policies.add(policy.id)
        every = policy.repeat_every
        if every is not None and every < group_window:
            out.append((
                ("escalation", i, "repeat_every"),
                f"repeat_every {format_duration(every)} is shorter than notification.storm.group_window "
                f"{format_duration(group_window)}: reminders of one incident cannot leave more often than the window; "
                f"make repeat_every at least {format_duration(group_window)} or shorten the window",
            ))
        for s, step in enumerate(policy.steps):
            at: Loc = ("escalation", i, "steps", s)
            for j, p in enumerate(step.people):
                ref((*at, "people", j), p, people, "person")
            for j, g in enumerate(step.groups):
                ref((*at, "groups", j), g, groups, "group")
            for key in ("channels", "fallback"):
                for j, c in enumerate(getattr(step, key)):
                    ref((*at, key, j), c, channels, "channel")
            for key in ("when", "unless"):
                for j, w in enumerate(getattr(step, key)):
                    ref((*at, key, j), w, windows, "time window")

    places = {r.id for r in cfg.rooms} | {r.id for r in cfg.racks} | {d.id for d in cfg.devices}
    for i, window in enumerate(cfg.maintenance):
        for j, place in enumerate(window.places):
            ref(("maintenance", i, "places", j), place, places, "room, rack or device")
    return out
