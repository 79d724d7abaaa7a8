"""The inventory's errors as one line for people, in the current language (CLI and API share it)."""

from __future__ import annotations

from siaga.i18n import _
from siaga.inventory.targets import AmbiguousTarget, TargetError, UnknownTarget


def target_error_line(err: TargetError) -> str:
    """One line, in the current language, for a target that cannot be found or told apart."""
    if isinstance(err, AmbiguousTarget):
        return _("{query!r} names more than one thing: say which, e.g. {choices}").format(
            query=err.query, choices=_(" or ").join(err.choices)
        )
    if isinstance(err, UnknownTarget):
        line = _("no room, rack, device, service or sensor is called {query!r}").format(query=err.query)
        if err.choices:
            line += _("; did you mean {choices}?").format(choices=_(" or ").join(repr(c) for c in err.choices))
        return line
    return _("{target} has no contents: ask about a room or a rack").format(target=err.query)
