"""A storm: 500 alerts of one incident within 10 s -> how many messages each channel receives.

The Bontang example's people, groups and escalation (critical: the on-call technician and the team at
once on Telegram and WhatsApp; rack R1 is high-stake, so the head of office at once on WhatsApp and
e-mail), its storm control (30 s grouping window), with every channel pointed at a real receiver on
loopback: a Telegram Bot API stand-in, a WhatsApp gateway and a webhook (HTTP), an SMTP server
(aiosmtpd). The real alert manager groups the alerts into one incident; notify plans, folds, sends.

    .venv/bin/python bench/alert_storm.py [--alerts 500] [--seconds 10]

Prints one JSON object: messages per channel and address, the largest list in one message, and
whether every alert reached every recipient's timeline (nothing lost).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import select

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Impact, Severity, SubjectKind
from siaga.config.models import SiteConfig
from siaga.notify.component import ManagerActions
from siaga.notify.engine import Notifier
from siaga.notify.service import NotifyService
from siaga.notify.tables import notify_items, notify_messages
from siaga.notify.transports import Transports
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.types import utcnow

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Http:
    """Receives Telegram sendMessage, WhatsApp gateway and webhook posts; counts them by channel and address."""

    def __init__(self) -> None:
        self.port = free_port()
        self.got: list[tuple[str, str, str]] = []  # channel, address, text
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                body: dict[str, Any] = (json.loads(raw or "{}") if "json" in self.headers.get("Content-Type", "")
                                        else {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()})
                if "/bot" in self.path:
                    entry = ("telegram", str(body.get("chat_id")), str(body.get("text", "")))
                    reply = {"ok": True, "result": {"message_id": len(owner.got) + 1}}
                elif self.path.startswith("/wa"):
                    entry = ("whatsapp", str(body.get("target")), str(body.get("message", "")))
                    reply = {"status": True}
                else:
                    entry = ("webhook", self.path, str(body.get("message", "")))
                    reply = {"ok": True}
                with owner.lock:
                    owner.got.append(entry)
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Smtp:
    def __init__(self) -> None:
        self.port = free_port()
        self.got: list[tuple[str, str, str]] = []
        owner = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                for rcpt in envelope.rcpt_tos:
                    owner.got.append(("email", rcpt, envelope.content.decode("utf-8", "replace")))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()


def site(tmp: Path, http: Http, smtp: Smtp) -> SiteConfig:
    data = yaml.safe_load((ROOT / "examples" / "bontang.yaml").read_text())
    (tmp / "tg").write_text("123:BENCH\n")
    (tmp / "wa").write_text("wa-token\n")
    data["notification"]["channels"] = {
        "telegram": {"type": "telegram", "bot_token_file": str(tmp / "tg"), "api_base_url": f"http://127.0.0.1:{http.port}"},
        "whatsapp": {"type": "whatsapp", "provider": "gateway", "url": f"http://127.0.0.1:{http.port}/wa",
                     "token_file": str(tmp / "wa")},
        "email": {"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                  "sender": "siaga@bontangkota.go.id"},
        "ntfy": {"type": "webhook", "url": f"http://127.0.0.1:{http.port}/ntfy"},
        "noc-webhook": {"type": "webhook", "url": f"http://127.0.0.1:{http.port}/noc"},
    }
    data["notification"].pop("telegram_bot", None)
    for key in ("mqtt", "snmp", "checks", "backups", "targets"):
        data.pop(key, None)
    for sensor in data.get("sensors", []):
        sensor.pop("source", None)
    return SiteConfig.model_validate(data)


async def run(alerts: int, seconds: float, settle: float) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="siaga-bench-storm-"))
    http, smtp = Http(), Smtp()
    cfg = site(tmp, http, smtp)
    engine = create_engine_for(sqlite_url(tmp / "siaga.db"))
    upgrade(engine)
    r1 = Impact(room="ruang-server", rack="R1", zone="floor", devices=("srv-web-1", "srv-db-1"),
                services=("portal", "db-utama"), value_at_risk=5_500_000_000, worst_criticality="vital")
    manager = AlertManager(engine, impact_of=lambda _kind, _subject: r1)
    manager.load()
    notifier = Notifier(cfg, key=b"b" * 64, public_url="http://siaga.bontangkota.go.id")
    svc = NotifyService(engine, notifier, Transports(cfg, tmp), actions=ManagerActions(manager))
    stop = asyncio.Event()
    worker = asyncio.create_task(svc.run(stop))
    feed = asyncio.create_task(svc.consume(manager.subscribe(maxsize=100_000), stop))
    start = time.monotonic()
    for i in range(alerts):
        manager.submit(Condition("leak", f"leak-probe-{i:03d}", SubjectKind.sensor, True, Severity.critical, utcnow(),
                                 value=1.0, fire_at_once=True))
        await asyncio.sleep(max(0.0, start + (i + 1) * seconds / alerts - time.monotonic()))
    submitted_in = time.monotonic() - start
    await asyncio.sleep(settle)
    stop.set()
    await asyncio.wait_for(asyncio.gather(worker, feed), 30)
    await svc.transports.aclose()

    received = http.got + smtp.got
    per_channel = Counter(ch for ch, _, _ in received)
    per_address = Counter(f"{ch} {addr}" for ch, addr, _ in received)
    with engine.connect() as conn:
        msgs = list(conn.execute(select(notify_messages)))
        items = list(conn.execute(select(notify_items)))
    by_target: dict[tuple[str, str], set[int]] = defaultdict(set)
    for m in msgs:
        if m.status == "sent":
            by_target[(m.recipient, m.channel)].update(int(a) for a in m.alert_ids)
    ids = {int(a.id) for a in manager.active()}
    incidents = {a.incident_id for a in manager.active()}
    complete = {f"{r} {c}": len(s) for (r, c), s in by_target.items()}
    smtp.controller.stop()
    http.server.shutdown()
    return {
        "bench": "alert_storm",
        "alerts": alerts,
        "submitted_in_s": round(submitted_in, 2),
        "incidents": len(incidents),
        "group_window_s": cfg.notification.storm.group_window.total_seconds(),
        "messages_received_per_channel": dict(per_channel),
        "messages_received_per_address": dict(per_address),
        "messages_total": len(received),
        "largest_list_in_one_message": max((len(m.alert_ids) for m in msgs), default=0),
        "alerts_listed_per_recipient_channel": complete,
        "nothing_lost": all(len(s) == len(ids) for s in by_target.values()) and len(ids) == alerts,
        "timeline_items": len(items),
        "failed_messages": sum(1 for m in msgs if m.status != "sent"),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--alerts", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--settle", type=float, default=40.0, help="Seconds to wait after the storm (window 30 s).")
    args = ap.parse_args()
    print(json.dumps(asyncio.run(run(args.alerts, args.seconds, args.settle))))


if __name__ == "__main__":
    main()
