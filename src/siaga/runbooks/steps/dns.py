"""The ``dns`` step: point a name at an address by an RFC 2136 dynamic update signed with TSIG (dnspython),
for a failover or its failback. The name's TTL is read first and reported: clients may still use the old
address for up to that long."""

from __future__ import annotations

import dns.asyncquery
import dns.exception
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsigkeyring
import dns.update

from siaga.config.runbooks import DnsServer
from siaga.config.secrets import SecretError
from siaga.runbooks.plan import Action
from siaga.runbooks.steps.base import Outcome, StepContext, said

DEFAULT_TTL = 60


def rdtype_of(address: str) -> str:
    return "AAAA" if ":" in address else "A"


def absolute(name: str, zone: str) -> dns.name.Name:
    origin = dns.name.from_text(zone)
    return dns.name.from_text(name, origin)


async def current(server: DnsServer, name: str, rdtype: str, timeout_s: float) -> tuple[list[str], int | None]:
    """The addresses ``name`` has now on ``server`` and their TTL (None when it has none)."""
    query = dns.message.make_query(absolute(name, server.zone), rdtype)
    answer = await dns.asyncquery.udp(query, server.address, timeout=timeout_s, port=server.port)
    for rrset in answer.answer:
        if rrset.rdtype == dns.rdatatype.from_text(rdtype):
            return sorted(r.to_text() for r in rrset), rrset.ttl
    return [], None


async def point(server: DnsServer, name: str, address: str, ttl: int | None, ctx: StepContext,
                timeout_s: float) -> Outcome:
    """Replace ``name``'s records by ``address``; the old addresses and TTL are in the outcome's facts."""
    try:
        secret = server.read_secret("tsig_secret", ctx.base_dir, ctx.environ)
    except SecretError as exc:
        return Outcome(False, str(exc))
    assert secret is not None
    rdtype = rdtype_of(address)
    try:
        old, old_ttl = await current(server, name, rdtype, timeout_s)
        keyring = dns.tsigkeyring.from_text({server.tsig_name: secret.strip()})
        update = dns.update.UpdateMessage(
            server.zone, keyring=keyring, keyname=dns.name.from_text(server.tsig_name),
            keyalgorithm=server.tsig_algorithm,
        )
        new_ttl = ttl if ttl is not None else (old_ttl if old_ttl is not None else DEFAULT_TTL)
        update.replace(absolute(name, server.zone), new_ttl, rdtype, address)
        response = await dns.asyncquery.tcp(update, server.address, timeout=timeout_s, port=server.port)
    except (OSError, TimeoutError, dns.exception.DNSException) as exc:
        return Outcome(False, said("runbook.step.dns.error", server=f"{server.address}:{server.port}", error=str(exc)))
    rcode = response.rcode()
    facts = {"old": old, "old_ttl": old_ttl, "new": address, "ttl": new_ttl}
    if rcode != dns.rcode.NOERROR:
        return Outcome(False, said("runbook.step.dns.refused", server=f"{server.address}:{server.port}",
                                   rcode=dns.rcode.to_text(rcode)), facts)
    shown = ", ".join(old) or "-"
    if old and old_ttl:  # clients may still use the old address for up to its TTL
        return Outcome(True, said("runbook.step.dns.pointed_ttl", name=name, old=shown, address=address,
                                  ttl=old_ttl), facts)
    return Outcome(True, said("runbook.step.dns.pointed", name=name, old=shown, address=address), facts)


async def run(action: Action, ctx: StepContext) -> Outcome:
    assert action.dns is not None and action.name is not None and action.address is not None
    return await point(action.dns, action.name, action.address, action.ttl, ctx, min(action.timeout_s, 10.0))
