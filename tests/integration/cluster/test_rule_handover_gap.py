"""A rule shard handed over loses no reading, on a real PostgreSQL ``NOTIFY``: processes wired as in ``siaga
serve`` (a publisher and a listener each), the leases in the test's hand, and the receiving process's writer
never committing (the store is read by the new holder before the group commit): a leak reported once,
while its shard had no engine anywhere, pages from the new holder, in every order of the reading, the lease
taken and the shard loaded; and a holder that lets a shard go hands over the leak it had evaluated itself."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import Engine

from siaga.cluster.handoff import Listener, Publisher
from siaga.cluster.rule_shards import ShardedRules, load_shard, shard_map
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.store.engine import libpq_dsn as dsn
from siaga.vocab import Condition

pytestmark = [pytest.mark.integration, pytest.mark.postgres,
              pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]  # db_engine on PostgreSQL only

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
LEAK = "leak-r1-ceiling"
SHARDS = 4


def site() -> SiteConfig:
    return parse_config(yaml.safe_dump(yaml.safe_load(EXAMPLE.read_text())))


class Process:
    """The rules side of one ``siaga serve``: its shards (the leases in ``held``), a publisher and a
    listener on the real channel, the ingest lock, and the conditions its rules gave."""

    def __init__(self, engine: Engine, cfg: SiteConfig) -> None:
        self.engine = engine
        self.held: set[int] = set()
        self.publisher = Publisher(dsn(engine))
        self.rules = ShardedRules(cfg, SHARDS, self.held.__contains__, self.publisher.publish)
        self.lock = threading.Lock()
        self.conditions: list[Condition] = []
        self.listener = Listener(dsn(engine), self._remote, lambda: None)
        self.publisher.start()
        self.listener.start()
        assert self.listener.listening.wait(10)

    def _remote(self, parts: list[tuple[int, str]]) -> None:
        with self.lock:
            self.conditions += self.rules.observe_parts(parts)

    def take(self, shard: int, now: dt.datetime) -> None:
        """What ``run_shards`` does for a shard whose lease was taken: mark, load from the store, install."""
        self.held.add(shard)
        with self.lock:
            self.rules.to_load()
        assert self.rules.loading() == [shard]
        with self.engine.connect() as conn:
            state = load_shard(conn, self.rules.sensors_of[shard], now)
        assert state.rows == []  # the reading is not committed: only the hand-off can bring it
        engine, replayed = self.rules.build(shard, state, now)
        with self.lock:
            self.conditions += replayed + self.rules.install(shard, engine, now)

    def leak(self) -> list[bool]:
        with self.lock:
            return [c.active for c in self.conditions if c.rule == "leak" and c.subject == LEAK]

    def stop(self) -> None:
        self.listener.stop()
        self.publisher.stop()


def wait_for(what: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(what) and what():
            return
        time.sleep(0.01)
    raise AssertionError("timed out")


@pytest.mark.parametrize("order", ["reading, lease, load", "lease, reading, load", "lease, load, reading"])
def test_a_leak_received_while_its_shard_had_no_engine_pages_from_the_new_holder(db_engine: Engine, order: str) -> None:
    cfg = site()
    shard = shard_map(cfg, SHARDS)[LEAK]
    now = dt.datetime.now(dt.UTC)
    a, b = Process(db_engine, cfg), Process(db_engine, cfg)  # a receives the leak and holds nothing
    try:
        steps = order.split(", ")
        heard = 0
        for step in steps:
            if step == "reading":
                assert a.rules.observe(LEAK, 1.0, now, now) == []  # nobody evaluates it here: handed off
                a.rules.handoff()  # the end of the batch (Ingest's call)
                heard += 1
                wait_for(lambda h=heard: b.listener.received >= h)
            elif step == "lease":
                b.held.add(shard)  # the lease is b's; its rules have not marked the shard yet
            else:
                b.take(shard, now)
        assert a.rules.handed_off == 1
        assert b.leak() == [True]
    finally:
        a.stop()
        b.stop()


@pytest.mark.parametrize("how", ["lease lost", "clean stop"])
def test_a_holder_that_lets_a_shard_go_hands_over_what_it_evaluated_itself(db_engine: Engine, how: str) -> None:
    cfg = site()
    shard = shard_map(cfg, SHARDS)[LEAK]
    now = dt.datetime.now(dt.UTC)
    a, b = Process(db_engine, cfg), Process(db_engine, cfg)
    try:
        a.take(shard, now)
        assert a.rules.observe(LEAK, 1.0, now, now) != []  # evaluated here, never handed off
        if how == "lease lost":
            a.held.discard(shard)  # above its share, or its lease ran out
            with a.lock:
                a.rules.tick(now)
        else:  # siaga stops: its rules let every shard go before the keeper releases the leases
            with a.lock:
                a.rules.let_go_all()
            a.held.discard(shard)
        assert a.rules.held_shards() == []
        wait_for(lambda: b.listener.received >= 1)
        b.take(shard, now)
        assert b.leak() == [True]
    finally:
        a.stop()
        b.stop()
