"""The readings' hand-off between processes when PostgreSQL crashes and comes back (``pg_ctl stop -m
immediate``, then start): the publisher counts what it could not send, never stops, and sends again on a new
connection; the listener comes back by itself and asks for its shards to be loaded again (what was sent
meanwhile is gone); a leak handed off after the restart reaches its shard's holder and is raised there."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from siaga.cluster.handoff import Listener, Publisher
from siaga.cluster.rule_shards import ShardedRules, ShardState, shard_map
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.store.testserver import PostgresServer, pg_bindir
from siaga.vocab import Condition

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "siaga" / "examples" / "bontang.yaml"
LEAK = "leak-r1-ceiling"
SHARDS = 4


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("no PostgreSQL binaries (scripts/setup.sh installs them)")
    pg = PostgresServer(bindir).start()
    try:
        yield pg
    finally:
        pg.remove()


def wait(what: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, f"not within {timeout} s"
        time.sleep(0.05)


def test_the_hand_off_goes_on_after_postgresql_crashes_and_comes_back(server: PostgresServer) -> None:
    cfg: SiteConfig = parse_config(yaml.safe_dump(yaml.safe_load(EXAMPLE.read_text())))
    conninfo = f"host={server.root} port={server.port} user=postgres dbname=postgres"
    shard = shard_map(cfg, SHARDS)[LEAK]
    now = dt.datetime.now(dt.UTC)
    # the receiver: holds no shard, hands every reading off; the holder: holds the leak's shard, loaded empty
    publisher = Publisher(conninfo)
    receiver = ShardedRules(cfg, SHARDS, lambda _k: False, publisher.publish)
    holder = ShardedRules(cfg, SHARDS, {shard}.__contains__, lambda _k, _items: None)
    holder.to_load()
    engine, _ = holder.build(shard, ShardState(), now)
    holder.install(shard, engine, now)
    lock = threading.Lock()
    raised: list[Condition] = []
    gaps: list[float] = []

    def heard(parts: list[tuple[int, str]]) -> None:
        with lock:
            raised.extend(c for c in holder.observe_parts(parts) if c.subject == LEAK and c.active)

    listener = Listener(conninfo, heard, lambda: gaps.append(time.monotonic()))
    publisher.start()
    listener.start()
    try:
        assert listener.listening.wait(10)

        def hand(value: float, at: dt.datetime) -> None:
            with lock:
                receiver.observe(LEAK, value, at, at)
                receiver.handoff()

        hand(0.0, now)  # dry: the rules' first word on it, nothing raised
        wait(lambda: holder.received >= 1)
        server.stop("immediate")  # a crash: every connection cut
        hand(0.0, now + dt.timedelta(seconds=1))
        wait(lambda: publisher.failed >= 1)  # counted, and the thread goes on
        wait(lambda: not listener.listening.is_set())
        server.start()
        wait(lambda: listener.listening.is_set() and gaps)  # back by itself, and it says what it may have missed
        assert not raised
        hand(1.0, now + dt.timedelta(seconds=2))  # wet, after the restart: the publisher connects again
        wait(lambda: raised)
        assert publisher._thread is not None and publisher._thread.is_alive()
        assert publisher.sent >= 2 and len(gaps) == 1
    finally:
        listener.stop()
        publisher.stop()
    assert [c.rule for c in raised] == ["leak"]
