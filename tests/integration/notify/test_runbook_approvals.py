"""Approvals of an ``approve`` runbook through the real web app, the steps on a real sshd (tests/conftest.py):
each link is signed for one person; with ``approvals: 2`` nothing runs until two different people approved; the
same person approving twice (the link replayed, under a typed name, by link then by Telegram) counts once; a link
for one person changed to name another, or expired, approves nothing; the run starts once."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from siaga.config import LoadedConfig, parse_config
from siaga.config.site import Language
from siaga.notify.component import key_path
from siaga.notify.keyfile import load_or_create_key
from siaga.runbooks.approval import approval_token_in, sign_approval, verify_approval
from siaga.runbooks.component import record
from siaga.runtime.context import RuntimeContext
from siaga.store.events import recent_events
from siaga.store.types import utcnow
from siaga.web.app import create_app

pytestmark = pytest.mark.integration


def runbook_site(tmp_path: Path, sshd: Any, approvals: int, extra: str = "", language: str = "en") -> RuntimeContext:
    log = tmp_path / "calls.log"
    text = f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: {language}}}
store: {{data_dir: {tmp_path / "state"}}}
web: {{public_url: "http://siaga.test"}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server}}]
people:
  - {{id: andi, name: Andi Pratama}}
  - {{id: budi, name: Budi Santoso}}
  - {{id: sari, name: Sari Wulandari}}
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


async def proposal_tokens(ctx: RuntimeContext, *people: str, expires: dt.datetime | None = None) -> list[str]:
    """A proposal recorded and its links, one signed for each of ``people`` (as notify signs them)."""
    proposal = await record(ctx, "runbook.proposed", {"runbook": "shutdown-r1", "rule": "leak", "subject": "R1"})
    assert proposal is not None
    until = expires or dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return [sign_approval(load_or_create_key(key_path(ctx)), "shutdown-r1", proposal, f"person:{p}", until)
            for p in people]


def tampered(token: str, **changes: object) -> str:
    """``token`` with its signed body changed (the signature kept)."""
    payload, _, sig = token.partition(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(changes)
    data = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{data}.{sig}"


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
    andi, budi, sari = await proposal_tokens(ctx, "andi", "budi", "sari")
    app = create_app(ctx, routers=["siaga.runbooks.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        url = f"/runbooks/approve/{andi}"
        page = await web.get(url)  # the page says who approves and asks for no name
        assert "You approve as Andi Pratama." in page.text and "<input" not in page.text
        first = await web.post(url)
        assert first.status_code == 200 and "Andi Pratama: 1 of 2 approvals" in first.text
        assert (await web.post(url)).status_code == 410  # the link replayed
        assert (await web.post(url, data={"name": "Budi"})).status_code == 410  # a typed name is no one: still andi
        for forged in (tampered(andi, r="person:budi"), tampered(budi, r="person:andi", p=0)):
            refused = await web.post(f"/runbooks/approve/{forged}")  # andi's link made to name budi
            assert refused.status_code == 400 and "not signed" in refused.text
        claim = verify_approval(load_or_create_key(key_path(ctx)), andi, dt.datetime.now(dt.UTC))
        group = sign_approval(load_or_create_key(key_path(ctx)), "shutdown-r1", claim.proposal, "group:tim",
                              claim.expires)  # a group's link names nobody: no approval on the web
        for ask in (web.get, web.post):
            refused = await ask(f"/runbooks/approve/{group}")
            assert refused.status_code == 400 and "sent to a group" in refused.text
        await asyncio.sleep(0.3)
        assert not log.exists() and kinds(ctx, "runbook.run.started") == []  # one person: nothing ran

        second = await web.post(f"/runbooks/approve/{budi}")
        assert second.status_code == 200 and "runs now" in second.text

        def ended() -> list[Any]:
            """the run's end in the timeline"""
            return kinds(ctx, "runbook.run.ended")

        await until(ended)
        assert log.read_text().split() == ["called"]
        late = await web.post(f"/runbooks/approve/{sari}")  # a third approval after the run starts nothing
        assert late.status_code == 200 and "runs now" not in late.text
        await asyncio.sleep(0.3)
        assert log.read_text().split() == ["called"] and len(ended()) == 1
    approved = kinds(ctx, "audit.runbook.approved")
    assert sorted((e.actor, e.data["person"], e.data["via"]) for e in approved) == [
        ("Andi Pratama", "andi", "link"), ("Budi Santoso", "budi", "link"), ("Sari Wulandari", "sari", "link")]
    assert [e.data["approvals"] for e in reversed(approved)] == [1, 2, 3]
    ctx.engine.dispose()


@pytest.mark.parametrize(("language", "expired", "group"), [
    ("en", "This link cannot be used: link expired.",
     "This link cannot be used: this link was sent to a group: approve with your own link or on Telegram."),
    ("id", "Tautan ini tidak dapat dipakai: tautan sudah kedaluwarsa.",
     "Tautan ini tidak dapat dipakai: tautan ini dikirim ke sebuah grup: setujui dengan tautan Anda sendiri atau "
     "lewat Telegram."),
])
async def test_an_expired_link_approves_nothing_and_the_page_says_why_in_its_language(
        tmp_path: Path, sshd, language: str, expired: str, group: str) -> None:
    ctx = runbook_site(tmp_path, sshd, approvals=1, language=language)
    [andi] = await proposal_tokens(ctx, "andi", expires=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    tim = sign_approval(load_or_create_key(key_path(ctx)), "shutdown-r1", 1, "group:tim",
                        dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    app = create_app(ctx, routers=["siaga.runbooks.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        for ask in (web.get, web.post):
            answer = await ask(f"/runbooks/approve/{andi}")
            assert answer.status_code == 400 and expired in html.unescape(answer.text), answer.text
            answer = await ask(f"/runbooks/approve/{tim}")
            assert answer.status_code == 400 and group in html.unescape(answer.text), answer.text
    assert kinds(ctx, "runbook.approved") == [] and kinds(ctx, "runbook.run.started") == []
    assert not (tmp_path / "calls.log").exists()
    ctx.engine.dispose()


async def test_telegram_approve_buttons_are_checked_at_use_like_the_link(tmp_path: Path, sshd, engine,
                                                                          receiver, mailbox) -> None:
    """The approval request sent on Telegram carries an Approve button and a link signed for its person; the bot's
    callback approves as the person the pressing account is linked to; with ``approvals: 2`` the run starts at
    the second person; the same person approving by link and then by the button, or pressing again, or anyone
    after the link's hour, does nothing."""
    from siaga.alerts.impact import impact_resolver
    from siaga.alerts.manager import AlertManager
    from siaga.notify.component import ManagerActions
    from siaga.notify.links import new_link_code
    from siaga.notify.telegram_bot import TelegramBot
    from siaga.runbooks.component import offer_approvals, propose

    from .conftest import make_service, site_config

    log = tmp_path / "calls.log"
    books = f"""devices: [{{id: srv-web, kind: server, rack: R1, u: 3}}]
runbooks:
  hosts:
    - {{device: srv-web, address: 127.0.0.1, port: {sshd.port}, key_file: "{sshd.identity_file}",
       known_hosts_file: "{sshd.known_hosts_file}"}}
  books:
    - id: shutdown-r1
      mode: approve
      approvals: 2
      trigger: {{rule: leak, subject: R1}}
      steps: [{{kind: ssh, device: srv-web, command: "echo called >> {log}"}}]
"""
    steps = "      - {people: [andi, sari], channels: [tg]}\n"
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, tg_url=receiver.url, steps=steps, extra=books)
    shift = [dt.timedelta(0)]

    def clock() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + shift[0]

    ctx = RuntimeContext(loaded=LoadedConfig(cfg, tmp_path / "siaga.yaml"), engine=engine, clock=clock)
    manager = AlertManager(engine, impact_of=impact_resolver(cfg), clock=clock)
    manager.load()
    svc, _fake = make_service(engine, cfg, tmp_path, clock)
    svc.notifier.key = load_or_create_key(key_path(ctx))  # one key for ack and approval links, as in serve
    svc.actions = ManagerActions(manager)
    ctx.services.alerts = manager
    ctx.services.notify = svc
    offer_approvals(ctx)
    assert cfg.notification.telegram_bot is not None
    bot = TelegramBot(svc, cfg.notification.telegram_bot)
    stop = asyncio.Event()
    queue = manager.subscribe()
    tasks = [asyncio.create_task(svc.consume(queue, stop)), asyncio.create_task(svc.run(stop)),
             asyncio.create_task(bot.run(stop))]
    try:
        book = cfg.runbooks.book("shutdown-r1")
        assert book is not None
        await propose(ctx, book, {"rule": "leak", "subject": "R1"})
        sent = await asyncio.to_thread(receiver.wait_tg, "sendMessage", 2)
        by_chat = {m["chat_id"]: m for m in sent}
        assert "/runbooks/approve/" in by_chat["1001"]["text"]
        rows = by_chat["1001"]["reply_markup"]["inline_keyboard"]
        assert [[b["callback_data"].split(":")[0] for b in row] for row in rows] == [["apr"], ["ack", "res"]]
        tg_id = {chat: next(i for i, m in receiver.tg_messages.items() if m["chat_id"] == chat)
                 for chat in ("1001", "1002")}

        with engine.begin() as conn:
            codes = {p: new_link_code(conn, p, utcnow(), cfg.notification.telegram_bot.link_code_ttl)
                     for p in ("andi", "sari")}
        for user, person in ((555, "andi"), (556, "sari")):
            receiver.push_update({"message": {"text": f"/link {codes[person]}", "chat": {"id": user},
                                              "from": {"id": user}}})
        await asyncio.to_thread(receiver.wait_tg, "sendMessage", 4)
        answers = 0

        async def press(user: int, chat: str, cq: str) -> str:
            nonlocal answers
            data = by_chat[chat]["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
            receiver.push_update({"callback_query": {"id": cq, "from": {"id": user}, "data": data, "message": {
                "message_id": tg_id[chat], "chat": {"id": int(chat)}, "text": by_chat[chat]["text"]}}})
            answers += 1
            return str((await asyncio.to_thread(receiver.wait_tg, "answerCallbackQuery", answers))[-1]["text"])

        links = {chat: approval_token_in(by_chat[chat]["text"]) for chat in ("1001", "1002")}
        key = load_or_create_key(key_path(ctx))
        assert {c: verify_approval(key, str(t), clock()).person for c, t in links.items()} == {
            "1001": "andi", "1002": "sari"}  # each person's message carries a link signed for them
        app = create_app(ctx, routers=["siaga.runbooks.web:router"])
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
            by_link = await web.post(f"/runbooks/approve/{links['1001']}")  # andi approves by his link
        assert by_link.status_code == 200 and "Andi Pratama: 1 " in by_link.text  # 1 of 2 (dari 2)
        first = await press(555, "1001", "cq1")  # and then by the button: the same person counts once
        assert first == "Persetujuan ini tidak dapat dipakai: sudah dipakai sebelumnya.", first  # andi's language:
        # the site's, he has none of his own
        replay = await press(555, "1001", "cq2")
        assert "Andi Pratama" not in replay
        await asyncio.sleep(0.3)
        assert not log.exists() and kinds(ctx, "runbook.run.started") == []

        sari = svc.notifier.people["sari"]
        svc.notifier.people["sari"] = sari.model_copy(update={"language": Language.en})
        second = await press(556, "1002", "cq3")  # sari reads English: so is the answer only she sees
        assert second.startswith("👍 Approved by Sari Wulandari at ") and second.endswith(
            ": runbook shutdown-r1 runs now."), second

        def ended() -> list[Any]:
            """the run's end in the timeline"""
            return kinds(ctx, "runbook.run.ended")

        await until(ended)
        assert log.read_text().split() == ["called"]
        edits = await asyncio.to_thread(receiver.wait_tg, "editMessageText", 1)
        last = next(e for e in reversed(edits) if str(e["chat_id"]) == "1002")
        # the message says who approved, to the whole chat in the site's language; only ack and resolve are left
        assert "👍 Disetujui oleh Sari Wulandari pukul " in last["text"], last["text"]
        assert [b["callback_data"][:3] for b in last["reply_markup"]["inline_keyboard"][0]] == ["ack", "res"]
        shift[0] = dt.timedelta(hours=2)  # past the link's hour: the button is refused
        late = await press(555, "1001", "cq4")
        assert late == "Persetujuan ini tidak dapat dipakai: tautan sudah kedaluwarsa.", late
        await asyncio.sleep(0.3)
        assert log.read_text().split() == ["called"] and len(ended()) == 1
        approved = kinds(ctx, "audit.runbook.approved")
        assert sorted((e.actor, e.data["person"], e.data["via"]) for e in approved) == [
            ("Andi Pratama", "andi", "link"), ("Sari Wulandari", "sari", "telegram")]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)
        manager.unsubscribe(queue)
        await svc.transports.aclose()
