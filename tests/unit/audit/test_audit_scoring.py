"""The readiness audit scores what a careful room has, and says what is missing, in id and en."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.audit import AuditFacts, DrillFact, Status, audit
from siaga.audit.render import as_html, as_pdf, as_text
from siaga.cli.main import app
from siaga.config import load_config, parse_config

EXAMPLE = Path(__file__).parents[3] / "examples" / "bontang.yaml"
NOW = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)

# The room as it was on 16 July 2025: servers and services, no sensors, no backups, nobody to page.
BONTANG_2025 = """\
site: {name: Diskominfo Kota Bontang}
rooms:
  - {id: ruang-server, name: Ruang Server}
racks:
  - {id: R1, room: ruang-server}
devices:
  - {id: s1, kind: server, rack: R1, u: 1, value: 900000000}
  - {id: s2, kind: server, rack: R1, u: 2, value: 900000000}
services:
  - {id: portal, name: Portal, url: https://bontangkota.go.id, criticality: vital, runs_on: [s1, s2]}
"""


def by_id(result: object) -> dict[str, object]:
    return {f.criterion: f for f in result.findings}  # type: ignore[attr-defined]


def test_the_room_of_july_2025_is_not_ready() -> None:
    result = audit(parse_config(BONTANG_2025), NOW, lang="en")
    findings = by_id(result)
    assert result.grade == "not_ready"
    assert result.score < 10
    for criterion in ("inlet-temperature", "leak-detection", "smoke", "offsite-backup", "single-rack", "owners"):
        assert findings[criterion].status is Status.failed, criterion  # type: ignore[attr-defined]
    assert "Rack R1: no water leak sensor at ceiling-above" in findings["leak-detection"].evidence  # type: ignore[attr-defined]


def test_the_example_site_scores_high_and_names_its_gaps() -> None:
    cfg = load_config(EXAMPLE).config
    result = audit(cfg, NOW, lang="en")
    findings = by_id(result)
    assert result.score >= 60
    assert findings["inlet-temperature"].status is Status.passed  # type: ignore[attr-defined]
    # R1's servers are all in R1: the audit says so, as the Bontang flood showed.
    assert any("portal" in e for e in findings["single-rack"].evidence)  # type: ignore[attr-defined]


def test_a_criterion_without_anything_to_judge_does_not_count() -> None:
    cfg = parse_config("site: {name: Empty}\n")
    result = audit(cfg, NOW)
    assert all(f.status is Status.not_applicable or f.criterion == "escalation" for f in result.findings)


def test_partial_coverage_gives_a_partial_score() -> None:
    text = BONTANG_2025 + "sensors:\n  - {id: w1, kind: leak, rack: R1, zone: floor}\n"
    finding = by_id(audit(parse_config(text), NOW))["leak-detection"]
    assert finding.status is Status.partial  # type: ignore[attr-defined]
    assert finding.score == 0.5  # type: ignore[attr-defined]


def test_an_offline_sensor_does_not_count_as_coverage() -> None:
    text = BONTANG_2025 + "sensors:\n  - {id: w1, kind: leak, rack: R1, zone: floor}\n"
    facts = AuditFacts(sensors_offline=frozenset({"w1"}))
    finding = by_id(audit(parse_config(text), NOW, facts=facts))["leak-detection"]
    assert finding.status is Status.failed  # type: ignore[attr-defined]


def test_a_drill_older_than_35_days_is_a_gap() -> None:
    cfg = load_config(EXAMPLE).config
    jobs = [job.id for job in cfg.backups]
    assert jobs
    fresh = {j: DrillFact(NOW - dt.timedelta(days=3), ok=True, rto_seconds=600) for j in jobs}
    stale = {j: DrillFact(NOW - dt.timedelta(days=40), ok=True, rto_seconds=600) for j in jobs}
    failed = {j: DrillFact(NOW - dt.timedelta(days=1), ok=False) for j in jobs}
    assert by_id(audit(cfg, NOW, facts=AuditFacts(drills=fresh)))["restore-drills"].status is Status.passed  # type: ignore[attr-defined]
    assert by_id(audit(cfg, NOW, facts=AuditFacts(drills=stale)))["restore-drills"].status is Status.partial  # type: ignore[attr-defined]
    assert by_id(audit(cfg, NOW, facts=AuditFacts(drills=failed)))["restore-drills"].score < 1  # type: ignore[attr-defined]


def test_score_is_the_weighted_mean_of_applicable_criteria() -> None:
    result = audit(load_config(EXAMPLE).config, NOW)
    applicable = [f for f in result.findings if f.status is not Status.not_applicable]
    expected = 100 * sum(f.weight * f.score for f in applicable) / sum(f.weight for f in applicable)
    assert result.score == pytest.approx(expected, abs=0.05)


def test_the_audit_speaks_indonesian_by_default() -> None:
    text = as_text(audit(parse_config(BONTANG_2025), NOW))
    assert "Audit kesiapan ruang server" in text
    assert "Rak R1: tidak ada sensor kebocoran air di ceiling-above" in text


def test_html_report_in_english_shows_local_time_and_advice() -> None:
    html = as_html(audit(parse_config(BONTANG_2025), NOW, lang="en"), timezone="Asia/Makassar")
    assert "Room readiness audit" in html
    assert "16-07-2025 10:00 WITA" in html
    assert "in Bontang the water came through the roof" in html


def test_pdf_report_is_a_pdf() -> None:
    pdf = as_pdf(audit(parse_config(BONTANG_2025), NOW), timezone="Asia/Makassar")
    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 2000


def test_cli_writes_html_and_fails_under_a_threshold(tmp_path: Path) -> None:
    cfg = tmp_path / "siaga.yaml"
    cfg.write_text(BONTANG_2025)
    out = tmp_path / "audit.html"
    result = CliRunner().invoke(app, ["audit", "-c", str(cfg), "-f", "html", "-o", str(out), "--fail-under", "50"])
    assert result.exit_code == 1
    assert out.read_text().startswith("<!doctype html>")
    ok = CliRunner().invoke(app, ["audit", "-c", str(cfg), "--lang", "en"])
    assert ok.exit_code == 0
    assert "Score:" in ok.output
