"""axe-core (npm, a dev dependency) on every page of the dashboard and the public status page, in a real
browser: no WCAG 2 A/AA violation (colour contrast, names of links and buttons, labels, landmarks...)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import Siaga
from test_dashboard_browser import log_in, push_wet

from conftest import page_fixture
from siaga.web.assets import node_modules

pytestmark = pytest.mark.integration

PUBLIC = ["/login", "/status", "/status/services"]
SIGNED_IN = [
    "/",
    "/room",
    "/room/ruang-server",
    "/sensors",
    "/sensors/temp-r1-top",
    "/alerts",
    "/incidents",
    "/services",
    "/backups",
    "/runbooks",
    "/config",
    "/admin/users",
    "/admin/audit",
]


def _axe_source() -> Path:
    modules = node_modules()
    path = modules / "axe-core" / "axe.min.js" if modules else None
    if path is None or not path.is_file():
        pytest.fail("axe-core is not installed: scripts/setup.sh runs npm install (package.json devDependencies)")
    return path


@pytest.fixture
def audited(request: pytest.FixtureRequest, browser: object) -> Iterator[object]:
    # axe is injected as a script of the test's own: the page's Content-Security-Policy would refuse it.
    yield from page_fixture(request, browser, viewport={"width": 1280, "height": 900}, locale="id-ID",
                            bypass_csp=True)


def _violations(page: Any, axe: Path) -> list[str]:
    page.add_script_tag(path=str(axe))
    result = page.evaluate(
        "async () => await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    out = []
    for v in result["violations"]:
        targets = "; ".join(" ".join(n["target"]) for n in v["nodes"][:3])
        out.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s): {targets}")
    return out


def test_every_page_passes_axe(audited: Any, siaga: Siaga) -> None:
    axe = _axe_source()
    push_wet(siaga, "leak-r2-floor")  # an alert and an incident, so their pages have content
    found: dict[str, list[str]] = {}
    for path in PUBLIC:
        audited.goto(f"{siaga.url}{path}")
        audited.wait_for_load_state("networkidle")
        found[path] = _violations(audited, axe)
    log_in(audited, siaga.url, "admin", "/")
    for path in SIGNED_IN:
        resp = audited.goto(f"{siaga.url}{path}")
        assert resp is not None and resp.status == 200, path
        audited.wait_for_load_state("networkidle")
        found[path] = _violations(audited, axe)
    # the pages of one alert and one incident
    for listing, link in (("/alerts", "a[href^='/alerts/']"), ("/incidents", "a[href^='/incidents/']")):
        audited.goto(f"{siaga.url}{listing}")
        audited.wait_for_selector(link, timeout=20_000)
        href = audited.locator(link).first.get_attribute("href")
        audited.goto(f"{siaga.url}{href}")
        audited.wait_for_load_state("networkidle")
        found[str(href)] = _violations(audited, axe)
    bad = {p: v for p, v in found.items() if v}
    assert not bad, "\n".join(f"{p}:\n  " + "\n  ".join(v) for p, v in bad.items())
