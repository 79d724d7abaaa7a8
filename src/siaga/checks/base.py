"""The contract every check type implements: one async method, and an error that says if retrying helps.

A probe module (``http.py``, ``tcp.py``...) gives a class with ``async def probe(ctx) -> Observation``
that raises :class:`CheckFailed` when the target is not well. :func:`run_once` owns what every
type shares: the timeout, the clock, turning unexpected errors into one readable line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from siaga.config.checks import CheckBase
from siaga.errors import SiagaError

if TYPE_CHECKING:
    import aiohttp

    from siaga.checks.heartbeat import HeartbeatBook

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CheckFailed(SiagaError):
    """The target is not well. ``retryable`` is False when asking again soon cannot change the answer
    (an expired certificate, a job that missed its heartbeat): such a failure is confirmed at once."""

    retryable = True

    def __init__(self, reason: str, *, retryable: bool = True, details: dict[str, Any] | None = None):
        super().__init__(reason, retryable=retryable)
        self.reason = reason
        self.details = details or {}


@dataclass(frozen=True)
class Observation:
    """A successful probe: how long it took and what it saw."""

    latency_ms: float | None = None
    message: str = ""
    warning: str | None = None  # up, but something needs attention soon (a certificate expiring)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    """One attempt of one check."""

    check_id: str
    service: str
    at: dt.datetime
    ok: bool
    latency_ms: float | None
    message: str
    retryable: bool = True
    warning: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProbeContext:
    """What probes share: the HTTP session, the heartbeat book, the clock, where relative paths start."""

    session: aiohttp.ClientSession | None = None
    heartbeats: HeartbeatBook | None = None
    clock: Clock = utcnow
    base_dir: Path = field(default_factory=Path.cwd)
    # Demo and tests: send the traffic for a host to another address ("host" -> ("127.0.0.1", port)).
    redirects: dict[str, tuple[str, int]] = field(default_factory=dict)


class Probe(Protocol):
    """One check type, bound to one configured check."""

    @property
    def check(self) -> CheckBase: ...

    async def probe(self, ctx: ProbeContext) -> Observation: ...


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else ""
    return line or type(exc).__name__


async def run_once(probe: Probe, ctx: ProbeContext) -> CheckResult:
    """Run ``probe`` once within the check's timeout and say what happened; never raises (but cancellation)."""
    check = probe.check
    start = time.perf_counter()
    try:
        async with asyncio.timeout(check.timeout_s):
            obs = await probe.probe(ctx)
    except CheckFailed as exc:
        return CheckResult(
            check.check_id, check.service, ctx.clock(), False, _ms(start), exc.reason, exc.retryable,
            details=exc.details,
        )
    except TimeoutError:
        return CheckResult(
            check.check_id, check.service, ctx.clock(), False, _ms(start), f"no answer within {check.timeout_s:g} s"
        )
    except (OSError, ValueError, RuntimeError, LookupError) as exc:
        return CheckResult(
            check.check_id, check.service, ctx.clock(), False, _ms(start), f"{type(exc).__name__}: {first_line(exc)}"
        )
    latency = obs.latency_ms if obs.latency_ms is not None else _ms(start)
    return CheckResult(
        check.check_id, check.service, ctx.clock(), True, latency, obs.message, warning=obs.warning,
        details=obs.details,
    )


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
