"""What a component of ``siaga serve`` is, and how the tables of ``siaga.runtime.registry`` are loaded.

A component is a name and ``async def run(ctx, stop)``: it works until ``stop`` is set, then flushes
what it holds and returns (it gets :data:`siaga.runtime.supervisor.GRACE_SECONDS` for that). ``stop``
is its own: a component that raises, or returns while siaga is not stopping, is started again after a
pause (:mod:`siaga.runtime.supervisor`); it never ends siaga.

An entry of the tables (``COMPONENTS``, ``DEMO_COMPONENTS`` in ``siaga.runtime.registry``) is a
:class:`Component` or a factory ``(ctx) -> Component | Iterable[Component] | None``. Factories run in
table order before anything starts: a factory is where a feature reads its config section, sets the services it provides
(typed fields of ``ctx.services``, :class:`siaga.runtime.services.Services`) and returns nothing when
it has nothing to do.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from siaga.errors import ComponentError
from siaga.i18n import _

if TYPE_CHECKING:
    from siaga.runtime.context import RuntimeContext

__all__ = [
    "Component", "ComponentEntry", "ComponentError", "ComponentFactory", "ComponentRun", "load_components", "resolve",
]

ComponentRun = Callable[["RuntimeContext", asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Component:
    """One long-running part of siaga."""

    name: str
    run: ComponentRun
    critical: bool = False
    """When it fails before it has called :func:`siaga.runtime.supervisor.mark_ready` (it cannot start: the
    web server's port is taken), siaga stops with exit 1; once it has been up, it is restarted like any other."""
    role: str | None = None
    """A singleton duty (one process of a cluster does it): the component runs only while this process
    holds the role's lease (:class:`siaga.cluster.keeper.Cluster`), and is stopped when it loses it."""


ComponentFactory = Callable[["RuntimeContext"], "Component | Iterable[Component] | None"]

ComponentEntry = Component | ComponentFactory
"""A line of the component tables (``siaga.runtime.registry``)."""


def resolve(entry: object) -> object:
    """The entry itself; a ``"module:attribute"`` string (a plug-in outside the tables, a test) is imported."""
    if not isinstance(entry, str):
        return entry
    module_name, _, attr = entry.partition(":")
    if not attr:
        raise ValueError(f"component entry {entry!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module_name), attr)


def load_components(ctx: RuntimeContext, entries: Iterable[ComponentEntry | str]) -> list[Component]:
    """Resolve the entries, run the factories (in order) and return the components to run."""
    out: list[Component] = []
    for entry in entries:
        target = resolve(entry)
        made = target if isinstance(target, Component) else target(ctx) if callable(target) else None
        if made is None:
            continue
        if isinstance(made, Component):
            out.append(made)
        else:
            out.extend(made)
    names = [c.name for c in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ComponentError(_("two components share a name: {names}").format(names=", ".join(duplicates)))
    return out
