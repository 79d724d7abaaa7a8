"""Row leases on PostgreSQL: take, renew, check and give up a role, with a fencing token.

A role is one row of ``cluster_leases``. To take or renew it a process locks the row with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a row another process is renewing right now is skipped, never
waited for), then:

- it is the holder with the same token: the lease is renewed (``expires_at`` moves on);
- the lease has expired (its holder stopped renewing): the role is taken, the token goes up by one;
- else someone else holds it: nothing changes.

The token is the fence: a write made for a role checks, in its own transaction, that the row still
carries the writer's holder and token and has not expired (:func:`check`, which locks the row ``FOR
SHARE`` so no takeover commits in between). A paused old holder that wakes finds a higher token and
writes nothing. Times are the processes' clocks (UTC): keep the machines on NTP.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from siaga.cluster.tables import cluster_leases
from siaga.errors import SiagaError

BUSY = "busy"
"""What :func:`take_or_renew` says when the row is locked by another transaction right now (a takeover, or
a write of the holder checking its fence): nothing is known, try again at the next round."""


class LeaseLost(SiagaError):
    """A write for a role whose lease this process no longer holds (another process took it)."""


class Fence(Protocol):
    """What a role's writer checks (:class:`siaga.cluster.component.RoleFence`)."""

    def held(self) -> bool:
        """Held here now, by this process's own (monotonic) clock."""
        ...

    def check(self, conn: Connection, now: dt.datetime) -> None:
        """In the write's transaction: raise :class:`LeaseLost` unless the store says the token is current."""
        ...


@dataclass(frozen=True)
class Lease:
    role: str
    holder: str
    session_id: int | None
    token: int
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime


def _lease(row: object) -> Lease:
    return Lease(row.role, row.holder, row.session_id, int(row.token), row.acquired_at,  # type: ignore[attr-defined]
                 row.renewed_at, row.expires_at)  # type: ignore[attr-defined]


def take_or_renew(conn: Connection, role: str, holder: str, session_id: int | None, now: dt.datetime,
                  lease: dt.timedelta) -> Lease | str | None:
    """The lease of ``role`` after this call: this holder's (taken or renewed), or another process's (its
    ``holder`` is not ``holder``: when it ends, try again); :data:`BUSY` when the row is locked now; None
    when another process created the row first."""
    q = select(cluster_leases).where(cluster_leases.c.role == role).with_for_update(skip_locked=True)
    row = conn.execute(q).first()
    if row is None:
        exists = conn.execute(select(cluster_leases.c.role).where(cluster_leases.c.role == role)).first()
        if exists is not None:
            return BUSY  # locked by a process renewing or taking it, or by the holder's fenced write
        try:
            with conn.begin_nested():
                conn.execute(insert(cluster_leases).values(
                    role=role, holder=holder, session_id=session_id, token=1, acquired_at=now, renewed_at=now,
                    expires_at=now + lease))
        except IntegrityError:
            return None  # another process created it first
        return Lease(role, holder, session_id, 1, now, now, now + lease)
    current = _lease(row)
    if current.holder == holder:
        conn.execute(update(cluster_leases).where(cluster_leases.c.role == role)
                     .values(renewed_at=now, expires_at=now + lease))
        return Lease(role, holder, session_id, current.token, current.acquired_at, now, now + lease)
    if current.expires_at > now:
        return current
    token = current.token + 1
    conn.execute(update(cluster_leases).where(cluster_leases.c.role == role).values(
        holder=holder, session_id=session_id, token=token, acquired_at=now, renewed_at=now, expires_at=now + lease))
    return Lease(role, holder, session_id, token, now, now, now + lease)


def check(conn: Connection, role: str, holder: str, token: int, now: dt.datetime) -> None:
    """Raise :class:`LeaseLost` unless ``holder`` still holds ``role`` with ``token``; lock the row until the
    transaction ends, so the write that follows is made under the lease."""
    row = conn.execute(select(cluster_leases).where(cluster_leases.c.role == role).with_for_update(read=True)).first()
    if row is None or row.holder != holder or int(row.token) != token or row.expires_at <= now:
        raise LeaseLost(f"the lease of {role} is no longer held by {holder} (token {token})")


def release(conn: Connection, role: str, holder: str, token: int) -> None:
    """Give the role up at a clean stop: its lease ends now (the next process takes it at once, not after the
    lease); the row stays, so the token keeps growing."""
    conn.execute(update(cluster_leases).where(cluster_leases.c.role == role, cluster_leases.c.holder == holder,
                                              cluster_leases.c.token == token)
                 .values(expires_at=cluster_leases.c.renewed_at))


def all_leases(conn: Connection) -> list[Lease]:
    return [_lease(r) for r in conn.execute(select(cluster_leases).order_by(cluster_leases.c.role))]
