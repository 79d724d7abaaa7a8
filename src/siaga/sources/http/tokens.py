"""Bearer tokens of the HTTP push endpoint: kept only as SHA-256 digests, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from siaga.config.secrets import SecretError
from siaga.config.sources import HttpGateway, HttpPush, HttpSensorSource

log = logging.getLogger("siaga.sources.http")


@dataclass(frozen=True)
class Principal:
    """Who a token speaks for, and the sensors it may push."""

    name: str  # "sensor:temp-r3-top" or "gateway:gw-r3r4"
    digest: bytes
    sensors: frozenset[str]


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenTable:
    """Finds the principal of a presented token without revealing, by timing, which digest is close."""

    def __init__(self, principals: Iterable[Principal]) -> None:
        self.principals = tuple(principals)

    def find(self, token: str) -> Principal | None:
        presented = digest(token)
        found: Principal | None = None
        for p in self.principals:  # no early exit: every digest is compared
            if hmac.compare_digest(presented, p.digest):
                found = p
        return found

    @classmethod
    def from_config(
        cls, push: HttpPush, sensors: Iterable[object], base_dir: Path | None = None
    ) -> tuple[TokenTable, list[str]]:
        """The table, and one line per token that could not be had (the endpoint refuses those)."""
        problems: list[str] = []
        by_gateway: dict[str, set[str]] = {g.id: set() for g in push.gateways}
        principals: list[Principal] = []
        for sensor in sensors:
            src = getattr(sensor, "source", None)
            sid = str(getattr(sensor, "id"))  # noqa: B009
            if not isinstance(src, HttpSensorSource):
                continue
            if src.gateway is not None:
                by_gateway.setdefault(src.gateway, set()).add(sid)
                continue
            d = _digest_of(src, base_dir, f"sensor {sid}", problems)
            if d is not None:
                principals.append(Principal(f"sensor:{sid}", d, frozenset({sid})))
        for gw in push.gateways:
            d = _digest_of(gw, base_dir, f"gateway {gw.id}", problems)
            if d is not None:
                principals.append(Principal(f"gateway:{gw.id}", d, frozenset(by_gateway.get(gw.id, set()))))
        return cls(principals), problems


def _digest_of(
    holder: HttpSensorSource | HttpGateway, base_dir: Path | None, who: str, problems: list[str]
) -> bytes | None:
    if holder.token_sha256 is not None:
        return bytes.fromhex(holder.token_sha256)
    ref = holder.secret_ref("token")
    if ref is None:
        return None
    try:
        token = ref.read(base_dir)
    except SecretError as exc:
        problems.append(f"http push: {who}: {exc}; its readings are refused")
        return None
    if not token:
        where = f"the token file {ref.file}" if ref.file is not None else f"${{{ref.env}}}"
        problems.append(f"http push: {who}: {where} is empty; its readings are refused")
        return None
    return digest(token)


__all__ = ["HttpGateway", "Principal", "TokenTable", "digest"]
