"""TLS certificate checks: days left before the server's certificate expires (warning, critical)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
import time
from pathlib import Path

from cryptography import x509

from siaga.checks.base import CheckFailed, Observation, ProbeContext, first_line
from siaga.config.checks import TlsCheck
from siaga.i18n.messages import Message


def days_left(not_after: dt.datetime, now: dt.datetime) -> float:
    return (not_after - now).total_seconds() / 86400


class TlsProbe:
    def __init__(self, check: TlsCheck) -> None:
        self.check = check

    def _context(self, base_dir: Path) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if self.check.ca_file:
            path = Path(self.check.ca_file)
            ctx.load_verify_locations(cafile=str(path if path.is_absolute() else base_dir / path))
        if not self.check.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def probe(self, ctx: ProbeContext) -> Observation:
        check = self.check
        host, port = ctx.redirects.get(check.host, (check.host, check.port))
        name = check.server_name or check.host
        start = time.perf_counter()
        try:
            _reader, writer = await asyncio.open_connection(
                host, port, ssl=self._context(ctx.base_dir), server_hostname=name
            )
        except ssl.SSLCertVerificationError as exc:
            expired = "expired" in (exc.verify_message or "")
            raise CheckFailed(
                Message("check.tls_invalid", {"name": name, "error": exc.verify_message or first_line(exc)}),
                retryable=not expired,
            ) from None
        except (OSError, ssl.SSLError) as exc:
            raise CheckFailed(Message("check.tls_connect", {"target": f"{check.host}:{check.port}",
                                                            "error": first_line(exc)})) from None
        latency = round((time.perf_counter() - start) * 1000, 2)
        try:
            sslobj = writer.get_extra_info("ssl_object")
            der = sslobj.getpeercert(binary_form=True) if sslobj is not None else None
        finally:
            writer.close()
            with contextlib.suppress(OSError, ssl.SSLError):
                await writer.wait_closed()
        if not der:
            raise CheckFailed(Message("check.tls_none"))
        cert = x509.load_der_x509_certificate(der)
        not_after = cert.not_valid_after_utc
        left = days_left(not_after, ctx.clock())
        details = {"not_after": not_after.isoformat(), "days_left": round(left, 2)}
        if left <= 0:
            raise CheckFailed(Message("check.tls_expired", {"date": f"{not_after:%Y-%m-%d}"}), retryable=False,
                              details=details)
        level = "critical" if left < check.critical_days else "warning" if left < check.warning_days else None
        warned = Message("check.tls_expiring", {"days_left": round(left, 1), "date": f"{not_after:%Y-%m-%d}"})
        details["level"] = level
        said = Message("check.ok.tls", {"days_left": round(left)})
        return Observation(latency_ms=latency, details=details, said=said, warned=warned if level else None)
