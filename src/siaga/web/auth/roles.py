"""Roles of people and scopes of API tokens, as tables (pure)."""

from __future__ import annotations

from enum import StrEnum

from siaga.errors import SiagaError


class Role(StrEnum):
    viewer = "viewer"  # sees everything the dashboard shows (secrets never)
    operator = "operator"  # acknowledges, resolves, writes notes, sets maintenance
    admin = "admin"  # manages people and API tokens

    @property
    def rank(self) -> int:
        return {"viewer": 0, "operator": 1, "admin": 2}[self.value]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Scope(StrEnum):
    read = "read"  # GET everything of /api/v1
    ack = "ack"  # acknowledge, resolve, add notes, maintenance
    admin = "admin"  # people and tokens
    ingest = "ingest"  # push readings


# What a person of each role may do, in token scopes (a session acts with these).
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.viewer: frozenset({Scope.read}),
    Role.operator: frozenset({Scope.read, Scope.ack}),
    Role.admin: frozenset({Scope.read, Scope.ack, Scope.admin}),
}


class UnknownScope(SiagaError, ValueError):
    """A scope siaga does not have: ``name``."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown scope {name!r}: choose from {', '.join(s.value for s in Scope)}")
        self.name = name


def parse_scopes(values: list[str] | str) -> frozenset[Scope]:
    """Scopes from ``["read", "ack"]`` or ``"read,ack"``; raise UnknownScope (a ValueError) naming an unknown one."""
    items = values.split(",") if isinstance(values, str) else values
    out = set()
    for item in items:
        name = item.strip()
        if not name:
            continue
        try:
            out.add(Scope(name))
        except ValueError:
            raise UnknownScope(name) from None
    return frozenset(out)
