"""Approvals of an ``approve`` runbook through the real web app, the steps on a real sshd (tests/conftest.py):
with ``approvals: 2`` nothing runs until two different people approved; the same person approving twice (the
link replayed, the name in other case) counts once; the run starts once."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from siaga.config import LoadedConfig, parse_config
from siaga.notify.component import key_path
from siaga.notify.keyfile import load_or_create_key
from siaga.runbooks.approval import sign_approval
from siaga.runbooks.component import record
from siaga.runtime.context import RuntimeContext
from siaga.store.events import recent_events
from siaga.web.app import create_app

pytestmark = pytest.mark.integration


def runbook_site(tmp_path: Path, sshd: Any, approvals: int, extra: str = "") -> RuntimeContext:
    log = tmp_path / "calls.log"
    text = f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: en}}
store: {{data_dir: {tmp_path / "state"}}}
web: {{public_url: "http://siaga.test"}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server}}]
devices: [{{id: srv-web, kind: server, rack: R1, u: 3}}]
runbooks:
  hosts:
    - {{device: srv-web, address: 127.0.0.1, port: {sshd.port}, key_file: "{sshd.identity_file}",
       known_hosts_file: "{sshd.known_hosts_file}"}}
  books:
    - id: shutdown-r1
      mode: approve
      approvals: {approvals}
      trigger: {{rule: leak, subject: R1}}
      steps: [{{kind: ssh, device: srv-web, command: "echo called >> {log}"}}]
{extra}"""
    return RuntimeContext(loaded=LoadedConfig(parse_config(text, "siaga.yaml"), tmp_path / "siaga.yaml"),
                          engine=_engine(tmp_path))


def _engine(tmp_path: Path) -> Engine:
    from siaga.store import create_engine_for, sqlite_url, upgrade

    eng = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(eng)
    return eng


async def proposal_token(ctx: RuntimeContext) -> str:
    proposal = await record(ctx, "runbook.proposed", {"runbook": "shutdown-r1", "rule": "leak", "subject": "R1"})
    assert proposal is not None
    return sign_approval(load_or_create_key(key_path(ctx)), "shutdown-r1", proposal, dt.datetime.now(dt.UTC))


def kinds(ctx: RuntimeContext, kind: str) -> list[Any]:
    with ctx.engine.connect() as conn:
        return recent_events(conn, subject="shutdown-r1", kind=kind)


async def until(what: Any, within_s: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within_s
    while not (found := what()):
        assert asyncio.get_running_loop().time() < deadline, what.__doc__
        await asyncio.sleep(0.05)
    return found


async def test_two_approvals_need_two_different_people_and_one_person_counts_once(tmp_path: Path, sshd) -> None:
    ctx = runbook_site(tmp_path, sshd, approvals=2)
    log = tmp_path / "calls.log"
    token = await proposal_token(ctx)
    app = create_app(ctx, routers=["siaga.runbooks.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        url = f"/runbooks/approve/{token}"
        first = await web.post(url, data={"name": "Andi"})
        assert first.status_code == 200 and "1 of 2 approvals" in first.text
        assert (await web.post(url, data={"name": "Andi"})).status_code == 410  # the link replayed
        assert (await web.post(url, data={"name": "  andi "})).status_code == 410  # the same person, spelt otherwise
        await asyncio.sleep(0.3)
        assert not log.exists() and kinds(ctx, "runbook.run.started") == []  # one person: nothing ran

        second = await web.post(url, data={"name": "Budi"})
        assert second.status_code == 200 and "runs now" in second.text

        def ended() -> list[Any]:
            """the run's end in the timeline"""
            return kinds(ctx, "runbook.run.ended")

        await until(ended)
        assert log.read_text().split() == ["called"]
        late = await web.post(url, data={"name": "Sari"})  # a third approval after the run starts nothing
        assert late.status_code == 200 and "runs now" not in late.text
        await asyncio.sleep(0.3)
        assert log.read_text().split() == ["called"] and len(ended()) == 1
    approved = kinds(ctx, "audit.runbook.approved")
    assert sorted(e.actor for e in approved) == ["Andi", "Budi", "Sari"]
    assert [e.data["approvals"] for e in reversed(approved)] == [1, 2, 3]
    ctx.engine.dispose()
