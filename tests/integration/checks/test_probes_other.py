"""TCP, DNS, TLS expiry, heartbeat and database checks against real peers on loopback."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import make_url

from integration.cluster.cluster import Listener
from siaga.checks.base import ProbeContext, run_once
from siaga.checks.database import DatabaseProbe
from siaga.checks.dns import DnsProbe
from siaga.checks.heartbeat import HeartbeatBook, HeartbeatProbe
from siaga.checks.tcp import TcpProbe
from siaga.checks.tls import TlsProbe
from siaga.config.checks import DatabaseCheck, DnsCheck, HeartbeatCheck, TcpCheck, TlsCheck
from siaga.i18n.messages import render

pytestmark = pytest.mark.integration


def _find_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_open_port_is_up_and_a_closed_one_down(tcp_port: int, probe_ctx: ProbeContext) -> None:
    up = await run_once(TcpProbe(TcpCheck(service="mail", type="tcp", host="127.0.0.1", port=tcp_port)), probe_ctx)
    assert up.ok, up.message
    closed = _find_free_port()
    down = await run_once(TcpProbe(TcpCheck(service="mail", type="tcp", host="127.0.0.1", port=closed)), probe_ctx)
    assert not down.ok and down.message.startswith(f"cannot connect to 127.0.0.1:{closed}")


async def test_a_tcp_check_leaves_nothing_for_the_garbage_collector(probe_ctx: ProbeContext) -> None:
    """At 20,000 checks a minute, objects left in reference cycles by each check made the collector's passes
    the longest stalls of a process (asyncio.open_connection left seven a check)."""
    import asyncio
    import gc

    listener = Listener()
    up = TcpProbe(TcpCheck(service="mail", type="tcp", host="127.0.0.1", port=listener.port))
    down = TcpProbe(TcpCheck(service="mail", type="tcp", host="127.0.0.1", port=_find_free_port()))
    try:
        await run_once(up, probe_ctx)  # what the first run makes once (the loop's resolver, caches) is not counted
        gc.collect()
        gc.disable()
        try:
            results = await asyncio.gather(*(run_once(p, probe_ctx) for p in [up] * 200 + [down] * 20))
            left = gc.collect()
        finally:
            gc.enable()
    finally:
        listener.close()
    assert [r.ok for r in results] == [True] * 200 + [False] * 20
    assert left < 20, left  # open_connection: 1,400


async def test_a_tcp_check_finds_a_name_and_an_ipv6_address(probe_ctx: ProbeContext) -> None:
    listener = Listener()
    try:
        by_name = await run_once(TcpProbe(TcpCheck(service="mail", type="tcp", host="localhost", port=listener.port)),
                                 probe_ctx)
    finally:
        listener.close()
    assert by_name.ok, by_name.message
    try:
        six = Listener("::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    try:
        v6 = await run_once(TcpProbe(TcpCheck(service="mail", type="tcp", host="::1", port=six.port)), probe_ctx)
    finally:
        six.close()
    assert v6.ok, v6.message
    unknown = await run_once(TcpProbe(TcpCheck(service="mail", type="tcp", host="tidak-ada.invalid", port=25)),
                             probe_ctx)
    assert not unknown.ok and unknown.why is not None and unknown.why.key == "check.unresolved"


def dns(port: int, **kw: object) -> DnsProbe:
    return DnsProbe(
        DnsCheck.model_validate({"service": "dns", "type": "dns", "resolver": f"127.0.0.1:{port}", **kw})
    )


async def test_dns_answers_are_checked_at_the_chosen_resolver(dns_peer, probe_ctx: ProbeContext) -> None:
    ok = await run_once(dns(dns_peer.port, query="portal.bontang.test", expected=["10.10.1.20"]), probe_ctx)
    assert ok.ok, ok.message
    assert ok.details["answers"] == ["10.10.1.20", "10.10.1.21"]
    mx = await run_once(
        dns(dns_peer.port, query="bontang.test", record_type="MX", expected=["10 mail.bontang.test"]), probe_ctx
    )
    assert mx.ok, mx.message


async def test_a_wrong_answer_and_a_missing_name_fail(dns_peer, probe_ctx: ProbeContext) -> None:
    wrong = await run_once(dns(dns_peer.port, query="portal.bontang.test", expected=["10.10.9.9"]), probe_ctx)
    assert not wrong.ok and "expected 10.10.9.9, got 10.10.1.20, 10.10.1.21" in wrong.message
    missing = await run_once(dns(dns_peer.port, query="nope.bontang.test"), probe_ctx)
    assert not missing.ok and "NXDOMAIN" in missing.message


async def test_a_silent_resolver_times_out(probe_ctx: ProbeContext) -> None:
    port = _find_free_port()  # nothing listens there
    result = await run_once(dns(port, query="portal.bontang.test", timeout_s=0.5), probe_ctx)
    assert not result.ok


async def test_a_certificate_expiring_in_3_days_is_critical(tls_peer_3_days, probe_ctx: ProbeContext) -> None:
    check = TlsCheck(
        service="portal", type="tls", host="localhost", port=tls_peer_3_days.port,
        ca_file=str(tls_peer_3_days.ca_file), warning_days=21, critical_days=7,
    )
    result = await run_once(TlsProbe(check), probe_ctx)
    assert result.ok, result.message  # not expired yet: up, but with a warning
    assert result.details["level"] == "critical"
    assert 2.9 < result.details["days_left"] <= 3.0
    assert result.warning and "expires in 3 days" in result.warning
    assert result.warned is not None and "kedaluwarsa dalam 3 hari" in render(result.warned, "id", ZoneInfo("UTC"))


async def test_an_expired_certificate_is_down_at_once(tls_peer_3_days, probe_ctx: ProbeContext) -> None:
    probe_ctx.clock = lambda: tls_peer_3_days.not_after + dt.timedelta(hours=1)  # four days later
    check = TlsCheck(
        service="portal", type="tls", host="localhost", port=tls_peer_3_days.port, ca_file=str(tls_peer_3_days.ca_file),
    )
    result = await run_once(TlsProbe(check), probe_ctx)
    assert not result.ok and result.message.startswith("certificate expired") and not result.retryable


async def test_an_unknown_ca_is_refused(tls_peer_3_days, probe_ctx: ProbeContext) -> None:
    check = TlsCheck(service="portal", type="tls", host="localhost", port=tls_peer_3_days.port)
    result = await run_once(TlsProbe(check), probe_ctx)
    assert not result.ok and "not accepted" in result.message


async def test_heartbeats_arriving_late_go_down(probe_ctx: ProbeContext) -> None:
    t0 = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)
    now = [t0]
    probe_ctx.clock = lambda: now[0]
    book = HeartbeatBook(listening_since=t0)
    probe_ctx.heartbeats = book
    check = HeartbeatCheck(service="db-utama", type="heartbeat", id="backup-db", period_s=3600, grace_s=600)
    book.known.add(check.ping_key)
    probe = HeartbeatProbe(check)
    assert (await run_once(probe, probe_ctx)).ok  # waiting for the first ping
    now[0] = t0 + dt.timedelta(seconds=3600 + 601)
    late = await run_once(probe, probe_ctx)
    assert not late.ok and late.message.startswith("no ping yet") and not late.retryable
    assert book.ping("backup-db", now[0])
    assert (await run_once(probe, probe_ctx)).ok
    now[0] += dt.timedelta(seconds=3600 + 599)
    assert (await run_once(probe, probe_ctx)).ok  # within grace
    now[0] += dt.timedelta(seconds=2)
    again = await run_once(probe, probe_ctx)
    assert not again.ok and again.why is not None and again.why.key == "check.heartbeat_late"
    assert again.why.params["ago_s"] == 4201 and again.message.startswith("last ping 1 hour")
    book.ping("backup-db", now[0], failed=True)
    failed = await run_once(probe, probe_ctx)
    assert not failed.ok and "reported a failure" in failed.message
    assert not book.ping("unknown-job", now[0])


@pytest.mark.postgres
async def test_a_postgresql_login_and_query(postgres_admin_url: str, probe_ctx: ProbeContext, tmp_path) -> None:
    url = make_url(postgres_admin_url)
    pw = tmp_path / "pw"
    pw.write_text((url.password or "") + "\n")
    base = {
        "service": "db-utama", "type": "database", "engine": "postgresql", "host": url.host or "127.0.0.1",
        "port": url.port, "database": url.database, "user": url.username,
    }
    if url.password:
        base["password_file"] = "pw"
    ok = await run_once(
        DatabaseProbe(DatabaseCheck.model_validate({**base, "query": "SELECT 40 + 2", "expected": "42"})), probe_ctx
    )
    assert ok.ok, ok.message
    bad_query = await run_once(
        DatabaseProbe(DatabaseCheck.model_validate({**base, "query": "SELECT * FROM no_such_table"})), probe_ctx
    )
    assert not bad_query.ok and "no_such_table" in bad_query.message
    wrong_db = await run_once(
        DatabaseProbe(DatabaseCheck.model_validate({**base, "database": "no_such_db"})), probe_ctx
    )
    assert not wrong_db.ok and wrong_db.message.startswith("cannot log in to PostgreSQL")


async def test_a_database_nobody_listens_on_is_down(probe_ctx: ProbeContext) -> None:
    port = _find_free_port()
    for engine in ("postgresql", "mysql"):
        check = DatabaseCheck.model_validate(
            {"service": "db", "type": "database", "engine": engine, "host": "127.0.0.1", "port": port,
             "user": "u", "timeout_s": 3}
        )
        result = await run_once(DatabaseProbe(check), probe_ctx)
        assert not result.ok and result.message.startswith("cannot log in"), result.message
