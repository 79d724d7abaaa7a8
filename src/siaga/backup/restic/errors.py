"""Failures of restic, classified from exit code and stderr into messages people can act on: a ``restic.*`` key
of :data:`siaga.i18n.messages.MESSAGES` and its parameters (restic's own line only as ``{error}``)."""

from __future__ import annotations

import re
from enum import StrEnum

from siaga.errors import SiagaError
from siaga.i18n.messages import Message


class ResticFailure(StrEnum):
    missing_binary = "missing_binary"
    wrong_password = "wrong_password"
    no_repository = "no_repository"
    already_exists = "already_exists"
    locked = "locked"
    unreachable = "unreachable"
    incomplete = "incomplete"  # exit 3: some source files could not be read
    interrupted = "interrupted"
    source_failed = "source_failed"  # the dump or a hook failed
    no_space = "no_space"
    other = "other"


RETRYABLE = frozenset({ResticFailure.locked, ResticFailure.unreachable, ResticFailure.interrupted})
"""The failures that trying again later may cure."""


class ResticError(SiagaError):
    """restic (or what feeds it) failed; ``kind`` says how, ``why`` is the message worded per reader, ``str()``
    one clear line in English (logs)."""

    def __init__(
        self, kind: ResticFailure, message: Message | str, *, exit_code: int | None = None, stderr: str = ""
    ) -> None:
        why = message if isinstance(message, Message) else Message(text=message)
        super().__init__(why.english(), retryable=kind in RETRYABLE)
        self.kind = kind
        self.why = why
        self.message = why.english()
        self.exit_code = exit_code
        self.stderr = stderr


_PATTERNS: list[tuple[ResticFailure, re.Pattern[str]]] = [
    (ResticFailure.wrong_password, re.compile(r"wrong password or no key found", re.I)),
    (
        ResticFailure.already_exists,
        re.compile(
            r"(repository master key and config already initialized|config file already exists)", re.I
        ),
    ),
    (
        ResticFailure.locked,
        re.compile(
            r"(repository is already locked|unable to create lock in backend|lock.*already held)", re.I
        ),
    ),
    (
        ResticFailure.no_repository,
        re.compile(
            r"(Is there a repository at the following location|unable to open config file|"
            r"repository does not exist|no such file or directory.*config)",
            re.I,
        ),
    ),
    (
        ResticFailure.unreachable,
        re.compile(
            r"(connection refused|no route to host|network is unreachable|i/o timeout|"
            r"connection timed out|could not resolve|no such host|host key verification failed|"
            r"permission denied \(publickey|unable to start the sftp session|subprocess ssh|"
            r"connection reset|Temporary failure in name resolution|dial tcp)",
            re.I,
        ),
    ),
    (ResticFailure.no_space, re.compile(r"no space left on device", re.I)),
]

_EXIT_CODES = {10: ResticFailure.no_repository, 11: ResticFailure.locked, 12: ResticFailure.wrong_password}


def _first_line(stderr: str) -> str:
    for line in stderr.splitlines():
        text = line.strip()
        if text.startswith("Fatal:") or "error" in text.lower():
            return text.removeprefix("Fatal:").strip()
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else "no message"


def classify(exit_code: int, stderr: str, *, repository: str) -> ResticError:
    """The error a failed restic run means. ``repository`` is the masked repository name for the message."""
    kind = _EXIT_CODES.get(exit_code)
    if kind is None:
        # ssh's own complaints come before restic's summary: the specific cause wins.
        for candidate, pattern in _PATTERNS:
            if pattern.search(stderr):
                kind = candidate
                break
    if kind is None:
        if exit_code == 3:
            kind = ResticFailure.incomplete
        elif exit_code in (130, -2):
            kind = ResticFailure.interrupted
        else:
            kind = ResticFailure.other
    return ResticError(kind, describe(kind, repository, stderr), exit_code=exit_code, stderr=stderr)


def describe(kind: ResticFailure, repository: str, stderr: str = "") -> Message:
    """What went wrong, where, and what to do: a ``restic.*`` message."""
    simple = {
        ResticFailure.wrong_password: "restic.wrong_password",
        ResticFailure.no_repository: "restic.no_repository",
        ResticFailure.already_exists: "restic.already_exists",
        ResticFailure.locked: "restic.locked",
        ResticFailure.interrupted: "restic.interrupted",
        ResticFailure.no_space: "restic.no_space",
    }
    if kind in simple:
        return Message(simple[kind], {"repository": repository})
    if kind is ResticFailure.unreachable:
        pattern = dict(_PATTERNS)[ResticFailure.unreachable]
        line = next((ln.strip() for ln in stderr.splitlines() if pattern.search(ln)), "")
        if not line:
            return Message("restic.unreachable", {"repository": repository})
        why = line.removeprefix("Fatal:").strip()
        return Message("restic.unreachable.why", {"repository": repository, "error": why})
    if kind is ResticFailure.incomplete:
        return Message("restic.incomplete", {"repository": repository, "error": _first_line(stderr)})
    return Message("restic.failed", {"repository": repository, "error": _first_line(stderr)})
