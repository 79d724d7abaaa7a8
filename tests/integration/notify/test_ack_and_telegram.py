"""One-tap links through the real web app; the Telegram bot against a Bot API stand-in on loopback."""

from __future__ import annotations

import asyncio
import html
import re
from pathlib import Path

import httpx
import pytest

from siaga.alerts.model import AlertState
from siaga.config import LoadedConfig
from siaga.config.site import Language
from siaga.notify.links import new_link_code
from siaga.notify.model import Recipient
from siaga.notify.service import AckRefusal
from siaga.notify.telegram_bot import TelegramBot
from siaga.runtime.context import RuntimeContext
from siaga.store.types import utcnow
from siaga.web.app import create_app

from .conftest import FakeClock, leak, make_service, site_config
from .test_escalation_and_restart import rounds

pytestmark = pytest.mark.integration


async def test_link_shows_a_page_then_acknowledges_once_on_post(tmp_path, engine, receiver, mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 10)
    [req] = receiver.wait_for(1)
    path = re.search(r"http://siaga\.test(/ack/\S+)", req.body["message"]).group(1)  # type: ignore[union-attr]
    ctx = RuntimeContext(loaded=LoadedConfig(cfg, Path(tmp_path / "siaga.yaml")), engine=engine)
    ctx.services.notify = svc
    app = create_app(ctx, routers=["siaga.notify.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        page = await web.get(path)  # what a link-preview bot does
        assert page.status_code == 200 and "Andi Pratama" in page.text and "Kebocoran air" in page.text
        assert alerts.calls == []
        done = await web.post(path, data={"note": "menuju ruang server"})
        assert done.status_code == 200 and "Diakui oleh Andi Pratama" in done.text
        assert alerts.calls == [("ack", 1, "andi", "link")]
        again = await web.post(path)
        assert again.status_code == 410 and alerts.calls == [("ack", 1, "andi", "link")]
        forged = await web.get(path[:-3] + "xyz")
        assert forged.status_code == 400
    await rounds(svc, clock, 10)
    notice = receiver.wait_for(1)  # andi acknowledged himself: nobody else was paged, no notice to him
    assert len(notice) == 1
    await svc.transports.aclose()


@pytest.mark.parametrize(("language", "said"), [
    ("id", "Tautan ini tidak dapat dipakai: notifikasi tidak berjalan di sini (tidak ada kanal yang diatur)."),
    ("en", "This link cannot be used: notifications are not running here (no channels configured)."),
])
async def test_a_link_while_notify_is_not_running_says_so_in_the_pages_language(
        tmp_path, engine, language: str, said: str) -> None:
    cfg = site_config(tmp_path, "http://127.0.0.1:9/hook", 9, language=language)
    ctx = RuntimeContext(loaded=LoadedConfig(cfg, Path(tmp_path / "siaga.yaml")), engine=engine)  # no notify
    app = create_app(ctx, routers=["siaga.notify.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        for ask in (web.get, web.post):
            page = await ask("/ack/some-link")
            assert page.status_code == 503 and said in html.unescape(page.text), page.text
            assert f'<html lang="{language}">' in page.text


@pytest.mark.parametrize(("language", "expired", "forged", "malformed"), [
    ("id", "Tautan ini tidak dapat dipakai: tautan sudah kedaluwarsa.",
     "Tautan ini tidak dapat dipakai: tautan tidak ditandatangani oleh siaga ini.",
     "Tautan ini tidak dapat dipakai: bentuk tautan tidak sah."),
    ("en", "This link cannot be used: link expired.", "This link cannot be used: link not signed by this siaga.",
     "This link cannot be used: malformed link."),
])
async def test_expired_link_is_refused_and_says_why_in_the_pages_language(
        tmp_path, engine, receiver, mailbox, language: str, expired: str, forged: str, malformed: str) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, language=language)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 10)
    token = re.search(r"/ack/(\S+)", receiver.wait_for(1)[0].body["message"]).group(1)  # type: ignore[union-attr]
    clock.advance(25 * 3600)
    ctx = RuntimeContext(loaded=LoadedConfig(cfg, Path(tmp_path / "siaga.yaml")), engine=engine)
    ctx.services.notify = svc
    app = create_app(ctx, routers=["siaga.notify.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        for ask in (web.get, web.post):  # the page and its button: why, in the page's language
            page = await ask(f"/ack/{token}")
            assert page.status_code == 400 and expired in html.unescape(page.text), page.text
        page = await web.get(f"/ack/{token[:-3]}xyz")
        assert page.status_code == 400 and forged in html.unescape(page.text), page.text
        page = await web.post("/ack/not-a-link")
        assert page.status_code == 400 and malformed in html.unescape(page.text), page.text
    outcome = await svc.acknowledge_token(token)
    assert not outcome.ok and outcome.refused is AckRefusal.token and alerts.calls == []
    assert outcome.why is not None and outcome.why.key == "link.expired"
    assert outcome.message == "link expired"  # in English for the log, whatever the page's language
    await svc.transports.aclose()


@pytest.mark.parametrize(("language", "refused", "used"), [
    ("id", "Tautan ini tidak dapat dipakai: alarm #1 sudah ditangani oleh sari.", "Tautan ini sudah dipakai."),
    ("en", "This link cannot be used: alert #1 was already acknowledged by sari.", "This link was used already."),
])
async def test_a_link_to_an_alert_acknowledged_already_says_why_in_the_pages_language(
        tmp_path, engine, receiver, mailbox, language: str, refused: str, used: str) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, language=language)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.alerts[1] = leak(state=AlertState.acknowledged, acknowledged_at=clock(), acknowledged_by="sari")
    link = svc.notifier.ack_url([1], Recipient("person", "andi"), clock())
    ctx = RuntimeContext(loaded=LoadedConfig(cfg, Path(tmp_path / "siaga.yaml")), engine=engine)
    ctx.services.notify = svc
    app = create_app(ctx, routers=["siaga.notify.web:router"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test") as web:
        first = await web.post(link.removeprefix("http://siaga.test"))
        assert first.status_code == 400 and refused in html.unescape(first.text), first.text
        again = await web.post(link.removeprefix("http://siaga.test"))  # the link is spent: 410, by its reason
        assert again.status_code == 410 and used in html.unescape(again.text), again.text
    outcome = await svc.acknowledge_token(svc.notifier.ack_url([1], Recipient("person", "andi"), clock())
                                          .rsplit("/", 1)[1])
    assert outcome.refused is AckRefusal.alert and outcome.why is not None
    assert outcome.why.key == "alert.acknowledged_already" and outcome.message == (
        "alert #1 was already acknowledged by sari")  # in English for the log, whatever the page's language
    await svc.transports.aclose()


async def test_telegram_buttons_link_rights_and_edit(tmp_path, engine, receiver, mailbox) -> None:
    steps = "      - {people: [andi], groups: [tim], channels: [tg]}\n"
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, tg_url=receiver.url, steps=steps)
    svc, alerts = make_service(engine, cfg, tmp_path, utcnow)
    assert cfg.notification.telegram_bot is not None
    bot = TelegramBot(svc, cfg.notification.telegram_bot)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(svc.run(stop)), asyncio.create_task(bot.run(stop))]
    try:
        alerts.fire(leak(fired_at=utcnow(), started_at=utcnow()))
        sent = await asyncio.to_thread(receiver.wait_tg, "sendMessage", 2)
        to_andi = next(m for m in sent if m["chat_id"] == "1001")
        buttons = to_andi["reply_markup"]["inline_keyboard"][0]
        assert [b["callback_data"].split(":")[0] for b in buttons] == ["ack", "res"]
        assert "Kebocoran air" in to_andi["text"]
        data = buttons[0]["callback_data"]
        tg_message_id = max(receiver.tg_messages)

        def press(user: int, cq: str) -> None:
            receiver.push_update({"callback_query": {"id": cq, "from": {"id": user}, "data": data,
                                                     "message": {"message_id": tg_message_id,
                                                                 "chat": {"id": 1001}}}})

        press(555, "cq1")  # not linked yet
        [answer] = await asyncio.to_thread(receiver.wait_tg, "answerCallbackQuery", 1)
        assert "/link" in answer["text"] and alerts.calls == []

        with engine.begin() as conn:
            code = new_link_code(conn, "andi", utcnow(), cfg.notification.telegram_bot.link_code_ttl)
            other = new_link_code(conn, "budi", utcnow(), cfg.notification.telegram_bot.link_code_ttl)
        receiver.push_update({"message": {"text": f"/link {code}", "chat": {"id": 555}, "from": {"id": 555}}})
        receiver.push_update({"message": {"text": f"/link {other}", "chat": {"id": 777}, "from": {"id": 777}}})
        replies = await asyncio.to_thread(receiver.wait_tg, "sendMessage", 4)
        assert any("Andi Pratama" in m["text"] for m in replies if m["chat_id"] == "555")

        press(777, "cq2")  # budi was not paged and is not in the group
        answers = await asyncio.to_thread(receiver.wait_tg, "answerCallbackQuery", 2)
        assert "tidak boleh" in answers[1]["text"].lower() and alerts.calls == []

        press(555, "cq3")  # andi
        [edit] = await asyncio.to_thread(receiver.wait_tg, "editMessageText", 1)
        assert alerts.calls == [("ack", 1, "andi", "telegram")]
        assert "Diakui oleh Andi Pratama" in edit["text"]
        assert [b["callback_data"][:3] for b in edit["reply_markup"]["inline_keyboard"][0]] == ["res"]

        press(555, "cq4")  # andi again: refused, told in his language (the site's: he has none of his own)
        answers = await asyncio.to_thread(receiver.wait_tg, "answerCallbackQuery", 4)
        assert answers[3]["text"] == "alarm #1 sudah ditangani oleh andi", answers[3]
        andi = svc.notifier.people["andi"]
        svc.notifier.people["andi"] = andi.model_copy(update={"language": Language.en})
        press(555, "cq5")  # now he reads English: so is the answer only he sees
        answers = await asyncio.to_thread(receiver.wait_tg, "answerCallbackQuery", 5)
        assert answers[4]["text"] == "alert #1 was already acknowledged by andi", answers[4]
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 15)
        await svc.transports.aclose()


def test_notify_test_command_reports_success_and_failure(tmp_path, receiver, mailbox) -> None:
    from typer.testing import CliRunner

    from siaga.cli.main import app

    cfg_path = tmp_path / "siaga.yaml"
    (tmp_path / "tg-token").write_text("123:TESTTOKEN\n")
    cfg_path.write_text(
        "site: {name: Uji}\n"
        "people:\n  - {id: andi, name: Andi, contacts: {email: andi@example.id}}\n"
        "notification:\n  channels:\n"
        f"    email: {{type: email, host: 127.0.0.1, port: {mailbox.port}, security: none, sender: s@example.id}}\n"
        f"    hook: {{type: webhook, url: '{receiver.url}/hook'}}\n"
        "    down: {type: webhook, url: 'http://127.0.0.1:9/x'}\n"
        "  delivery: {timeout: 2s}\n"
    )
    runner = CliRunner()
    ok = runner.invoke(app, ["--lang", "en", "notify", "test", "email", "-c", str(cfg_path)])
    assert ok.exit_code == 0, ok.output
    assert "sent in" in ok.output and mailbox.wait_for(1)[0][1] == ["andi@example.id"]
    hook = runner.invoke(app, ["--lang", "en", "notify", "test", "hook", "-c", str(cfg_path)])
    assert hook.exit_code == 0 and "pesan uji" in receiver.wait_for(1)[0].body["message"].lower()
    bad = runner.invoke(app, ["--lang", "en", "notify", "test", "down", "-c", str(cfg_path)])
    assert bad.exit_code == 1
    lines = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("siaga: notify test down: failed")
