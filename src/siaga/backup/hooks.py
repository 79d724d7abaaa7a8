"""A job's ``hooks.before`` / ``hooks.after`` commands, run through the backup part's one executor."""

from __future__ import annotations

import os
from collections.abc import Mapping

from siaga.backup import process
from siaga.backup.site import BackupError
from siaga.config.backup import BackupJob
from siaga.i18n.messages import Message

HOOK_OUTPUT_LIMIT = 400


async def run_hooks(job: BackupJob, commands: list[list[str]], extra_env: Mapping[str, str]) -> None:
    """Run each command in turn; the first that cannot start, fails or outlives ``hooks.timeout`` raises."""
    timeout = job.hooks.timeout.total_seconds()
    env = {**os.environ, **extra_env, "SIAGA_JOB": job.id}
    for argv in commands:
        try:
            done = await process.run(argv, env, timeout_s=timeout, merge_stderr=True)
        except process.ProcessStartError as exc:
            raise BackupError(Message("backup.hook.start", {"hook": argv[0], "job": job.id, "error": exc.reason}),
                              "hook") from None
        except TimeoutError:
            raise BackupError(Message("backup.hook.timeout", {"hook": argv[0], "job": job.id, "limit_s": timeout}),
                              "hook") from None
        if done.exit_code != 0:
            tail = done.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise BackupError(
                Message("backup.hook.failed", {"hook": argv[0], "job": job.id, "code": done.exit_code,
                                               "output": tail[0][:HOOK_OUTPUT_LIMIT] or "-"}),
                "hook",
            )
