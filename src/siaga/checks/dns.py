"""DNS checks: a name resolves, to the answers expected, at the resolver chosen."""

from __future__ import annotations

import time

import dns.asyncresolver
import dns.exception
import dns.resolver

from siaga.checks.base import CheckFailed, Observation, ProbeContext
from siaga.config.checks import DnsCheck
from siaga.i18n.messages import Message


def normalise(answer: str) -> str:
    """Compare answers loosely: no trailing dot, no quotes around TXT, lower case."""
    return answer.strip().strip('"').rstrip(".").lower()


class DnsProbe:
    def __init__(self, check: DnsCheck) -> None:
        self.check = check
        address = check.resolver_address()
        if address is None:
            self._resolver = dns.asyncresolver.Resolver()
        else:
            self._resolver = dns.asyncresolver.Resolver(configure=False)
            self._resolver.nameservers = [address[0]]
            self._resolver.port = address[1]
        self._expected = {normalise(e) for e in check.expected}

    async def probe(self, ctx: ProbeContext) -> Observation:
        check = self.check
        start = time.perf_counter()
        try:
            answer = await self._resolver.resolve(check.query, check.record_type, lifetime=check.timeout_s)
        except dns.resolver.NXDOMAIN:
            raise CheckFailed(Message("check.dns_nxdomain", {"query": check.query})) from None
        except dns.resolver.NoAnswer:
            raise CheckFailed(Message("check.dns_no_answer", {"query": check.query,
                                                             "record_type": check.record_type})) from None
        except dns.resolver.NoNameservers as exc:
            raise CheckFailed(Message("check.dns_no_server", {"query": check.query, "error": exc.msg})) from None
        except dns.exception.Timeout:
            raise CheckFailed(Message("check.dns_timeout", {"query": check.query,
                                                           "seconds": check.timeout_s})) from None
        except dns.exception.DNSException as exc:
            raise CheckFailed(Message("check.dns_error", {"query": check.query, "error": str(exc)})) from None
        latency = round((time.perf_counter() - start) * 1000, 2)
        got = sorted(normalise(r.to_text()) for r in answer)
        missing = sorted(self._expected - set(got))
        if missing:
            raise CheckFailed(
                Message("check.dns_mismatch" if got else "check.dns_mismatch.none",
                        {"query": check.query, "record_type": check.record_type, "expected": ", ".join(missing),
                         "got": ", ".join(got)}),
                details={"answers": got},
            )
        return Observation(latency_ms=latency, details={"answers": got}, said=Message(
            "check.ok.dns", {"record_type": check.record_type, "answers": ", ".join(got) or "-"}))
