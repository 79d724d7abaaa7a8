"""What the Redfish and IPMI paths share: :class:`BmcError` (a BMC that refused, did not answer or cannot be
used as configured), the BMC password, read from its file or the environment when used, and the config's
files as paths."""

from __future__ import annotations

from pathlib import Path

from siaga.config.runbooks import Bmc
from siaga.config.secrets import SecretError
from siaga.errors import SiagaError
from siaga.runbooks.steps.base import StepContext


class BmcError(SiagaError):
    """A BMC that refused (wrong user or password: not retryable), did not answer (retryable) or cannot be
    used as configured."""


def password(bmc: Bmc, ctx: StepContext) -> str:
    """The BMC's password (one line: a trailing newline of its file is not part of it)."""
    try:
        secret = bmc.read_secret("password", ctx.base_dir, ctx.environ)
    except SecretError as exc:
        raise BmcError(f"BMC {bmc.address}: {exc}") from None
    assert secret is not None  # required by the model
    return secret.rstrip("\r\n")


def resolve(path: str, base_dir: Path | None) -> str:
    """A file of the config (a password, a CA bundle) as a path: relative ones from the config's folder."""
    p = Path(path)
    return str(p if p.is_absolute() or base_dir is None else base_dir / p)


__all__ = ["BmcError", "password", "resolve"]
