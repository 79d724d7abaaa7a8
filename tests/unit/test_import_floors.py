"""No import from a lower floor to a higher one (the floors of docs/architecture.md, "Floors").

Every ``import`` of a ``siaga`` module counts: at the top of a module, inside a function (a lazy
import is still a dependency) and under ``TYPE_CHECKING``. A module belongs to the floor of the
longest pattern that names it in ``FLOORS`` (a package names its modules too; ``*`` matches any
part); within a floor, modules may import each other.
"""

from __future__ import annotations

import ast
import fnmatch
from pathlib import Path

import siaga

# Bottom to top. A module may import from its own floor and the floors below it.
FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ground", (
        "siaga", "siaga.vocab", "siaga.errors", "siaga.kinds", "siaga.snmp_profiles", "siaga.money", "siaga.netguard",
        "siaga.i18n", "siaga.jsonsafe", "siaga.waits",
    )),
    ("config", ("siaga.config",)),
    ("pure core", ("siaga.inventory", "siaga.rules")),
    ("store", ("siaga.store",)),
    ("parts", (
        "siaga.alerts", "siaga.readings", "siaga.sources", "siaga.checks", "siaga.backup", "siaga.notify",
        "siaga.reports", "siaga.audit", "siaga.peers", "siaga.runbooks", "siaga.standby", "siaga.cluster",
    )),
    ("runtime", (
        "siaga.runtime",  # the context with its typed services, the component table, supervision
        "siaga.web", "siaga.*.component",  # components, the web app and the routers of the parts
        "siaga.backup.api", "siaga.checks.status.router", "siaga.notify.web", "siaga.sources.http.push",
        "siaga.sources.simulator", "siaga.peers.web", "siaga.peers.record_web", "siaga.peers.outbox_component",
        "siaga.peers.ack_web", "siaga.peers.ack_link", "siaga.peers.ack_mirror",
        "siaga.peers.status_feed", "siaga.peers.status_web", "siaga.peers.inbound",
        "siaga.runbooks.web",
    )),
    ("cli", ("siaga.cli", "siaga.__main__")),
)

SRC = Path(siaga.__file__).parent


def floor_of(module: str) -> int:
    best, floor = -1, -1
    for i, (_, patterns) in enumerate(FLOORS):
        for p in patterns:
            if (fnmatch.fnmatchcase(module, p) or fnmatch.fnmatchcase(module, p + ".*")) and len(p) > best:
                best, floor = len(p), i
    assert floor >= 0, f"{module} is on no floor: add it to FLOORS"
    return floor


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def siaga_imports(path: Path) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [(node.lineno, n) for n in names if n == "siaga" or n.startswith("siaga.")]
    return found


def upward_imports() -> list[str]:
    bad = []
    for path in sorted(SRC.rglob("*.py")):
        importer = module_name(path)
        here = floor_of(importer)
        for line, imported in siaga_imports(path):
            there = floor_of(imported)
            if there > here:
                bad.append(f"{path.relative_to(SRC.parent)}:{line}: {importer} ({FLOORS[here][0]}) imports "
                           f"{imported} ({FLOORS[there][0]})")
    return bad


def test_no_module_imports_from_a_higher_floor() -> None:
    bad = upward_imports()
    assert not bad, "imports that climb a floor:\n" + "\n".join(bad)


def test_the_floors_are_the_ones_the_architecture_page_draws() -> None:
    page = (SRC.parents[1] / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name, prefixes in FLOORS:
        assert f"**{name}**" in page, name
        for p in prefixes:
            assert f"`{p}`" in page, p
