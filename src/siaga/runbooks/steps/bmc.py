"""What the Redfish and IPMI paths share: :class:`BmcError` (a BMC that refused, did not answer or cannot be
used as configured) and the BMC password, read from its file or the environment when used."""

from __future__ import annotations

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


__all__ = ["BmcError", "password"]
