"""Secrets are never inline: they come from ``${ENV_VAR}`` references or ``*_file`` paths."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from siaga.errors import SiagaError

_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SecretError(SiagaError):
    """A secret the config points at cannot be had."""


def expand(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every ``${NAME}`` in ``value`` by the environment variable NAME."""
    env = os.environ if environ is None else environ

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise SecretError(f"environment variable {name} is not set")
        return env[name]

    return _REF.sub(sub, value)


def read_secret_file(path: str | Path, base_dir: Path | None = None) -> str:
    """The content of a secret file, without its trailing newline."""
    p = Path(path)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    try:
        return p.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecretError(f"cannot read secret file {p}: {exc.strerror or exc}") from None
