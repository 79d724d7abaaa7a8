"""The ``standbys:`` section (its mistakes named with their line) and the pure standby freshness rules."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.config import ConfigError, parse_config
from siaga.config.standby import stale_after
from siaga.standby.freshness import StandbyFacts, assess
from siaga.vocab import Severity

BASE = """site: {name: Colo Kaltim}
services: [{id: portal, name: Portal}, {id: surat, name: Surat}]
targets: [{id: colo, type: local, path: /tmp/r, password_file: pw}]
backups:
  - {id: portal-files, target: colo, services: [portal], paths: [/srv/www], rpo: 6h}
  - {id: portal-db, target: colo, services: [portal], rpo: 2h,
     database: {type: postgresql, name: portal, host: db, user: postgres}}
"""


def test_a_standby_takes_the_longest_rpo_of_its_jobs() -> None:
    cfg = parse_config(BASE + "standbys:\n  - {service: portal, web_root: /srv/standby/www, "
                       "database_url: 'postgresql://postgres@127.0.0.1/portal', command: [nginx, -s, reload]}\n")
    (sb,) = cfg.standbys
    assert stale_after(sb, cfg.backups) == dt.timedelta(hours=6)
    assert sb.schedule == "30 */6 * * *" and sb.command == ["nginx", "-s", "reload"]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("{service: portl, web_root: /w}", "unknown service 'portl'; did you mean 'portal'?"),
        ("{service: surat, web_root: /w}", "no backup job with paths protects service 'surat'"),
        ("{service: surat, database_url: 'postgresql://x/y'}", "no backup job with a database protects"),
        ("{service: portal}", "say what to keep warm"),
        ("{service: portal, web_root: /w, schedule: often}", "not a cron expression"),
        ("{service: portal, web_root: /w, files_path: /etc}", "is not a path of job portal-files"),
    ],
)
def test_mistakes_are_refused_with_their_place(entry: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + "standbys:\n  - " + entry + "\n", "siaga.yaml")
    assert says in str(err.value)
    assert "standbys" in str(err.value) and "siaga.yaml:9" in str(err.value)


NOW = dt.datetime(2026, 12, 6, 4, 0, tzinfo=dt.UTC)


def facts(**kw: object) -> StandbyFacts:
    base: dict[str, object] = {
        "service": "portal", "stale_after": dt.timedelta(hours=1), "data_at": NOW - dt.timedelta(minutes=30),
        "last_ok": True, "last_error": None, "checks_ok": True, "watched_since": NOW - dt.timedelta(days=1),
    }
    return StandbyFacts(**{**base, **kw})  # type: ignore[arg-type]


def active(f: StandbyFacts) -> dict[str, Severity]:
    return {c.rule: c.severity for c in assess(f, NOW) if c.active}


def test_freshness_against_the_rpo() -> None:
    assert active(facts()) == {}
    assert active(facts(data_at=NOW - dt.timedelta(minutes=90))) == {"standby.stale": Severity.warning}
    assert active(facts(data_at=NOW - dt.timedelta(hours=3))) == {"standby.stale": Severity.critical}
    never = [c for c in assess(facts(data_at=None), NOW) if c.active]
    assert [c.summary.key for c in never] == ["standby.stale.none"]
    assert active(facts(data_at=None, watched_since=NOW - dt.timedelta(minutes=5))) == {}


def test_a_failed_refresh_and_a_failed_check_are_alerts() -> None:
    assert set(active(facts(last_ok=False, last_error="restic: no such snapshot"))) == {"standby.failed"}
    assert set(active(facts(checks_ok=False, last_error="check portal-http: 404"))) == {"standby.check"}
    assert active(facts(stale_after=None, data_at=None)) == {}


def test_the_audit_shows_the_last_recovery_drill_and_flags_an_old_one() -> None:
    from siaga.audit import AuditFacts, DrillFact, Status, audit

    cfg = parse_config(BASE + "standbys:\n  - {service: portal, web_root: /srv/standby/www}\n")
    fresh = AuditFacts(standby_drills={"portal": DrillFact(NOW - dt.timedelta(days=2), ok=True, rto_seconds=0.8)})
    found = {f.criterion: f for f in audit(cfg, NOW, facts=fresh, lang="en").findings}["standby-drills"]
    assert found.status is Status.passed
    assert found.evidence == ("Standby portal: answered its checks 0.8 s after the trigger",)
    old = AuditFacts(standby_drills={"portal": DrillFact(NOW - dt.timedelta(days=40), ok=True, rto_seconds=0.8)})
    found = {f.criterion: f for f in audit(cfg, NOW, facts=old, lang="en").findings}["standby-drills"]
    assert found.status is Status.failed and "last 35 days" in found.evidence[0]
    assert {f.criterion: f for f in audit(cfg, NOW).findings}["standby-drills"].status is Status.not_applicable
