"""A component that raises again and again: restarted with backoff, never the end of siaga; /healthz names
it; the "siaga degraded" page reaches a real webhook and is resolved once the component is healthy."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest

from .conftest import Peer, paging, running_siaga

pytestmark = pytest.mark.integration

RUNNER = Path(__file__).resolve().parent / "crashing.py"


def test_a_crashing_component_is_restarted_with_backoff_and_pages_degraded(
    tmp_path: Path, peer: Peer, free_port: int
) -> None:
    (tmp_path / "crash").write_text("sensor bus driver crashed\n", encoding="utf-8")
    config = tmp_path / "siaga.yaml"
    config.write_text("""
site: {name: Uji Gangguan, timezone: Asia/Makassar, language: id}
store: {data_dir: state}
runtime: {degraded_page_after: 2s, healthy_after: 1s, restart_max_pause: 4s}
""" + paging(peer), encoding="utf-8")
    argv = [str(RUNNER), "serve", "--config", str(config), "--port", str(free_port)]
    with running_siaga(argv, free_port, tmp_path / "siaga.log") as siaga:
        body = siaga.wait_health(
            lambda code, b: code == 503 and any(r.get("component") == "faults.crashing" for r in b["reasons"]),
            "the crashing component",
        )
        [reason] = [r for r in body["reasons"] if r.get("component") == "faults.crashing"]
        assert reason["reason"] == "component.restarting" and reason["state"] == "restarting"
        assert reason["last_error"] == "RuntimeError: sensor bus driver crashed"
        assert body["components"]["web"] == "running"  # the rest goes on

        page = peer.wait_page("siaga terganggu")
        assert "faults.crashing" in page["title"] + page["message"]
        since = dt.datetime.fromisoformat(reason["since"]).astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert f"{since:%H:%M} WITA" in page["message"]  # since when, in the site's time

        (tmp_path / "crash").unlink()  # the trouble is over
        siaga.wait_health(lambda code, b: code == 200 and b["components"]["faults.crashing"] == "running",
                          "the component healthy again")
        resolved = peer.wait_page("Selesai")
        assert "faults.crashing" in resolved["title"] + resolved["message"]
        code, log = siaga.terminate()
    assert code == 0, log[-4000:]
    pauses = [json.loads(line)["pause_s"] for line in log.splitlines()
              if line.startswith("{") and '"component failed; restarting"' in line]
    assert pauses[:4] == [1.0, 2.0, 4.0, 4.0][: len(pauses[:4])] and len(pauses) >= 2  # doubling, capped
    assert re.search(r'"msg": "component healthy again".*"faults.crashing"', log)
