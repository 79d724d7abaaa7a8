"""Acknowledge, resolve and annotate alerts: through the alert manager, recorded in the audit log.

The alert manager (``siaga.alerts.manager``) owns alert state; the dashboard asks it to act (so the
notifier hears of it and escalation stops) and writes who did what to the audit log (``events``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
from typing import Any

from sqlalchemy import Engine

from siaga.alerts.manager import AlertManager
from siaga.alerts.store import AlertError
from siaga.runtime.services import Services
from siaga.web.auth.accounts import audit
from siaga.web.errors import ApiError

_METHODS = {
    "ack": ("ack", "acknowledge"),
    "resolve": ("resolve",),
    "note": ("note", "add_note"),
}


def find_manager(services: Services) -> AlertManager | None:
    """The alerts hub of the runtime, when it runs one."""
    return services.alerts


async def act(services: Services, engine: Engine, action: str, alert_id: int, *, by: str, via: str,
              note: str | None, now: dt.datetime) -> None:
    """Do ``action`` (ack, resolve, note) on an alert as ``by``; raise ApiError when it cannot be done."""
    manager = find_manager(services)
    method = None
    if manager is not None:
        for name in _METHODS[action]:
            method = getattr(manager, name, None)
            if method is not None:
                break
    if method is None:
        raise ApiError(503, "unavailable", "the alert manager is not running: alerts cannot be changed now")
    kwargs: dict[str, Any] = {"by": by, "via": via}
    params = inspect.signature(method).parameters
    if action == "note":
        kwargs["note" if "note" in params else "text"] = note or ""
    elif "note" in params:
        kwargs["note"] = note
    kwargs = {k: v for k, v in kwargs.items() if k in params or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())}
    try:
        result = await asyncio.to_thread(method, alert_id, **kwargs)
        if inspect.isawaitable(result):
            await result
    except LookupError as exc:
        raise ApiError(404, "not_found", f"alert {alert_id} not found") from exc
    except (AlertError, ValueError) as exc:
        if str(exc).startswith("no alert"):
            raise ApiError(404, "not_found", f"alert {alert_id} not found") from exc
        raise ApiError(409, "conflict", str(exc)) from exc
    with engine.begin() as conn:
        audit(conn, f"alert.{action}", actor=by, subject=f"alert:{alert_id}", now=now, via=via, note=note)
