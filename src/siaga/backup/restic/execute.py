"""The one place restic runs: environment with RESTIC_PASSWORD_FILE, secrets masked in logs, SIGINT to stop.

restic is only ever stopped with SIGINT (SIGTERM would leave a stale lock in the repository); when it does
not stop within a grace period it is killed, and the next exclusive step unlocks the stale lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shlex
import signal
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

from siaga.backup.restic.errors import ResticError, classify
from siaga.backup.restic.repository import Repository, mask_url

log = logging.getLogger("siaga.backup.restic")

INTERRUPT_GRACE_S = 30.0
_DROP_ENV = (
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_COMMAND",
    "RESTIC_REPOSITORY",
    "RESTIC_REPOSITORY_FILE",
    "RESTIC_FROM_PASSWORD",
    "RESTIC_FROM_PASSWORD_COMMAND",
)


@dataclass(frozen=True)
class Completed:
    """A finished restic run."""

    args: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: str
    duration_s: float


def masked(args: Sequence[str], secrets: Sequence[str] = ()) -> str:
    """The command line as it may be logged: URL passwords and known secret values replaced by ***."""
    text = shlex.join(args)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return mask_url(text)


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


async def interrupt(proc: asyncio.subprocess.Process, grace_s: float = INTERRUPT_GRACE_S) -> None:
    """Stop a restic process the way restic wants: SIGINT, then (only if it hangs) SIGKILL."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), grace_s)
    except TimeoutError:
        log.warning("restic pid %s ignored SIGINT for %.0fs: killing it", proc.pid, grace_s)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


class RunningRestic:
    """A started restic whose stdin siaga feeds (database dumps); stdout and stderr are drained meanwhile."""

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        args: tuple[str, ...],
        started: float,
        *,
        drain_stdout: bool = True,
    ) -> None:
        self.proc = proc
        self.args = args
        self.started = started
        assert proc.stdout is not None and proc.stderr is not None
        self._out: asyncio.Future[bytes] | None = (
            asyncio.ensure_future(proc.stdout.read()) if drain_stdout else None
        )
        self._err = asyncio.ensure_future(proc.stderr.read())

    async def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def close_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.proc.stdin.wait_closed()

    async def interrupt(self) -> None:
        await interrupt(self.proc)

    async def wait(self) -> Completed:
        code = await self.proc.wait()
        out = await self._out if self._out is not None else b""
        err = await self._err
        return Completed(
            self.args, code, out, err.decode("utf-8", "replace"), time.monotonic() - self.started
        )


async def _spawn(
    args: Sequence[str], env: Mapping[str, str], *, stdin: int | None
) -> asyncio.subprocess.Process:
    try:
        return await asyncio.create_subprocess_exec(
            *args, stdin=stdin, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=dict(env)
        )
    except FileNotFoundError:
        from siaga.backup.restic.binary import INSTALL_HINT
        from siaga.backup.restic.errors import ResticFailure

        raise ResticError(
            ResticFailure.missing_binary, f"restic not found ({args[0]}): {INSTALL_HINT}"
        ) from None


@contextlib.asynccontextmanager
async def started(
    args: Sequence[str],
    repo: Repository,
    *,
    environ: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    drain_stdout: bool = True,
) -> AsyncIterator[RunningRestic]:
    """Start restic with a pipe on stdin; on any exit from the block that did not finish it, SIGINT.
    With ``drain_stdout=False`` the caller reads ``proc.stdout`` itself (``restic dump``)."""
    with repo.password_path(environ) as password_file:
        env = restic_env(password_file, environ=environ)
        log.info("restic: %s", masked(args, secrets))
        proc = await _spawn(args, env, stdin=asyncio.subprocess.PIPE)
        running = RunningRestic(proc, tuple(args), time.monotonic(), drain_stdout=drain_stdout)
        try:
            yield running
        finally:
            if proc.returncode is None:
                await asyncio.shield(running.interrupt())
                with contextlib.suppress(Exception):
                    await running.wait()


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
        log.info("restic: %s", masked(args, secrets))
        begin = time.monotonic()
        proc = await _spawn(args, env, stdin=asyncio.subprocess.DEVNULL)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
        except (asyncio.CancelledError, TimeoutError):
            await asyncio.shield(interrupt(proc))
            raise
        done = Completed(
            tuple(args), proc.returncode or 0, out, err.decode("utf-8", "replace"), time.monotonic() - begin
        )
    log.debug("restic exit %s after %.2fs", done.exit_code, done.duration_s)
    if check and done.exit_code != 0:
        raise classify(done.exit_code, done.stderr, repository=repo.display)
    return done
