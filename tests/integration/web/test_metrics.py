"""/metrics as Prometheus and Grafana read it: one family per kind and unit, the docs generated from the code,
promtool's lint clean on a real scrape, and the shipped Grafana dashboard asking only for families we serve."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx
from web_standins import fire_alert, put_reading

from siaga.web.auth import accounts
from siaga.web.metrics import FAMILIES, families_markdown

ROOT = Path(__file__).resolve().parents[3]


def _token(site: Ctx, *scopes: str) -> dict[str, str]:
    with site.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "t", list(scopes), NOW, actor="test")
    return {"Authorization": f"Bearer {secret}"}


DASHBOARD = ROOT / "deploy" / "grafana" / "siaga.json"


def _scrape(client: TestClient, site: Ctx) -> str:
    fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    put_reading(site.engine, "temp-r1-top", 23.5, NOW)
    put_reading(site.engine, "leak-r1-floor", 1.0, NOW)
    resp = client.get("/metrics", headers=_token(site, "read"))
    assert resp.status_code == 200
    return resp.text


def test_each_sensor_kind_has_a_family_of_its_own_unit(client: TestClient, site: Ctx) -> None:
    text = _scrape(client, site)
    assert re.search(r'^siaga_temperature_celsius\{.*sensor="temp-r1-top".*\} 23\.5$', text, re.M)
    assert re.search(r'^siaga_leak_detected\{.*sensor="leak-r1-floor".*\} 1\.0$', text, re.M)
    assert re.search(r'^siaga_sensor_age_seconds\{kind="temperature",sensor="temp-r1-top"\}', text, re.M)
    assert "siaga_sensor_value" not in text


def test_a_real_scrape_passes_promtool(client: TestClient, site: Ctx, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool missing: apt-get install prometheus (scripts/setup.sh installs it)")
    done = subprocess.run(
        [promtool, "check", "metrics"], input=_scrape(client, site), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_metrics_table_of_the_docs_is_generated_from_the_code() -> None:
    doc = (ROOT / "docs" / "dashboard.md").read_text()
    table = doc.split("-->\n", 1)[1].split("<!-- metrics:end -->")[0] if "<!-- metrics:start" in doc else ""
    assert table == families_markdown(), "docs/dashboard.md is stale: paste `python -m siaga.web.metrics` there"


def test_the_grafana_dashboard_asks_only_for_families_siaga_serves(client: TestClient, site: Ctx) -> None:
    dash = json.loads(DASHBOARD.read_text())
    served = set(FAMILIES)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v.get("query", "") for v in dash["templating"]["list"]]
    assert exprs
    for expr in exprs:
        names = set(re.findall(r"\bsiaga_[a-z_]+", expr))
        assert names, expr
        assert names <= served, f"{expr}: {names - served} not served"
    text = _scrape(client, site)
    for needed in ("siaga_temperature_celsius", "siaga_leak_detected", "siaga_alerts"):
        assert f"\n{needed}{{" in text
    assert {p["id"] for p in dash["panels"]} == set(range(1, len(dash["panels"]) + 1))


def test_a_process_sharing_the_checks_says_its_slot_moves_and_what_a_takeover_left_unwritten(
        client: TestClient, site: Ctx) -> None:
    from siaga.checks.engine import ChecksEngine

    assert "siaga_checks_results_not_written" not in _scrape(client, site)  # no checks run here: nothing said
    engine = ChecksEngine(site.loaded.config, base_dir=ROOT)
    engine.moves, engine.not_written = 5, 3
    site.services.checks = engine
    text = client.get("/metrics", headers=_token(site, "read")).text
    assert re.search(r"^siaga_checks_slot_moves_total 5\.0$", text, re.M)
    assert re.search(r"^siaga_checks_results_not_written_total 3\.0$", text, re.M)
