"""The ``shutdown`` step: stop one host the way its ``runbooks.hosts`` entry says (a command over SSH, a
Redfish ``GracefulShutdown``, an IPMI soft power off), then wait until it is off before the next host:
its port closed, no ping reply, or its BMC reporting the power off. A host that is off already (its BMC
says so) is not asked again. A BMC that refuses or does not answer fails the step (and, with
``on_failure: stop``, ends the runbook and pages). The ``power`` step is the wait alone."""

from __future__ import annotations

import asyncio
import os
import time

from siaga.backup import process
from siaga.config.runbooks import Host
from siaga.runbooks.plan import Action
from siaga.runbooks.steps import ipmi, redfish
from siaga.runbooks.steps.base import Outcome, StepContext, said
from siaga.runbooks.steps.bmc import BmcError
from siaga.runbooks.steps.ssh import run_command
from siaga.runbooks.steps.wait import port_open

PING_HINT = "apt-get install iputils-ping"
REQUEST_S = 10.0
"""The longest one request to a BMC (or one ping) may take."""


async def bmc_power(host: Host, ctx: StepContext, timeout_s: float = REQUEST_S) -> str:
    """The host's power state as its BMC reports it: on, off, or another Redfish state (poweringoff...)."""
    assert host.bmc is not None
    if host.bmc.protocol == "redfish":
        return await redfish.power_state(host.bmc, ctx, timeout_s)
    return await ipmi.power_state(host.bmc, ctx, timeout_s)


async def pings(address: str, ctx: StepContext, timeout_s: float = 1.0) -> bool:
    """Whether ``address`` answers one ICMP echo within ``timeout_s`` (the ping program: no root needed).
    :class:`BmcError` when ping cannot run or cannot tell (an unknown name, no route)."""
    env = dict(ctx.environ if ctx.environ is not None else os.environ)
    args = [ctx.ping, "-n", "-c", "1", "-W", str(max(1, round(timeout_s))), address]
    try:
        done = await process.run(args, env, timeout_s=timeout_s + 5, merge_stderr=True)
    except process.ProcessStartError as exc:
        raise BmcError(said("runbook.bmc.missing", error=str(exc), program="ping", hint=PING_HINT)) from None
    if done.exit_code in (0, 1):  # 1: sent, no reply
        return done.exit_code == 0
    raise BmcError(f"ping {address}: {done.stdout.decode('utf-8', 'replace').strip()}", retryable=True)


async def is_off(action: Action, ctx: StepContext) -> bool:
    """Whether the action's host is off now, by its off check. :class:`BmcError` when it cannot tell."""
    host = action.host
    assert host is not None
    if action.off_check == "power":
        return await bmc_power(host, ctx) == "off"
    assert action.address is not None
    if action.off_check == "ping":
        return not await pings(action.address, ctx)
    assert action.port is not None
    return not await port_open(action.address, action.port)


def _check_words(action: Action, until: str) -> str:
    """What "off" (or "on") means for this host, as a message key: ``runbook.check.<off_check>.<until>``."""
    state = "off" if until == "off" else "on"
    if action.off_check == "power":
        return said(f"runbook.check.power.{state}")
    if action.off_check == "ping":
        return said(f"runbook.check.ping.{state}", address=action.address)
    return said(f"runbook.check.port.{state}", address=action.address, port=action.port)


async def wait_off(action: Action, ctx: StepContext, until: str = "off") -> Outcome:
    """Poll the off check until the host is off (or, ``until="on"``, on), at most ``off_wait_s``. A BMC that
    refuses (not retryable) ends the wait at once; one that does not answer is asked again until the time is
    up."""
    begin = time.monotonic()
    what = _check_words(action, until)
    last_error = ""
    while True:
        try:
            if await is_off(action, ctx) == (until == "off"):
                waited = time.monotonic() - begin
                return Outcome(True, said("runbook.step.power.done", device=action.subject, check=what,
                                          seconds=round(waited, 1)),
                               {"waited_s": round(waited, 2), "off_check": action.off_check})
        except BmcError as exc:
            if not exc.retryable:
                return Outcome(False, str(exc), {"off_check": action.off_check})
            last_error = str(exc)
        if time.monotonic() - begin >= action.off_wait_s:
            timeout = round(action.off_wait_s)
            line = (said("runbook.step.power.timeout_last", device=action.subject, check=what, timeout=timeout,
                         error=last_error) if last_error else
                    said("runbook.step.power.timeout", device=action.subject, check=what, timeout=timeout))
            return Outcome(False, line,
                           {"timed_out": True, "off_check": action.off_check})
        await asyncio.sleep(ctx.poll_s)


async def run_wait(action: Action, ctx: StepContext) -> Outcome:
    """The ``power`` step: until the host is off (or on), by its off check, within the step's timeout."""
    return await wait_off(action, ctx, action.until or "off")


async def send(action: Action, ctx: StepContext) -> Outcome:
    """Ask the host to shut down, by its method (ssh, redfish or ipmi)."""
    host = action.host
    assert host is not None
    timeout_s = min(action.timeout_s, REQUEST_S)
    try:
        if action.via == "redfish":
            assert host.bmc is not None
            before, path = await redfish.graceful_shutdown(host.bmc, ctx, timeout_s)
            key = {"off": "runbook.step.redfish.off", "poweringoff": "runbook.step.redfish.powering_off"}.get(
                before, "runbook.step.redfish.sent")
            return Outcome(True, said(key, url=host.bmc.address, path=path, state=before),
                           {"via": "redfish", "power_before": before, "system": path})
        if action.via == "ipmi":
            assert host.bmc is not None
            before, printed = await ipmi.soft_off(host.bmc, ctx, timeout_s)
            key = "runbook.step.ipmi.off" if before == "off" else "runbook.step.ipmi.sent"
            return Outcome(True, said(key, address=host.bmc.address, port=host.bmc.port, state=before),
                {"via": "ipmi", "power_before": before, "ipmitool": printed})
    except BmcError as exc:
        return Outcome(False, str(exc), {"via": action.via})
    sent = await run_command(action, ctx)
    return Outcome(sent.ok, sent.output, {**sent.facts, "via": "ssh"})


async def run_shutdown(action: Action, ctx: StepContext) -> Outcome:
    """The shutdown request, then the host off within ``off_wait_s``."""
    sent = await send(action, ctx)
    if not sent.ok:
        return sent
    off = await wait_off(action, ctx)
    output = "\n".join(p for p in (sent.output, off.output) if p)
    return Outcome(off.ok, output, {**sent.facts, **off.facts})


__all__ = ["PING_HINT", "bmc_power", "is_off", "pings", "run_shutdown", "run_wait", "send", "wait_off"]
