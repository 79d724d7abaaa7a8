"""The ``ssh`` and ``shutdown`` steps: a configured command on a host over SSH (a key from a file, the host's
key pinned in a known_hosts file, no prompts), run through the one executor of child processes
(:mod:`siaga.backup.process`); ``shutdown`` then waits for the host to be off (its port closed)."""

from __future__ import annotations

import os
from pathlib import Path

from siaga.backup import process
from siaga.config.runbooks import Host
from siaga.runbooks.plan import Action
from siaga.runbooks.steps.base import Outcome, StepContext, trim
from siaga.runbooks.steps.wait import wait_port


def _resolve(path: str, base_dir: Path | None) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or base_dir is None else base_dir / p)


def ssh_args(host: Host, command: str, base_dir: Path | None = None, ssh: str = "ssh") -> list[str]:
    """The ssh command line for ``command`` on ``host`` (pure)."""
    return [
        ssh, "-p", str(host.port),
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=10",
        "-i", _resolve(host.key_file, base_dir), "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={_resolve(host.known_hosts_file, base_dir)}", "-o", "StrictHostKeyChecking=yes",
        f"{host.user}@{host.address}", command,
    ]


async def run_command(action: Action, ctx: StepContext) -> Outcome:
    assert action.host is not None and action.command is not None
    env = dict(ctx.environ if ctx.environ is not None else os.environ)
    try:
        done = await process.run(
            ssh_args(action.host, action.command, ctx.base_dir), env, timeout_s=action.timeout_s, merge_stderr=True
        )
    except TimeoutError:
        return Outcome(False, f"ssh {action.host.address}: no answer within {action.timeout_s:.0f}s")
    except process.ProcessStartError as exc:
        return Outcome(False, str(exc))
    out = trim(done.stdout.decode("utf-8", "replace"))
    return Outcome(done.exit_code == 0, out, {"exit_code": done.exit_code})


async def run(action: Action, ctx: StepContext) -> Outcome:
    return await run_command(action, ctx)


async def run_shutdown(action: Action, ctx: StepContext) -> Outcome:
    """The shutdown command, then the host's port closed within ``off_wait_s``."""
    sent = await run_command(action, ctx)
    if not sent.ok:
        return sent
    assert action.address is not None and action.port is not None
    off = await wait_port(action.address, action.port, "closed", action.off_wait_s, ctx.poll_s)
    output = "\n".join(p for p in (sent.output, off.output) if p)
    return Outcome(off.ok, output, {**sent.facts, **off.facts})
