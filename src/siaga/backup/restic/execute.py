"""How restic runs: environment with RESTIC_PASSWORD_FILE, secrets masked in logs, SIGINT to stop.

Every restic process goes through the backup part's one executor (``siaga.backup.process``) with the
:data:`~siaga.backup.process.RESTIC` stop policy: restic is only ever stopped with SIGINT (SIGTERM would leave
a stale lock in the repository); when it does not stop within a grace period it is killed, and the next
exclusive step unlocks the stale lock. This module adds what is restic's own: the password file, the
environment, and the classification of a failed run.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence

from siaga.backup import process
from siaga.backup.process import RESTIC, Completed, Running, masked
from siaga.backup.restic.errors import ResticError, ResticFailure, classify
from siaga.backup.restic.repository import Repository
from siaga.i18n.messages import Message

log = logging.getLogger("siaga.backup.restic")

__all__ = ["Completed", "Running", "masked", "restic_env", "run", "started"]

_DROP_ENV = (
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY",
    "RESTIC_REPOSITORY_FILE",
    "RESTIC_FROM_PASSWORD",
    "RESTIC_FROM_PASSWORD_COMMAND",
)


def restic_env(
    password_file: str, *, from_password_file: str | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment restic runs in: ours minus any RESTIC_* password, plus RESTIC_PASSWORD_FILE (always:
    without it restic 0.14 would read the password from a piped dump)."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if k not in _DROP_ENV}
    env["RESTIC_PASSWORD_FILE"] = password_file
    if from_password_file is not None:
        env["RESTIC_FROM_PASSWORD_FILE"] = from_password_file
    env.setdefault("RESTIC_PROGRESS_FPS", "0.2")
    return env


def _not_found(exc: process.ProcessStartError) -> ResticError:
    return ResticError(ResticFailure.missing_binary, Message("restic.missing", {"program": exc.program}))


@contextlib.asynccontextmanager
async def started(
    args: Sequence[str],
    repo: Repository,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    drain_stdout: bool = True,
) -> AsyncIterator[Running]:
    """Start restic with a pipe on stdin; on any exit from the block that did not finish it, SIGINT.
    With ``drain_stdout=False`` the caller reads ``stdout`` itself (``restic dump``)."""
    with repo.password_path(environ) as password_file:
        env = restic_env(password_file, environ=environ)
        async with process.started(
            args, env, policy=RESTIC, secrets=secrets, drain_stdout=drain_stdout, on_start_error=_not_found
        ) as running:
            yield running


async def run(
    args: Sequence[str],
    repo: Repository,
    *,
    from_repo: Repository | None = None,
    environ: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    check: bool = True,
    timeout_s: float | None = None,
) -> Completed:
    """Run restic to the end and return what it said; raise a classified :class:`ResticError` when it
    failed (``check``). Cancelled or timed out: SIGINT, never SIGTERM."""
    with contextlib.ExitStack() as stack:
        password_file = stack.enter_context(repo.password_path(environ))
        from_file = stack.enter_context(from_repo.password_path(environ)) if from_repo is not None else None
        env = restic_env(password_file, from_password_file=from_file, environ=environ)
        try:
            done = await process.run(args, env, policy=RESTIC, timeout_s=timeout_s, secrets=secrets)
        except process.ProcessStartError as exc:
            raise _not_found(exc) from None
    if check and done.exit_code != 0:
        raise classify(done.exit_code, done.stderr, repository=repo.display)
    return done
