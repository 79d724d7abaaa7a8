"""The ``ssh`` step: a configured command on a host over SSH (a key from a file, the host's
key pinned in a known_hosts file, no prompts), run through the one executor of child processes
(:mod:`siaga.backup.process`). The ``shutdown`` step (:mod:`siaga.runbooks.steps.power`) uses it for a host
stopped over SSH."""

from __future__ import annotations

import os
from pathlib import Path

from siaga.backup import process
from siaga.config.runbooks import Host
from siaga.runbooks.plan import Action
from siaga.runbooks.steps.base import Outcome, StepContext, said, trim


def _resolve(path: str, base_dir: Path | None) -> str:
    p = Path(path)
    return str(p if p.is_absolute() or base_dir is None else base_dir / p)


def ssh_args(host: Host, command: str, base_dir: Path | None = None, ssh: str = "ssh") -> list[str]:
    """The ssh command line for ``command`` on ``host`` (pure)."""
    assert host.key_file is not None and host.known_hosts_file is not None and host.address is not None
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
        return Outcome(False, said("runbook.step.ssh.timeout", address=action.host.address,
                                   timeout=round(action.timeout_s)))
    except process.ProcessStartError as exc:
        return Outcome(False, str(exc))
    out = trim(done.stdout.decode("utf-8", "replace"))
    return Outcome(done.exit_code == 0, out, {"exit_code": done.exit_code})


async def run(action: Action, ctx: StepContext) -> Outcome:
    return await run_command(action, ctx)
