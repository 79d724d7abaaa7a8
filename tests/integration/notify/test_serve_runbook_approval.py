"""A real ``siaga serve``: a leak on rack R1 proposes an ``approve`` runbook; its one-tap approval link reaches
people on a webhook. Nothing runs before the approval (the sshd command log stays empty, also after the
landing page was opened); the approval runs it once; the same approval replayed, another approval after the
run and an expired link run nothing more."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import httpx
import pytest

from siaga.runbooks.approval import sign_approval
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
runbooks:
  hosts:
    - {{device: srv-web, address: 127.0.0.1, port: {sshd.port}, key_file: "{sshd.identity_file}",
       known_hosts_file: "{sshd.known_hosts_file}"}}
  books:
    - id: shutdown-r1
      mode: approve
      trigger: {{rule: leak, subject: R1}}
      steps: [{{kind: ssh, device: srv-web, command: "echo called >> {log}"}}]
""")


def test_an_approve_runbook_runs_only_after_its_approval_and_only_once(tmp_path: Path, sshd) -> None:
    receiver = Receiver().start()
    log = tmp_path / "calls.log"
    try:
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook", sshd, log),
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
            assert "<script" not in page.text and "style=" not in page.text and "<style" not in page.text
            assert not log.exists()  # proposed and looked at: nothing ran

            def runs() -> int:
                with siaga.db.connect() as conn:
                    return len(recent_events(conn, subject="shutdown-r1", kind="runbook.run.ended"))

            key = (tmp_path / "state" / "ack.key").read_bytes().strip()
            expired = sign_approval(key, "shutdown-r1", 1, dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
            base = url.rsplit("/", 1)[0]
            assert httpx.post(f"{base}/{expired}", data={"name": "Andi"}, timeout=5).status_code == 400
            forged = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
            assert httpx.post(forged, data={"name": "Andi"}, timeout=5).status_code == 400
            assert not log.exists() and runs() == 0

            assert httpx.post(url, data={"name": "Andi"}, timeout=5).status_code == 200
            wait_for(lambda: runs() == 1)
            assert log.read_text().split() == ["called"]
            assert httpx.post(url, data={"name": "Andi"}, timeout=5).status_code == 410  # replayed
            assert httpx.post(url, data={"name": "Budi"}, timeout=5).status_code == 200  # after the run
            with siaga.db.connect() as conn:
                approved = recent_events(conn, subject="shutdown-r1", kind="audit.runbook.approved")
            assert {e.actor for e in approved} == {"Andi", "Budi"}
            assert runs() == 1 and log.read_text().split() == ["called"]
    finally:
        receiver.stop()
