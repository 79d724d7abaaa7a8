"""Redfish: a system's power state and ``ComputerSystem.Reset`` with ``GracefulShutdown``, through sushy
(the OpenStack Redfish library). sushy is synchronous: each call runs in a worker thread, with HTTP basic
authentication (no session left open on the BMC), bounded timeouts and one attempt per request (the
runbook's own timeout and polling decide how long to try)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from siaga.config.runbooks import Bmc
from siaga.runbooks.steps.base import StepContext, said
from siaga.runbooks.steps.bmc import BmcError, password, resolve

SYSTEMS = "/redfish/v1/Systems/"


def system_path(bmc: Bmc) -> str | None:
    """The configured system as a path (an id is taken under /redfish/v1/Systems/), or None: the only one."""
    if bmc.system is None:
        return None
    return bmc.system if bmc.system.startswith("/") else SYSTEMS + bmc.system


def _verify(bmc: Bmc, base_dir: Path | None) -> bool | str:
    return resolve(bmc.ca_file, base_dir) if bmc.ca_file is not None else bmc.verify_tls


def _error(bmc: Bmc, exc: Exception) -> BmcError:
    import sushy.exceptions

    if isinstance(exc, sushy.exceptions.AccessError):
        return BmcError(said("runbook.bmc.redfish.refused", url=bmc.address, user=bmc.user))
    if isinstance(exc, sushy.exceptions.ResourceNotFoundError):
        return BmcError(said("runbook.bmc.redfish.no_system", url=bmc.address, path=system_path(bmc)))
    return BmcError(f"Redfish {bmc.address}: {exc}", retryable=True)


def _system(bmc: Bmc, secret: str, base_dir: Path | None, timeout_s: float) -> Any:
    import sushy
    from sushy.auth import BasicAuth

    conn = sushy.Sushy(
        bmc.address.rstrip("/"), auth=BasicAuth(bmc.user, secret), verify=_verify(bmc, base_dir),
        server_side_retries=1, connect_timeout=timeout_s, read_timeout=timeout_s,
    )
    path = system_path(bmc)
    if path is None:
        members = sorted(conn.get_system_collection().members_identities)
        if len(members) != 1:
            raise BmcError(said("runbook.bmc.redfish.systems", url=bmc.address, count=len(members),
                                systems=", ".join(members) or "-"))
        path = members[0]
    return conn.get_system(path)


def _call(bmc: Bmc, ctx: StepContext, timeout_s: float, shutdown: bool) -> tuple[str, str]:
    """(power state before, system path), after asking for a graceful shutdown when ``shutdown`` and it is
    neither off nor powering off already."""
    import requests
    import sushy

    try:
        system = _system(bmc, password(bmc, ctx), ctx.base_dir, timeout_s)
        state = system.power_state
        before = state.value.lower() if state is not None else "unknown"
        if shutdown and state not in (sushy.PowerState.OFF, sushy.PowerState.POWERING_OFF):
            system.reset_system(sushy.ResetType.GRACEFUL_SHUTDOWN)
        return before, str(system.path)
    except BmcError:
        raise
    except (sushy.exceptions.SushyError, requests.RequestException, OSError, ValueError) as exc:
        raise _error(bmc, exc) from None


async def power_state(bmc: Bmc, ctx: StepContext, timeout_s: float = 10.0) -> str:
    """The system's power state, lowercase: on, off, poweringoff, poweringon, paused, unknown."""
    state, _path = await asyncio.to_thread(_call, bmc, ctx, timeout_s, False)
    return state


async def graceful_shutdown(bmc: Bmc, ctx: StepContext, timeout_s: float = 10.0) -> tuple[str, str]:
    """Ask the system to shut down gracefully (unless it is off already): (its power state before, its path)."""
    return await asyncio.to_thread(_call, bmc, ctx, timeout_s, True)


__all__ = ["graceful_shutdown", "power_state", "system_path"]
