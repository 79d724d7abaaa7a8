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
from siaga.i18n.messages import Message, note_of

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

    def __init__(self, reason: Message | str, *, retryable: bool = True, details: dict[str, Any] | None = None):
        why = reason if isinstance(reason, Message) else Message(text=reason)
        super().__init__(why.english(), retryable=retryable)
        self.why = why  # a ``check.*`` message key and its parameters, worded per reader
        self.reason = why.english()  # the same in English (logs, tests)
        self.details = details or {}


def connect_failure(exc: OSError, target: str) -> Message:
    """Why a connection to ``target`` (``host:port``) failed, as a message: refused, timed out, or the OS's line."""
    text = str(exc)
    if isinstance(exc, ConnectionRefusedError) or (text.startswith("Multiple exceptions") and "Errno 111" in text):
        return Message("check.refused", {"target": target})
    if isinstance(exc, TimeoutError):
        return Message("check.connect_timeout", {"target": target})
    if isinstance(exc, OSError) and type(exc).__name__ == "gaierror":
        return Message("check.unresolved", {"target": target, "error": first_line(exc)})
    return Message("check.connect", {"target": target, "error": first_line(exc)})


def stored_reason(result: CheckResult) -> str:
    """What the check's state and history store for ``result`` (up or down): its message key behind the note mark
    (worded per reader by :func:`siaga.i18n.messages.note_text`), or the text as it is."""
    return note_of(result.why) if result.why is not None and result.why.key else result.message


@dataclass(frozen=True)
class Observation:
    """A successful probe: how long it took and what it saw (``said``: a ``check.ok.*`` message worded per reader;
    ``message``: a line of a probe that has none, shown as it is)."""

    latency_ms: float | None = None
    message: str = ""
    warning: str | None = None  # up, but something needs attention soon (a certificate expiring)
    details: dict[str, Any] = field(default_factory=dict)
    said: Message | None = None
    warned: Message | None = None  # the warning as a message

    @property
    def text(self) -> str:
        """What it saw, in English (logs, tests)."""
        return self.said.english() if self.said is not None else self.message

    @property
    def warning_text(self) -> str | None:
        return self.warned.english() if self.warned is not None else self.warning


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
    why: Message | None = None  # what it saw (down or up) as a message key and parameters; ``message``: in English
    warned: Message | None = None  # ``warning`` as a message key and parameters


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
            details=exc.details, why=exc.why,
        )
    except TimeoutError:
        why = Message("check.timeout", {"seconds": check.timeout_s})
    except (OSError, ValueError, RuntimeError, LookupError) as exc:
        why = Message("check.error", {"error": f"{type(exc).__name__}: {first_line(exc)}"})
    else:
        latency = obs.latency_ms if obs.latency_ms is not None else _ms(start)
        return CheckResult(
            check.check_id, check.service, ctx.clock(), True, latency, obs.text, warning=obs.warning_text,
            details=obs.details, why=obs.said, warned=obs.warned,
        )
    return CheckResult(check.check_id, check.service, ctx.clock(), False, _ms(start), why.english(), why=why)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
