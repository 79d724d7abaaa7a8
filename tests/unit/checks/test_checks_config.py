"""Checks in siaga.yaml: every type parses, mistakes name the file, line and field."""

from __future__ import annotations

import pytest

from siaga.config import ConfigError, parse_config
from siaga.config.checks import DnsCheck, HttpCheck

BASE = """
site: {name: Test}
services:
  - {id: portal, name: Portal}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(BASE + text, "siaga.yaml")
    return [str(p) for p in exc.value.problems]


def test_every_type_parses_with_defaults() -> None:
    cfg = parse_config(
        BASE
        + """
checks:
  - {service: portal, type: http, url: "https://example.test", json_path: "$.status", json_expected: ok}
  - {service: portal, type: tcp, host: example.test, port: 25}
  - {service: portal, type: dns, query: example.test, record_type: mx, resolver: "127.0.0.1:5353"}
  - {service: portal, type: tls, host: example.test}
  - {service: portal, type: heartbeat, period_s: 3600}
  - {service: portal, type: database, engine: mysql, host: db, user: u, password_file: pw}
""",
        "siaga.yaml",
    )
    http, _tcp, dns, tls, hb, db = cfg.checks
    assert isinstance(http, HttpCheck) and http.check_id == "portal-http" and http.confirm.failures == 3
    assert http.confirm.successes == 2
    assert isinstance(dns, DnsCheck) and dns.record_type == "MX" and dns.resolver_address() == ("127.0.0.1", 5353)
    assert tls.interval_s == 3600
    assert hb.check_id == "portal-heartbeat"
    assert db.target_host() == "db:3306"


def test_an_unknown_service_is_named_with_its_line() -> None:
    out = problems("checks:\n  - {service: portl, type: tcp, host: h, port: 1}\n")
    assert out == ["siaga.yaml:6: checks[0].service: unknown service 'portl'; did you mean 'portal'?"]


def test_two_checks_with_the_same_id_are_refused() -> None:
    out = problems(
        "checks:\n  - {service: portal, type: tcp, host: h, port: 1}\n"
        "  - {service: portal, type: tcp, host: h, port: 2}\n"
    )
    assert len(out) == 1 and "duplicate check id 'portal-tcp'" in out[0] and out[0].startswith("siaga.yaml:7:")


def test_an_inline_database_password_is_refused() -> None:
    out = problems(
        "checks:\n  - {service: portal, type: database, engine: postgresql, host: h, user: u, password: x}\n"
    )
    assert any("inline secret" in p for p in out)


def test_a_bad_url_and_a_bad_record_type_are_reported() -> None:
    out = problems(
        "checks:\n  - {service: portal, type: http, url: ftp://x}\n"
        "  - {service: portal, type: dns, query: x, record_type: BOGUS}\n"
    )
    assert any("checks[0].url" in p and "not an http(s) URL" in p for p in out)
    assert any("checks[1].record_type" in p and "unknown record type" in p for p in out)


def test_maintenance_must_end_after_it_starts() -> None:
    out = problems(
        "maintenance:\n  - {id: m, title: t, starts_at: '2025-07-26T20:00', ends_at: '2025-07-26T19:00'}\n"
    )
    assert any("ends_at must be after starts_at" in p for p in out)
