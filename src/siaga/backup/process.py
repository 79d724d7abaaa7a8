"""The one place the backup part starts a child process: restic, database dumps and loads, hooks.

One policy for all of them, chosen per program by a :class:`StopPolicy`:

- the command line is logged once, secrets masked (URL passwords and known secret values);
- a run that is cancelled, or outlives its timeout, is stopped with the policy's signal (SIGINT for restic,
  which leaves a stale lock on SIGTERM; SIGTERM for the rest), then SIGKILL after the policy's grace;
- a program that cannot start raises :class:`ProcessStartError` naming it; what it printed comes back in
  :class:`Completed` with its exit code and duration.

Callers build the argument list (``siaga.backup.restic.commands``, ``siaga.backup.dumps``) and hand it here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shlex
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass

from siaga.errors import SiagaError

log = logging.getLogger("siaga.backup.process")


@dataclass(frozen=True)
class StopPolicy:
    """How a program is stopped when siaga no longer waits for it."""

    name: str
    signal: int = signal.SIGTERM
    grace_s: float = 10.0


RESTIC = StopPolicy("restic", signal.SIGINT, 30.0)  # SIGTERM would leave a stale lock in the repository
TOOL = StopPolicy("tool", signal.SIGTERM, 10.0)  # dumps, loads and hooks


@dataclass(frozen=True)
class Completed:
    """A finished child process."""

    args: tuple[str, ...]
    exit_code: int
    stdout: bytes
    stderr: str
    duration_s: float


class ProcessStartError(SiagaError, OSError):
    """The program could not be started (not installed, not executable)."""

    def __init__(self, program: str, reason: str) -> None:
        super().__init__(f"cannot run {program}: {reason}")
        self.program = program
        self.reason = reason


def masked(args: Sequence[str], secrets: Sequence[str] = ()) -> str:
    """The command line as it may be logged: URL passwords and known secret values replaced by ***."""
    from siaga.backup.restic.repository import mask_url

    text = shlex.join(args)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return mask_url(text)


async def stop(proc: asyncio.subprocess.Process, policy: StopPolicy) -> None:
    """Stop ``proc`` the way its program wants: the policy's signal, then (only if it hangs) SIGKILL."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(policy.signal)
    try:
        await asyncio.wait_for(proc.wait(), policy.grace_s)
    except TimeoutError:
        log.warning("%s pid %s did not stop within %.0fs: killing it", policy.name, proc.pid, policy.grace_s)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def spawn(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    stdin: int | None = asyncio.subprocess.DEVNULL,
    stdout: int | None = asyncio.subprocess.PIPE,
    stderr: int | None = asyncio.subprocess.PIPE,
    secrets: Sequence[str] = (),
) -> asyncio.subprocess.Process:
    """Start ``args`` (logged, masked); :class:`ProcessStartError` when it cannot start."""
    log.info("run: %s", masked(args, secrets))
    try:
        return await asyncio.create_subprocess_exec(*args, stdin=stdin, stdout=stdout, stderr=stderr, env=dict(env))
    except OSError as exc:
        raise ProcessStartError(args[0], exc.strerror or str(exc)) from None


async def run(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    policy: StopPolicy = TOOL,
    timeout_s: float | None = None,
    secrets: Sequence[str] = (),
    merge_stderr: bool = False,
) -> Completed:
    """Run ``args`` to the end and return what it printed. Cancelled or over ``timeout_s`` (``TimeoutError``):
    stopped by its policy first. With ``merge_stderr`` its stderr is part of ``stdout``."""
    begin = time.monotonic()
    proc = await spawn(
        args,
        env,
        stderr=asyncio.subprocess.STDOUT if merge_stderr else asyncio.subprocess.PIPE,
        secrets=secrets,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except (asyncio.CancelledError, TimeoutError):
        await asyncio.shield(stop(proc, policy))
        raise
    done = Completed(
        tuple(args), proc.returncode or 0, out, (err or b"").decode("utf-8", "replace"), time.monotonic() - begin
    )
    log.debug("%s exit %s after %.2fs", args[0], done.exit_code, done.duration_s)
    return done


class Running:
    """A started program whose stdin siaga may feed; its stderr (and stdout, unless the caller reads it) is
    drained meanwhile so it never blocks on a full pipe."""

    def __init__(
        self, proc: asyncio.subprocess.Process, args: tuple[str, ...], policy: StopPolicy, *, drain_stdout: bool
    ) -> None:
        self.proc = proc
        self.args = args
        self.policy = policy
        self.started = time.monotonic()
        self._out: asyncio.Future[bytes] | None = (
            asyncio.ensure_future(proc.stdout.read()) if drain_stdout and proc.stdout is not None else None
        )
        self._err: asyncio.Future[bytes] | None = (
            asyncio.ensure_future(proc.stderr.read()) if proc.stderr is not None else None
        )

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None, "started without a stdout pipe"
        return self.proc.stdout

    async def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None, "started without a stdin pipe"
        self.proc.stdin.write(data)
        await self.proc.stdin.drain()

    async def close_input(self) -> None:
        if self.proc.stdin is None:
            return
        self.proc.stdin.close()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.proc.stdin.wait_closed()

    async def stop(self) -> None:
        await stop(self.proc, self.policy)

    async def wait(self) -> Completed:
        code = await self.proc.wait()
        out = await self._out if self._out is not None else b""
        err = await self._err if self._err is not None else b""
        return Completed(self.args, code, out, err.decode("utf-8", "replace"), time.monotonic() - self.started)


@contextlib.asynccontextmanager
async def started(
    args: Sequence[str],
    env: Mapping[str, str],
    *,
    policy: StopPolicy = TOOL,
    secrets: Sequence[str] = (),
    stdin: int | None = asyncio.subprocess.PIPE,
    stdout: int | None = asyncio.subprocess.PIPE,
    drain_stdout: bool = True,
    on_start_error: Callable[[ProcessStartError], BaseException] | None = None,
) -> AsyncIterator[Running]:
    """Start ``args`` for the block; a block left before the program ended (an error, a cancellation) stops it
    by its policy. With ``drain_stdout=False`` the caller reads :attr:`Running.stdout` itself."""
    try:
        proc = await spawn(args, env, stdin=stdin, stdout=stdout, secrets=secrets)
    except ProcessStartError as exc:
        if on_start_error is None:
            raise
        raise on_start_error(exc) from None
    running = Running(proc, tuple(args), policy, drain_stdout=drain_stdout)
    try:
        yield running
    finally:
        if proc.returncode is None:
            await asyncio.shield(running.stop())
            with contextlib.suppress(Exception):
                await running.wait()
