"""IPMI over LAN: a chassis's power state and a soft power off (the ACPI power button: the operating system
shuts down cleanly), through ``ipmitool -I lanplus`` run by the one executor of child processes. The command
is built as data (:func:`ipmitool_args`); the password never sits on it (``-f`` its file, or ``-E`` with
``IPMI_PASSWORD`` in the child's environment)."""

from __future__ import annotations

import os
from pathlib import Path

from siaga.backup import process
from siaga.config.runbooks import Bmc
from siaga.runbooks.steps.base import StepContext, said, trim
from siaga.runbooks.steps.bmc import BmcError, password, resolve

INSTALL_HINT = "apt-get install ipmitool"


def ipmitool_args(bmc: Bmc, words: list[str], base_dir: Path | None = None, ipmitool: str = "ipmitool") -> list[str]:
    """The ipmitool command line for ``words`` (e.g. ``["chassis", "power", "soft"]``) on ``bmc`` (pure)."""
    args = [ipmitool, "-I", "lanplus", "-C", str(bmc.cipher_suite), "-H", bmc.address, "-p", str(bmc.port),
            "-U", bmc.user, "-N", "1", "-R", "2"]
    if bmc.password_file is not None:
        args += ["-f", resolve(bmc.password_file, base_dir)]
    else:
        args += ["-E"]
    return [*args, *words]


async def ipmitool(bmc: Bmc, words: list[str], ctx: StepContext, timeout_s: float) -> str:
    """Run ipmitool ``words`` on ``bmc``; what it printed. :class:`BmcError` when it failed or is missing."""
    env = dict(ctx.environ if ctx.environ is not None else os.environ)
    secret = password(bmc, ctx)  # read here too: a missing file is named before ipmitool runs
    if bmc.password_file is None:
        env["IPMI_PASSWORD"] = secret
    try:
        done = await process.run(ipmitool_args(bmc, words, ctx.base_dir, ctx.ipmitool), env, timeout_s=timeout_s,
                                 secrets=[secret], merge_stderr=True)
    except TimeoutError:
        raise BmcError(said("runbook.bmc.ipmi.timeout", address=bmc.address, port=bmc.port,
                            timeout=round(timeout_s)), retryable=True) from None
    except process.ProcessStartError as exc:
        raise BmcError(said("runbook.bmc.missing", error=str(exc), program="ipmitool", hint=INSTALL_HINT)) from None
    out = trim(done.stdout.decode("utf-8", "replace"))
    if done.exit_code != 0:
        # ipmitool says the same for a wrong password and a BMC that did not answer: it may come back
        if not out:
            raise BmcError(said("runbook.bmc.ipmi.exit", address=bmc.address, port=bmc.port, code=done.exit_code),
                           retryable=True)
        raise BmcError(f"IPMI {bmc.address}:{bmc.port}: {out}", retryable=True)
    return out


def parse_power(text: str) -> str:
    """``Chassis Power is on`` -> ``on`` (``unknown`` when ipmitool printed something else)."""
    last = text.strip().splitlines()[-1].strip().lower() if text.strip() else ""
    for state in ("on", "off"):
        if last.endswith(f" is {state}"):
            return state
    return "unknown"


async def power_state(bmc: Bmc, ctx: StepContext, timeout_s: float = 10.0) -> str:
    """The chassis power state: on, off or unknown."""
    return parse_power(await ipmitool(bmc, ["chassis", "power", "status"], ctx, timeout_s))


async def soft_off(bmc: Bmc, ctx: StepContext, timeout_s: float = 10.0) -> tuple[str, str]:
    """A soft power off (unless it is off already): (its power state before, what ipmitool said)."""
    before = await power_state(bmc, ctx, timeout_s)
    if before == "off":
        return before, ""
    return before, await ipmitool(bmc, ["chassis", "power", "soft"], ctx, timeout_s)


__all__ = ["INSTALL_HINT", "ipmitool", "ipmitool_args", "parse_power", "power_state", "soft_off"]
