"""Cross checks of the notification, escalation and maintenance sections (pure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from siaga.config.errors import Loc, duplicate, unknown
from siaga.config.types import SECRET_KEY, format_duration
from siaga.i18n.messages import Message

if TYPE_CHECKING:
    from siaga.config.models import SiteConfig

Finding = tuple[Loc, Message]


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
            out.append((loc, unknown(what, value, known)))

    for i, person in enumerate(cfg.people):
        for name in person.contacts:
            if SECRET_KEY.search(name):
                continue  # reported as an inline secret already
            ref(("people", i, "contacts", name), name, channels, "channel")
    for i, group in enumerate(note.groups):
        if group.id in groups:
            first = [g.id for g in note.groups].index(group.id)
            out.append((("notification", "groups", i, "id"), duplicate(group.id, f"notification.groups[{first}]")))
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
            out.append((loc, Message("config.not_telegram", {"channel": repr(bot)})))

    policies: set[str] = set()
    group_window = note.storm.group_window
    for i, policy in enumerate(cfg.escalation):
        if policy.id in policies:
            first = [p.id for p in cfg.escalation].index(policy.id)
            out.append((("escalation", i, "id"), duplicate(policy.id, f"escalation[{first}]")))
        policies.add(policy.id)
        every = policy.repeat_every
        if every is not None and every < group_window:
            out.append((
                ("escalation", i, "repeat_every"),
                Message("config.repeat_short", {"every": format_duration(every),
                                                "window": format_duration(group_window)}),
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
                    ref((*at, key, j), w, windows, "window")

    places = {r.id for r in cfg.rooms} | {r.id for r in cfg.racks} | {d.id for d in cfg.devices}
    for i, window in enumerate(cfg.maintenance):
        for j, place in enumerate(window.places):
            ref(("maintenance", i, "places", j), place, places, "place")
    return out
