"""HTTP checks against real servers the test starts and stops."""

from __future__ import annotations

import pytest

from siaga.checks.base import ProbeContext, run_once
from siaga.checks.http import HttpProbe
from siaga.config.checks import HttpCheck

pytestmark = pytest.mark.integration


def http(url: str, **kw: object) -> HttpProbe:
    return HttpProbe(HttpCheck.model_validate({"service": "portal", "type": "http", "url": url, **kw}))


async def test_a_healthy_site_is_up_with_its_latency(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/healthy"), keyword="Bontang"), probe_ctx)
    assert result.ok, result.message
    assert result.latency_ms is not None and result.latency_ms < 1000
    assert result.details["status"] == 200


async def test_a_503_is_a_failure_naming_the_status(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/down")), probe_ctx)
    assert not result.ok and result.message == "HTTP 503 (expected 2xx/3xx)" and result.retryable


async def test_a_missing_keyword_fails(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/wrong"), keyword="Bontang"), probe_ctx)
    assert not result.ok and result.why is not None and result.why.key == "check.keyword_missing"
    assert result.message == 'keyword "Bontang" not found'


async def test_an_unwanted_keyword_fails(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/wrong"), keyword_absent="Error"), probe_ctx)
    assert not result.ok and 'unwanted text "Error"' in result.message


async def test_a_slow_answer_fails_its_latency_limit(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/slow"), max_latency_ms=300), probe_ctx)
    assert not result.ok and result.message.startswith("slow:")


async def test_a_slow_answer_past_the_timeout_fails(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/slow"), timeout_s=0.3), probe_ctx)
    assert not result.ok and ("0.3 s" in result.message or "Timeout" in result.message)


async def test_a_json_value_is_asserted(http_peer, probe_ctx: ProbeContext) -> None:
    ok = await run_once(http(http_peer.url("/json-ok"), json_path="$.status", json_expected="ok"), probe_ctx)
    assert ok.ok, ok.message
    nested = await run_once(http(http_peer.url("/json-ok"), json_path="$.db.latency_ms", json_expected=3), probe_ctx)
    assert nested.ok, nested.message
    bad = await run_once(http(http_peer.url("/json-degraded"), json_path="$.status", json_expected="ok"), probe_ctx)
    assert not bad.ok and bad.message == "$.status is 'degraded', expected 'ok'"


async def test_broken_json_fails(http_peer, probe_ctx: ProbeContext) -> None:
    result = await run_once(http(http_peer.url("/json-broken"), json_path="$.status"), probe_ctx)
    assert not result.ok and result.message == "the body is not valid JSON"


async def test_redirects_are_followed_or_not(http_peer, probe_ctx: ProbeContext) -> None:
    followed = await run_once(http(http_peer.url("/moved"), keyword="Bontang"), probe_ctx)
    assert followed.ok and followed.details["status"] == 200
    kept = await run_once(http(http_peer.url("/moved"), follow_redirects=False, expected_status=[200]), probe_ctx)
    assert not kept.ok and kept.details["status"] == 302


async def test_a_stopped_server_is_a_connection_failure(http_peer, probe_ctx: ProbeContext) -> None:
    url = http_peer.url("/healthy")
    assert (await run_once(http(url), probe_ctx)).ok
    await http_peer.runner.cleanup()
    result = await run_once(http(url), probe_ctx)
    assert not result.ok and result.message.startswith("cannot connect")


async def test_headers_carry_env_tokens_and_redirects_keep_the_host(http_peer, probe_ctx, monkeypatch) -> None:
    monkeypatch.setenv("PORTAL_TOKEN", "Bearer s3cret")
    probe_ctx.redirects["portal.bontang.test"] = ("127.0.0.1", http_peer.port)
    probe = http(
        "https://portal.bontang.test/echo", headers={"Authorization": "${PORTAL_TOKEN}"}, keyword="s3cret"
    )
    result = await run_once(probe, probe_ctx)
    assert result.ok, result.message


async def test_an_untrusted_certificate_fails_unless_verification_is_off(tls_peer_3_days, probe_ctx) -> None:
    url = f"https://127.0.0.1:{tls_peer_3_days.port}/healthy"
    strict = await run_once(http(url), probe_ctx)
    assert not strict.ok and "certificate" in strict.message.lower()
    lax = await run_once(http(url, verify_tls=False), probe_ctx)
    assert lax.ok, lax.message
