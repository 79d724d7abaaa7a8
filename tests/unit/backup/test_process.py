"""The backup part's one executor: how a child process is run, timed out, cancelled and stopped."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from siaga.backup import process
from siaga.backup.process import StopPolicy

ENV = dict(os.environ)


async def test_it_returns_what_the_program_printed_with_its_exit_code() -> None:
    done = await process.run(["sh", "-c", "echo out; echo err >&2; exit 3"], ENV)
    assert (done.exit_code, done.stdout, done.stderr) == (3, b"out\n", "err\n")


async def test_merged_stderr_comes_back_in_stdout() -> None:
    done = await process.run(["sh", "-c", "echo out; echo err >&2"], ENV, merge_stderr=True)
    assert done.stdout.split() == [b"out", b"err"]


async def test_a_missing_program_is_named() -> None:
    with pytest.raises(process.ProcessStartError) as info:
        await process.run(["/nonexistent/pg_dump", "x"], ENV)
    assert info.value.program == "/nonexistent/pg_dump"
    assert "cannot run /nonexistent/pg_dump" in str(info.value)


async def test_a_timeout_stops_the_program_with_its_policy_signal(tmp_path: Path) -> None:
    # The program writes which signal reached it: a restic-like policy must send SIGINT, not SIGTERM.
    marker = f"{tmp_path}/signal"
    # short sleeps in a loop: the trap runs at once (a shell waiting on one long child may not), and a timeout
    # long enough for the shell to have set its traps on a loaded machine
    script = (
        f"trap 'echo INT > {marker}; exit 130' INT; trap 'echo TERM > {marker}; exit 143' TERM; "
        "while :; do sleep 0.05; done"
    )
    policy = StopPolicy("test", signal.SIGINT, 5.0)
    with pytest.raises(TimeoutError):
        await process.run(["sh", "-c", script], ENV, policy=policy, timeout_s=1.5)
    assert Path(marker).read_text().strip() == "INT"  # noqa: ASYNC240


async def test_a_program_that_ignores_the_signal_is_killed_after_the_grace() -> None:
    policy = StopPolicy("stubborn", signal.SIGTERM, 0.3)
    begin = time.monotonic()
    with pytest.raises(TimeoutError):
        await process.run(["sh", "-c", "trap '' TERM; while :; do sleep 0.05; done"], ENV, policy=policy, timeout_s=0.2)
    assert time.monotonic() - begin < 10


async def test_leaving_a_started_block_early_stops_the_program() -> None:
    with pytest.raises(RuntimeError):
        async with process.started(["sleep", "30"], ENV, stdin=asyncio.subprocess.DEVNULL) as running:
            proc = running.proc
            raise RuntimeError("the caller failed")
    assert proc.returncode is not None


async def test_secrets_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="siaga.backup.process")
    await process.run(["echo", "postgresql://u:hunter2@db/x", "s3cr3t"], ENV, secrets=["s3cr3t"])
    text = caplog.text
    assert "hunter2" not in text and "s3cr3t" not in text
