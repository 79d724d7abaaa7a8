"""Fixtures of the notify integration tests: real receivers on loopback, a migrated SQLite store,
a stand-in for the alert manager (its ack/resolve publish transitions as the real one does)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind, Transition
from siaga.alerts.store import AlertError
from siaga.config import parse_config
from siaga.config.models import SiteConfig
from siaga.i18n.messages import Message
from siaga.notify.engine import Notifier
from siaga.notify.service import NotifyService
from siaga.notify.transports import Transports
from siaga.store import create_engine_for, sqlite_url, upgrade

from .peers import Mailbox, Receiver

T0 = dt.datetime(2026, 7, 16, 6, 0, tzinfo=dt.UTC)  # 14:00 WITA


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def receiver2() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    m = Mailbox().start()
    yield m
    m.stop()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(eng)
    yield eng
    eng.dispose()


def site_config(tmp_path: Path, hook_url: str, smtp_port: int, tg_url: str = "http://127.0.0.1:9",
                extra: str = "", steps: str | None = None, delivery: str | None = None,
                language: str = "id") -> SiteConfig:
    (tmp_path / "tg-token").write_text("123:TESTTOKEN\n")
    steps = steps or (
        "      - {people: [andi], channels: [hook], fallback: [email]}\n"
        "      - {after: 5m, people: [sari], channels: [email]}\n"
    )
    delivery = delivery or "{attempts: 3, backoff: 0.1s, backoff_max: 0.2s, timeout: 1s}"
    text = f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: {language}}}
web: {{public_url: "http://siaga.test"}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server, name: Rak server aplikasi}}]
people:
  - {{id: andi, name: Andi Pratama, contacts: {{hook: "", email: andi@example.id, tg: "1001"}}}}
  - {{id: sari, name: Sari Wulandari, contacts: {{email: sari@example.id, tg: "1002"}}}}
  - {{id: budi, name: Budi, contacts: {{}}}}
notification:
  channels:
    hook: {{type: webhook, url: "{hook_url}"}}
    email: {{type: email, host: 127.0.0.1, port: {smtp_port}, security: none, sender: siaga@example.id}}
    tg: {{type: telegram, bot_token_file: {tmp_path}/tg-token, api_base_url: "{tg_url}"}}
  groups:
    - {{id: tim, name: Tim Infra, members: [andi, sari], contacts: {{tg: "-100"}}}}
  delivery: {delivery}
  storm: {{group_window: 1s, rate_per_minute: 30}}
  telegram_bot: {{channel: tg, poll_timeout: 1}}
escalation:
  - id: all
    match: {{severity_at_least: info}}
    steps:
{steps}{extra}"""
    return parse_config(text, "test.yaml")


def leak(id: int = 1, **kw: Any) -> Alert:
    a = Alert(
        id=id, rule="leak", subject="leak-r1-ceiling", subject_kind=SubjectKind.sensor, state=AlertState.firing,
        severity=Severity.critical, summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling"}),
        started_at=T0, fired_at=T0, last_value=1.0, incident_id=7,
        impact=Impact(room="ruang-server", rack="R1", zone="ceiling-above", value_at_risk=5_500_000_000,
                      services=("portal",)),
    )
    return dataclasses.replace(a, **kw)


class FakeClock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class FakeAlerts:
    """The alert manager's side: acknowledge/resolve change the alert and publish the transition."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self.clock = clock
        self.alerts: dict[int, Alert] = {}
        self.service: NotifyService | None = None
        self.calls: list[tuple[str, int, str, str]] = []

    def fire(self, alert: Alert) -> None:
        self.alerts[alert.id] = alert
        assert self.service is not None
        self.service.publish(Transition(alert, None, self.clock()))

    async def acknowledge(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Alert:
        self.calls.append(("ack", alert_id, by, via))
        known = self.alerts[alert_id]
        if known.state is AlertState.acknowledged:  # refused as the manager refuses it: a reason, not a sentence
            raise AlertError(Message("alert.acknowledged_already", {"alert": alert_id, "by": known.acknowledged_by}))
        a = dataclasses.replace(self.alerts[alert_id], state=AlertState.acknowledged,
                                acknowledged_at=self.clock(), acknowledged_by=by)
        self.alerts[alert_id] = a
        assert self.service is not None
        self.service.publish(Transition(a, AlertState.firing, self.clock(), by=by, via=via, note=note))
        return a

    async def resolve(self, alert_id: int, *, by: str, via: str, note: str | None = None) -> Alert:
        self.calls.append(("resolve", alert_id, by, via))
        a = dataclasses.replace(self.alerts[alert_id], state=AlertState.resolved, resolved_at=self.clock())
        self.alerts[alert_id] = a
        assert self.service is not None
        self.service.publish(Transition(a, AlertState.firing, self.clock(), by=by, via=via, note=note))
        return a


def make_service(engine: Engine, cfg: SiteConfig, tmp_path: Path, clock: Callable[[], dt.datetime]
                 ) -> tuple[NotifyService, FakeAlerts]:
    alerts = FakeAlerts(clock)
    notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
    svc = NotifyService(engine, notifier, Transports(cfg, tmp_path), clock=clock, actions=alerts)
    alerts.service = svc
    return svc, alerts


@pytest.fixture
async def running() -> AsyncIterator[Callable[[NotifyService], None]]:
    """Start services' worker loops; stop them (cleanly) at the end."""
    stops: list[tuple[asyncio.Event, asyncio.Task[None], NotifyService]] = []

    def start(svc: NotifyService) -> None:
        stop = asyncio.Event()
        stops.append((stop, asyncio.create_task(svc.run(stop)), svc))

    yield start
    for stop, task, svc in stops:
        stop.set()
        await asyncio.wait_for(task, 15)
        await svc.transports.aclose()


class Rounds:
    """A notify worker driven by hand on a fake clock, fed by a real alert manager (with the config's
    inventory impact), its acknowledgements going through the manager as in ``siaga serve``."""

    def __init__(self, engine: Engine, cfg: SiteConfig, tmp_path: Path, clock: FakeClock) -> None:
        from siaga.notify.component import ManagerActions

        self.clock = clock
        self.svc, _fake = make_service(engine, cfg, tmp_path, clock)
        self.manager = AlertManager(engine, impact_of=impact_resolver(cfg), clock=clock)
        self.manager.load()
        self.svc.actions = ManagerActions(self.manager)
        self.queue = self.manager.subscribe()

    def drain(self) -> None:
        """Hand the manager's transitions to the worker (published, not yet stored by a round)."""
        while not self.queue.empty():
            self.svc.publish(self.queue.get_nowait())

    async def at(self, seconds: float) -> None:
        """Move the clock to T0 + ``seconds`` and run one round of the worker (its sends finished)."""
        self.clock.now = T0 + dt.timedelta(seconds=seconds)
        await asyncio.sleep(0)
        self.drain()
        await self.svc.step()
        await self.svc.settle()

    def active(self, subject: str) -> Alert:
        return next(a for a in self.manager.active() if a.subject == subject)


@pytest.fixture
async def rounds(tmp_path: Path, engine: Engine) -> AsyncIterator[Callable[[SiteConfig], Rounds]]:
    """Make :class:`Rounds` for a config; their channels are closed at the end."""
    made: list[Rounds] = []

    def make(cfg: SiteConfig) -> Rounds:
        made.append(Rounds(engine, cfg, tmp_path, FakeClock()))
        return made[-1]

    yield make
    for r in made:
        await r.svc.transports.aclose()
