"""Fixtures of the sensing core: the Bontang site, a fake clock, the ingest path wired to a store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.readings.writer import ReadingWriter
from siaga.rules.engine import RulesEngine
from siaga.sources.ingest import Ingest

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


@dataclass
class Sensing:
    cfg: SiteConfig
    clock: FakeClock
    ingest: Ingest
    manager: AlertManager
    writer: ReadingWriter
    engine: Engine


def bontang(**changes: object) -> SiteConfig:
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    return parse_config(yaml.safe_dump(data))


@pytest.fixture
def make_sensing(db_engine: Engine) -> Callable[..., Sensing]:
    def make(cfg: SiteConfig | None = None, clock: FakeClock | None = None) -> Sensing:
        cfg = cfg or bontang()
        clock = clock or FakeClock()
        manager = AlertManager(db_engine, impact_of=impact_resolver(cfg), clock=clock)
        manager.load()
        ingest = Ingest(cfg, rules=RulesEngine(cfg, now=clock()), alerts=manager, clock=clock)
        writer = ReadingWriter(ingest, db_engine, clock=clock)
        return Sensing(cfg, clock, ingest, manager, writer, db_engine)

    return make
