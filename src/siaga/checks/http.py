"""HTTP(S) checks: status, keyword present or absent, a JSONPath value, latency, redirects, TLS verification.

One shared :class:`aiohttp.ClientSession` (owned by the scheduler) carries every request, so
connections are reused; per-request options carry what differs between checks.
"""

from __future__ import annotations

import ssl
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from siaga import jsonsafe
from siaga.checks.base import CheckFailed, Observation, ProbeContext, connect_failure, first_line
from siaga.config.checks import HttpCheck
from siaga.config.secrets import SecretError, expand
from siaga.i18n.messages import Message

MAX_BODY = 1_000_000  # bytes read for keyword and JSON assertions


class HttpProbe:
    def __init__(self, check: HttpCheck) -> None:
        self.check = check
        self._json_path: Any = None
        if check.json_path:
            from jsonpath_ng.ext.parser import parse

            self._json_path = parse(check.json_path)
        self._needs_body = bool(check.keyword or check.keyword_absent or check.json_path)

    def _headers(self) -> dict[str, str]:
        try:
            return {k: expand(v) for k, v in self.check.headers.items()}
        except SecretError as exc:
            raise CheckFailed(Message("check.header", {"error": str(exc)}), retryable=False) from None

    def _target(self, ctx: ProbeContext) -> tuple[str, dict[str, str]]:
        """The URL to fetch; under a redirect (demo, tests) the host's traffic goes to loopback."""
        url = self.check.url
        parts = urlsplit(url)
        to = ctx.redirects.get(parts.hostname or "")
        if to is None:
            return url, {}
        netloc = f"{to[0]}:{to[1]}"
        return urlunsplit(("http", netloc, parts.path or "/", parts.query, "")), {"Host": parts.netloc}

    async def probe(self, ctx: ProbeContext) -> Observation:
        check = self.check
        if ctx.session is None:
            raise RuntimeError("no HTTP session")
        url, extra = self._target(ctx)
        headers = {**self._headers(), **extra}
        ssl_opt: bool | ssl.SSLContext = bool(check.verify_tls)
        start = time.perf_counter()
        try:
            async with ctx.session.request(
                check.method,
                url,
                headers=headers,
                data=check.body,
                allow_redirects=check.follow_redirects,
                ssl=ssl_opt,
                timeout=aiohttp.ClientTimeout(total=check.timeout_s),
            ) as resp:
                status = resp.status
                body = await resp.content.read(MAX_BODY) if self._needs_body else b""
                if not self._needs_body:
                    await resp.read()  # drain so the connection goes back to the pool
        except aiohttp.ClientConnectorCertificateError as exc:
            raise CheckFailed(Message("check.tls_untrusted", {"error": first_line(exc.certificate_error)})) from None
        except aiohttp.ClientConnectorError as exc:
            raise CheckFailed(connect_failure(exc.os_error, f"{exc.host}:{exc.port}")) from None
        except aiohttp.TooManyRedirects:
            raise CheckFailed(Message("check.redirects")) from None
        except aiohttp.ClientError as exc:
            raise CheckFailed(Message("check.error", {"error": f"{type(exc).__name__}: {first_line(exc)}"})) from None
        latency = round((time.perf_counter() - start) * 1000, 2)
        details: dict[str, Any] = {"status": status}
        ok_status = status in check.expected_status if check.expected_status else 200 <= status < 400
        if not ok_status:
            expected = ", ".join(map(str, check.expected_status)) or "2xx/3xx"
            raise CheckFailed(Message("check.status", {"status": status, "expected": str(expected)}), details=details)
        if check.max_latency_ms is not None and latency > check.max_latency_ms:
            raise CheckFailed(Message("check.slow", {"latency_ms": round(latency), "limit_ms": check.max_latency_ms}),
                              details=details)
        if self._needs_body:
            text = body.decode("utf-8", errors="replace")
            if check.keyword and check.keyword not in text:
                raise CheckFailed(Message("check.keyword_missing", {"keyword": check.keyword}), details=details)
            if check.keyword_absent and check.keyword_absent in text:
                raise CheckFailed(Message("check.keyword_found", {"keyword": check.keyword_absent}), details=details)
            if self._json_path is not None:
                self._assert_json(text)
        return Observation(latency_ms=latency, details=details,
                           said=Message("check.ok.http", {"status": status, "latency_ms": round(latency)}))

    def _assert_json(self, text: str) -> None:
        check = self.check
        try:
            doc = jsonsafe.loads(text)  # a body nested too deep is "not valid JSON", not a RecursionError
        except ValueError:
            raise CheckFailed(Message("check.json_invalid")) from None
        matches = [m.value for m in self._json_path.find(doc)]
        if not matches:
            raise CheckFailed(Message("check.json_missing", {"path": check.json_path}))
        if check.json_expected is not None and not any(_same(v, check.json_expected) for v in matches):
            raise CheckFailed(Message("check.json_value", {"path": check.json_path, "got": repr(matches[0]),
                                                           "expected": repr(check.json_expected)}))


def _same(found: Any, expected: str | int | float | bool) -> bool:
    if isinstance(expected, bool) or isinstance(found, bool):
        return found is expected or str(found).lower() == str(expected).lower()
    if isinstance(expected, int | float) and isinstance(found, int | float):
        return float(found) == float(expected)
    return str(found) == str(expected)
