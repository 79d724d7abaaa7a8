"""Database checks: log in to PostgreSQL or MySQL/MariaDB and run a query."""

from __future__ import annotations

import time
from typing import Any

from siaga.checks.base import CheckFailed, Observation, ProbeContext, first_line
from siaga.config.checks import DatabaseCheck
from siaga.config.secrets import SecretError
from siaga.i18n.messages import Message


class DatabaseProbe:
    def __init__(self, check: DatabaseCheck) -> None:
        self.check = check

    def _password(self, ctx: ProbeContext) -> str | None:
        try:
            return self.check.read_secret("password", ctx.base_dir)
        except SecretError as exc:
            raise CheckFailed(Message("check.db_password", {"error": str(exc)}), retryable=False) from None

    async def probe(self, ctx: ProbeContext) -> Observation:
        check = self.check
        host, port = ctx.redirects.get(check.host, (check.host, check.effective_port))
        password = self._password(ctx)
        start = time.perf_counter()
        if check.engine == "postgresql":
            value = await self._postgresql(host, port, password)
        else:
            value = await self._mysql(host, port, password)
        latency = round((time.perf_counter() - start) * 1000, 2)
        text = None if value is None else str(value)
        if check.expected is not None and text != check.expected:
            raise CheckFailed(Message("check.db_result", {"got": repr(text), "expected": repr(check.expected)}))
        return Observation(latency_ms=latency,
                           said=Message("check.ok.db", {"latency_ms": round(latency), "result": text or "-"}))

    async def _postgresql(self, host: str, port: int, password: str | None) -> Any:
        import psycopg

        check = self.check
        try:
            conn = await psycopg.AsyncConnection.connect(
                host=host, port=port, dbname=check.database or "postgres", user=check.user,
                password=password, connect_timeout=max(1, int(check.timeout_s)), autocommit=True,
            )
        except psycopg.OperationalError as exc:
            raise CheckFailed(Message("check.db_login", {"engine": "PostgreSQL", "target": f"{check.host}:{port}",
                                                          "error": first_line(exc)})) from None
        try:
            async with conn.cursor() as cur:
                await cur.execute(check.query.encode())  # the operator's own query, from the config
                row = await cur.fetchone() if cur.description else None
        except psycopg.Error as exc:
            raise CheckFailed(Message("check.db_query", {"error": first_line(exc)})) from None
        finally:
            await conn.close()
        return row[0] if row else None

    async def _mysql(self, host: str, port: int, password: str | None) -> Any:
        import aiomysql
        import pymysql

        check = self.check
        try:
            conn = await aiomysql.connect(
                host=host, port=port, user=check.user, password=password or "", db=check.database,
                connect_timeout=check.timeout_s, autocommit=True,
            )
        except (pymysql.err.MySQLError, OSError) as exc:
            raise CheckFailed(Message("check.db_login", {"engine": "MySQL", "target": f"{check.host}:{port}",
                                                          "error": first_line(exc)})) from None
        try:
            async with conn.cursor() as cur:
                await cur.execute(check.query)
                row = await cur.fetchone()
        except pymysql.err.MySQLError as exc:
            raise CheckFailed(Message("check.db_query", {"error": first_line(exc)})) from None
        finally:
            conn.close()
        return row[0] if row else None
