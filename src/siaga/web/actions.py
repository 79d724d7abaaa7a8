"""Acknowledge, resolve and annotate alerts: through the alert manager, recorded in the audit log.

The alert manager (``siaga.alerts.manager``) owns alert state; the dashboard asks it to act (so the
notifier hears of it and escalation stops) and writes who did what to the audit log (``events``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Engine

from siaga.alerts.manager import AlertManager
from siaga.alerts.store import AlertError, NoSuchAlert
from siaga.i18n.messages import Message
from siaga.runtime.services import Services
from siaga.web.auth.accounts import audit
from siaga.web.errors import ApiError, worded

log = logging.getLogger("siaga.web")


def find_manager(services: Services) -> AlertManager | None:
    """The alerts hub of the runtime, when it runs one."""
    return services.alerts


async def act(services: Services, engine: Engine, action: str, alert_id: int, *, by: str, via: str,
              note: str | None, now: dt.datetime) -> None:
    """Do ``action`` (ack, resolve, note) on an alert as ``by``; raise ApiError when it cannot be done."""
    manager = find_manager(services)
    if manager is None:
        raise worded(503, "unavailable", Message("web.manager_not_running"))
    calls: dict[str, Callable[[], object]] = {  # blocking: the manager writes the store
        "ack": lambda: manager.ack(alert_id, by, via=via, note=note),
        "resolve": lambda: manager.resolve(alert_id, by, via=via, note=note),
        "note": lambda: manager.note(alert_id, by, note or "", via=via),
    }
    call = calls[action]
    try:
        await asyncio.to_thread(call)
    except AlertError as exc:
        raise refusal(exc) from exc
    except LookupError as exc:
        why = Message("alert.no_such", {"alert": alert_id})
        raise ApiError(404, "not_found", f"alert {alert_id} not found", details=why.to_json(), why=why) from exc
    except ValueError as exc:  # the API says it as it is; a page, that it cannot be done and the log says why
        log.warning("%s of alert #%s by %s refused: %s", action, alert_id, by, exc)
        why = Message("alert.action_failed", {"alert": alert_id})
        raise ApiError(409, "conflict", str(exc), details=why.to_json(), why=why) from exc
    with engine.begin() as conn:
        audit(conn, f"alert.{action}", actor=by, subject=f"alert:{alert_id}", now=now, via=via, note=note)


def refusal(exc: AlertError) -> ApiError:
    """An alert or incident action refused, as the API's error: 404 ``not_found`` for :class:`NoSuchAlert`, 409
    ``conflict`` for any other :class:`AlertError`. Like every API error its ``message`` is in English (the API
    speaks English; a person reads the dashboard); ``details`` carries the reason as its message key and
    parameters (``{"key": "alert.acknowledged_already", "params": {"alert": 5, "by": "andi"}}``), for a client
    that words it for its reader; the dashboard's pages show it worded for theirs."""
    status, code = (404, "not_found") if isinstance(exc, NoSuchAlert) else (409, "conflict")
    return worded(status, code, exc.why, details=exc.why.to_json())
