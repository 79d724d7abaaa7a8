"""A real ``siaga serve`` with runbooks triggered by a leak on rack R1, steps on a real sshd, pages on a webhook:

- an ``auto`` runbook whose shutdown step fails (the command exits 3) stops and pages about the failure; the
  timeline and the audit log hold the trigger, the step and the end;
- an ``approve`` runbook's one-tap approval link reaches people; nothing runs before the approval (the sshd
  command log stays empty, also after the landing page was opened); the approval runs it once; the same
  approval replayed (also under a typed name), an expired or a forged link run nothing more; the link is signed
  for the person it was sent to and the approval is theirs."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from siaga.runbooks.approval import sign_approval, verify_approval
from siaga.store.events import recent_events

from .peers import Receiver, free_port
from .served import serve, site, wait_for

pytestmark = pytest.mark.integration


def config(port: int, hook: str, sshd, mode: str, step: str, command: str = "") -> str:
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
       known_hosts_file: "{sshd.known_hosts_file}", command: "{command or 'true'}"}}
  books:
    - id: shutdown-r1
      mode: {mode}
      trigger: {{rule: leak, subject: R1}}
      steps: [{step}]
""")


SHUTDOWN = "{kind: shutdown, target: R1, off_wait: 5s, timeout: 30s}"


def test_a_failing_step_of_a_triggered_runbook_stops_it_and_pages(tmp_path: Path, sshd) -> None:
    receiver = Receiver().start()
    log = tmp_path / "calls.log"
    try:
        failing = f"echo called >> {log}; exit 3"
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook", sshd, "auto", SHUTDOWN, failing),
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


def test_an_approve_runbook_runs_only_after_its_approval_and_only_once(tmp_path: Path, sshd) -> None:
    receiver = Receiver().start()
    log = tmp_path / "calls.log"
    try:
        step = f'{{kind: ssh, device: srv-web, command: "echo called >> {log}"}}'
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook", sshd, "approve", step),
                   running="runbooks") as siaga:
            siaga.push("leak-r1-floor", 1)

            def link() -> str | None:
                """the approval link in a message"""
                for q in receiver.requests:
                    m = re.search(r"https?://[^\s\"']+/runbooks/approve/[A-Za-z0-9_.-]+", str(q.body))
                    if m:
                        return m.group(0)
                return None

            url = wait_for(link)
            page = httpx.get(url, timeout=5)
            assert page.status_code == 200 and "shutdown-r1" in page.text
            assert "Andi Pratama" in page.text and "<input" not in page.text  # who approves: the link says, no name
            assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
            assert not log.exists()  # proposed and looked at: nothing ran

            def runs() -> int:
                with siaga.db.connect() as conn:
                    return len(recent_events(conn, subject="shutdown-r1", kind="runbook.run.ended"))

            key = (tmp_path / "state" / "ack.key").read_bytes().strip()
            token = url.rsplit("/", 1)[1]
            assert verify_approval(key, token, dt.datetime.now(dt.UTC)).person == "andi"  # signed for andi
            expired = sign_approval(key, "shutdown-r1", 1, "person:andi", dt.datetime.now(dt.UTC) - dt.timedelta(1))
            base = url.rsplit("/", 1)[0]
            assert httpx.post(f"{base}/{expired}", timeout=5).status_code == 400
            forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
            assert httpx.post(forged, timeout=5).status_code == 400
            assert not log.exists() and runs() == 0

            assert httpx.post(url, timeout=5).status_code == 200
            wait_for(lambda: runs() == 1)
            assert log.read_text().split() == ["called"]
            assert httpx.post(url, timeout=5).status_code == 410  # replayed
            assert httpx.post(url, data={"name": "Budi"}, timeout=5).status_code == 410  # a typed name is no one
            with siaga.db.connect() as conn:
                approved = recent_events(conn, subject="shutdown-r1", kind="audit.runbook.approved")
            assert [(e.actor, e.data["person"], e.data["via"]) for e in approved] == [("Andi Pratama", "andi", "link")]
            assert runs() == 1 and log.read_text().split() == ["called"]
    finally:
        receiver.stop()


def test_a_triggered_runbooks_standby_step_makes_the_standby_take_over(tmp_path: Path) -> None:
    """The ``standby`` step of a runbook a trigger starts in ``siaga serve`` reloads the warm standby and waits for
    it to answer the service's check (as ``siaga runbook run`` does), not "no standby"."""
    import subprocess
    import sys

    from siaga.standby.actions import StandbyResult, record

    receiver = Receiver().start()
    log = tmp_path / "reload.log"
    (tmp_path / "pw").write_text("rahasia\n")
    served_dir = tmp_path / "standby" / "www"
    served_dir.mkdir(parents=True)
    (served_dir / "index.html").write_text("<h1>Portal Bontang</h1>\n")
    http_port = free_port()
    web = subprocess.Popen([sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1",
                            "--directory", str(served_dir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = f"""
sensors:
  - {{id: leak-r1-floor, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
services:
  - {{id: portal, name: Portal}}
targets: [{{id: colo, type: local, path: "{tmp_path / 'repo'}", password_file: pw, offsite: true}}]
backups: [{{id: portal-files, target: colo, services: [portal], paths: ["{tmp_path / 'src'}"], rpo: 6h}}]
checks: [{{type: http, service: portal, url: "http://portal.invalid/", keyword: Portal Bontang}}]
standbys:
  - {{service: portal, web_root: "{served_dir}", schedule: null, command: [sh, -c, "echo reload >> {log}"],
     check_url: "http://127.0.0.1:{http_port}", answer_within_s: 10}}
runbooks:
  books:
    - id: failover-portal
      mode: auto
      trigger: {{rule: leak, subject: R1}}
      steps: [{{kind: standby, service: portal}}]
"""
    try:
        with serve(tmp_path, lambda port: site(port, f"{receiver.url}/hook", parts), running="runbooks") as siaga:
            now = dt.datetime.now(dt.UTC)
            record(siaga.db, StandbyResult("portal", "refresh", now, ok=True, checks_ok=True), now)  # kept warm
            siaga.push("leak-r1-floor", 1)

            def step() -> list[object]:
                """the standby step in the timeline"""
                with siaga.db.connect() as conn:
                    return list(recent_events(conn, subject="failover-portal", kind="runbook.step"))

            found = wait_for(step)[0]
            assert found.data is not None and found.data["ok"] is True, found.data  # type: ignore[attr-defined]
            assert found.data["subject"] == "portal" and found.data["alert"]  # type: ignore[attr-defined]
            assert log.read_text().split() == ["reload"]  # the standby's command ran once
    finally:
        web.terminate()
        web.wait(5)
        receiver.stop()
