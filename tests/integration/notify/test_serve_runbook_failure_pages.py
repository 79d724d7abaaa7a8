"""A real ``siaga serve``: a leak on rack R1 triggers an ``auto`` runbook whose shutdown step fails on a real
sshd (the command exits 3); the runbook stops, and siaga pages its people on a webhook receiver about the
failed runbook. The timeline and the audit log hold the trigger, the step and the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from siaga.store.events import recent_events

from .peers import Receiver
from .served import serve, site, wait_for

pytestmark = pytest.mark.integration


def config(port: int, hook: str, sshd, log: Path) -> str:
    return site(port, hook, f"""
sensors:
  - {{id: leak-r1-floor, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
devices:
  - {{id: srv-web, kind: server, rack: R1, u: 3}}
services:
  - {{id: portal, name: Portal, runs_on: [srv-web]}}
runbooks:
  hosts:
    - {{device: srv-web, address: 127.0.0.1, port: {sshd.port}, key_file: "{sshd.identity_file}",
       known_hosts_file: "{sshd.known_hosts_file}", command: "echo called >> {log}; exit 3"}}
  books:
    - id: shutdown-r1
      mode: auto
      trigger: {{rule: leak, subject: R1}}
      steps: [{{kind: shutdown, target: R1, off_wait: 5s, timeout: 30s}}]
""")


def test_a_failing_step_of_a_triggered_runbook_stops_it_and_pages(tmp_path: Path, sshd) -> None:
    receiver = Receiver().start()
    log = tmp_path / "calls.log"
    try:
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook", sshd, log),
                   running="runbooks") as siaga:
            siaga.push("leak-r1-floor", 1)

            def runbook_page() -> list[object]:
                """a page about the failed runbook"""
                return [q for q in receiver.requests if "runbook" in str(q.body).lower()
                        and "shutdown-r1" in str(q.body)]

            pages = wait_for(runbook_page)
            assert log.read_text().split() == ["called"]  # the step ran once, then the runbook stopped
            assert "Runbook gagal" in str(pages[0].body)  # the site speaks Indonesian

            def ended() -> list[str]:
                """the run's end in the timeline"""
                with siaga.db.connect() as conn:
                    return [e.kind for e in reversed(recent_events(conn, subject="shutdown-r1"))]

            kinds = wait_for(lambda: "runbook.run.ended" in ended() and ended())
            for kind in ("runbook.triggered", "runbook.run.started", "runbook.step", "runbook.run.ended"):
                assert kind in kinds and f"audit.{kind}" in kinds
            with siaga.db.connect() as conn:
                step = recent_events(conn, subject="shutdown-r1", kind="runbook.step")[0]
            assert step.data is not None and step.data["ok"] is False and step.data["facts"]["exit_code"] == 3
    finally:
        receiver.stop()
