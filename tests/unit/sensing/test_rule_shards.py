"""Rules in shards (several processes): a sensor's readings are evaluated by its shard's holder, the others
handed off; a dew-point pair stays in one shard; a shard taken over replays its readings and submits only
each rule's final state; handoff payloads fit PostgreSQL's limit."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import yaml

from siaga.cluster.handoff import MAX_PAYLOAD, Listener, notify_sql, pack, payloads, split
from siaga.cluster.rule_shards import Handoff, ShardedRules, ShardState, parse, shard_map
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.rules.resolve import dew_point_pairs

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def site() -> SiteConfig:
    return parse_config(yaml.safe_dump(yaml.safe_load(EXAMPLE.read_text())))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def ms(seconds: float) -> int:
    return round(at(seconds).timestamp() * 1000)


def test_a_humidity_sensor_shares_the_shard_of_its_dew_point_temperature() -> None:
    cfg = site()
    pairs = dew_point_pairs(cfg)
    assert pairs
    for shards in (2, 3, 8, 64):
        by_sensor = shard_map(cfg, shards)
        assert set(by_sensor) == {s.id for s in cfg.sensors}
        assert all(by_sensor[h] == by_sensor[t] for h, t in pairs.items())
    assert set(shard_map(cfg, 1).values()) == {0}


def test_readings_of_a_shard_held_elsewhere_are_handed_off_and_evaluated_by_the_holder() -> None:
    cfg = site()
    shards = shard_map(cfg, 4)
    leak = "leak-r1-ceiling"
    mine = shards[leak]
    sent: list[Handoff] = []
    here = ShardedRules(cfg, 4, lambda k: k != mine, lambda _k, items: sent.extend(items))  # held elsewhere
    holder = ShardedRules(cfg, 4, lambda k: k == mine, lambda _k, _items: None)
    holder.to_load()
    assert holder.loading() == [mine]
    engine, replayed = holder.build(mine, ShardState(), at(0))
    assert replayed == [] and holder.install(mine, engine, at(0)) == []
    assert here.observe(leak, 1.0, at(1), at(1)) == []  # not evaluated here
    assert sent == []  # handed off at the end of the batch (Ingest's call), not one notification a reading
    here.handoff()
    assert len(sent) == 1 and here.handed_off == 1
    [note] = payloads(mine, sent)
    got = split(note)
    assert got is not None and got[0] == mine
    out = holder.observe_payload(*got)
    assert [(c.subject, c.active) for c in out if c.rule == "leak"] == [(leak, True)]
    assert here.observe_payload(*got) == []  # a process that does not hold the shard keeps it, unread
    assert here.recent.of(mine) == sent and here.received == 0


def test_a_batch_ingested_hands_off_one_list_per_shard_in_the_readings_order() -> None:
    from siaga.sources.ingest import Ingest
    from siaga.sources.reading import RawReading

    cfg = site()
    shards = shard_map(cfg, 4)
    temps = [s.id for s in cfg.sensors if s.kind == "temperature"]
    sent: list[tuple[int, list[Handoff]]] = []
    rules = ShardedRules(cfg, 4, lambda _k: False, lambda k, items: sent.append((k, list(items))))  # holds none
    ingest = Ingest(cfg, rules=rules, clock=lambda: at(10))
    batch = [RawReading(sid, 20.0 + i, at(i % 5)) for i, sid in enumerate(temps * 2)]
    assert ingest.ingest(batch).accepted == len(batch)
    assert sorted(k for k, _ in sent) == sorted(set(shards[s] for s in temps))  # one publish a shard
    for k, items in sent:
        assert [(s, v) for s, v, _ts, _r in items] == [(r.sensor, r.value) for r in batch if shards[r.sensor] == k]
    assert rules.handed_off == len(batch)


def test_a_shard_taken_over_replays_its_readings_and_submits_each_rules_final_state_once() -> None:
    cfg = site()
    leak = "leak-r1-ceiling"
    shard = shard_map(cfg, 4)[leak]
    rules = ShardedRules(cfg, 4, lambda k: k == shard, lambda _k, _items: None)
    rules.to_load()
    # wet, dry, wet again while nobody held the shard: the replay ends wet, one condition
    state = ShardState(last_seen={leak: at(3)}, rows=[(leak, 1.0, ms(1)), (leak, 0.0, ms(2)), (leak, 1.0, ms(3))])
    # a reading handed off during the load waits, and follows the replay
    [note] = payloads(shard, [(leak, 0.0, ms(4), ms(4))])
    got = split(note)
    assert got is not None and rules.observe_payload(*got) == []
    engine, replayed = rules.build(shard, state, at(5))
    assert [c.active for c in replayed if c.subject == leak and c.rule == "leak"] == [True]
    after = rules.install(shard, engine, at(5))
    assert [(c.rule, c.active) for c in after if c.subject == leak and c.rule == "leak"] == [("leak", False)]
    assert rules.held_shards() == [shard]


def test_a_lost_shard_is_let_go_and_its_readings_handed_off() -> None:
    cfg = site()
    leak = "leak-r1-ceiling"
    shard = shard_map(cfg, 4)[leak]
    held = {shard}
    sent: list[Handoff] = []
    rules = ShardedRules(cfg, 4, lambda k: k in held, lambda _k, items: sent.extend(items))
    rules.to_load()
    engine, _ = rules.build(shard, ShardState(), at(0))
    rules.install(shard, engine, at(0))
    held.clear()  # the lease was lost
    rules.tick(at(1))
    assert rules.held_shards() == []
    assert rules.observe(leak, 1.0, at(2), at(2)) == []
    rules.handoff()
    assert len(sent) == 1


def test_handoff_payloads_stay_under_the_notify_limit_and_read_back() -> None:
    items: list[Handoff] = [(f"temp-{i:05d}", 21.5 + i / 1000, 1_765_000_000_000 + i, 1_765_000_000_001 + i)
                            for i in range(2000)]
    items.append(("leak-r1-ceiling", None, 0, 1_765_000_000_000))  # offline
    out = payloads(3, items)
    assert len(out) > 1 and all(len(p.encode()) < MAX_PAYLOAD for p in out)
    read = [split(p) for p in out]
    assert all(r is not None and r[0] == 3 for r in read)
    assert [x for r in read if r is not None for x in parse(r[1])] == items
    assert parse("not json") == [] and parse('[["x", "wet", 1, 2]]') == []
    assert split('[["x", 1.0, 1, 2]]') is None and split("x|[]") is None  # not siaga's: no shard


    assert all(len(p.encode()) > MAX_PAYLOAD - 60 for p in out[:-1])  # cut between items, each part full


def test_a_handed_off_list_siaga_did_not_write_keeps_only_the_items_it_can_read() -> None:
    good: list[Handoff] = [("temp-1", 21.5, 10, 11), ("leak-1", None, 1, 11)]
    assert parse('[["temp-1",21.5,10,11],["leak-1",null,1,11]]') == good
    assert parse('[["temp-1",21.5,10,11],"abcd",["x",true,1,2],["x",1,2.5,3],["x",1,2],["leak-1",null,1,11]]') == good
    assert parse('[["temp-1",21,10,11]]') == [("temp-1", 21.0, 10, 11)]  # a whole number is a value too
    assert parse('{"a": 1}') == [] and parse("[1, 2]") == []


def test_a_reading_handed_off_carries_the_stores_millisecond_and_the_holder_its_own_times() -> None:
    from siaga.sources.ingest import to_ms

    cfg = site()
    shards = shard_map(cfg, 4)
    temps = [s.id for s in cfg.sensors if s.kind == "temperature"][:2]
    sent: list[Handoff] = []
    here = ShardedRules(cfg, 4, lambda _k: False, lambda _k, items: sent.extend(items))  # holds none
    late = at(1) + dt.timedelta(microseconds=700)  # not a whole millisecond: the store keeps its floor
    for ts in (at(1), at(1), late, late):  # a gateway's readings often share their timestamp
        for sid in temps:
            here.observe(sid, 21.0, ts, at(2))
    here.handoff()
    assert [t for _s, _v, t, _r in sent] == [to_ms(ts) for ts in (at(1), at(1), late, late) for _ in temps]
    assert {r for _s, _v, _t, r in sent} == {to_ms(at(2))}
    holder = ShardedRules(cfg, 4, lambda _k: True, lambda _k, _items: None)
    holder.to_load()
    for k in holder.loading():
        holder.install(k, holder.build(k, ShardState(), at(0))[0], at(0))
    mixed = [(temps[0], 21.0, ms(1), ms(2)), (temps[1], 21.0, ms(1), ms(2)), (temps[0], 22.0, ms(3), ms(3))]
    for k in {shards[temps[0]], shards[temps[1]]}:
        holder._feed_remote(k, [x for x in mixed if shards[x[0]] == k])
    engine = holder._held[shards[temps[0]]].engine
    assert engine is not None and engine._latest[temps[0]] == (at(3), 22.0)
    other = holder._held[shards[temps[1]]].engine
    assert other is not None and other._latest[temps[1]] == (at(1), 21.0)


def test_a_list_handed_off_by_a_process_with_another_shard_map_feeds_each_sensor_where_this_one_puts_it() -> None:
    cfg = site()
    shards = shard_map(cfg, 4)
    leak = "leak-r1-ceiling"
    temp = next(s.id for s in cfg.sensors if s.kind == "temperature" and shards[s.id] != shards[leak])
    held = {shards[leak], shards[temp]}
    holder = ShardedRules(cfg, 4, lambda k: k in held, lambda _k, _items: None)
    holder.to_load()
    holder.install(shards[temp], holder.build(shards[temp], ShardState(), at(0))[0], at(0))
    # another process put the leak sensor and an unknown one in the temperature's shard
    note = f'[["{temp}",22.0,{ms(1)},{ms(1)}],["{leak}",1.0,{ms(1)},{ms(1)}],["gone",1.0,{ms(1)},{ms(1)}]]'
    assert [c for c in holder.observe_payload(shards[temp], note) if c.rule == "leak"] == []
    assert holder.loading() == [shards[leak]]  # the leak waits for its own shard's engine
    out = holder.install(shards[leak], holder.build(shards[leak], ShardState(), at(0))[0], at(1))
    assert [(c.subject, c.active) for c in out if c.rule == "leak"] == [(leak, True)]
    out = holder.observe_payload(shards[temp], note.replace("1.0", "0.0").replace(str(ms(1)), str(ms(2))))
    assert [(c.subject, c.active) for c in out if c.rule == "leak"] == [(leak, False)]
    assert holder.received == 3  # the temperature twice, the leak once (it waited the first time); "gone" nowhere



def test_parts_of_several_shards_pack_into_few_notifications_and_read_back_in_order() -> None:
    items: list[Handoff] = [(f"temp-{i:05d}", 21.5, 1_765_000_000_000 + i, 1_765_000_000_001) for i in range(600)]
    parts = [p for k in (5, 1, 5, 7) for p in payloads(k, items[k * 10:k * 10 + 40])]
    notes = pack(parts)
    assert len(notes) < len(parts) and all(len(n.encode()) < MAX_PAYLOAD for n in notes)
    assert [p for n in notes for p in n.split("\n")] == parts  # every part, whole, in its order
    assert pack([]) == [] and pack(["3|[]"]) == ["3|[]"]
    big = payloads(2, items)  # a part near the limit goes alone
    assert pack(big) == big


def test_a_notifications_parts_reach_the_rules_in_one_call_and_foreign_lines_are_counted() -> None:
    got: list[list[tuple[int, str]]] = []
    listener = Listener("host=/nonexistent", got.append, lambda: None)  # not started: no connection
    listener._payload('3|[]\nnot siaga\'s\n5|[["x",1.0,1,2]]')
    listener._payload("nothing of ours")
    assert got == [[(3, "[]"), (5, '[["x",1.0,1,2]]')]]
    assert (listener.received, listener.foreign) == (2, 2)

def test_a_shard_holder_takes_up_the_open_alerts_another_process_raised_on_its_sensors() -> None:
    from siaga.alerts import lifecycle
    from siaga.alerts.model import Condition, Impact, Severity, SubjectKind

    settings = lifecycle.Settings(dt.timedelta(minutes=30), lambda _k, _s: Impact())

    def wet(subject: str, active: bool = True) -> Condition:
        return Condition("leak", subject, SubjectKind.sensor, active, Severity.critical, at(1), fire_at_once=True)

    theirs = lifecycle.step(lifecycle.Book(), wet("leak-a"), settings).book
    stored = [dataclasses.replace(a, id=41) for a in theirs.active()]  # as the store numbered it
    mine = lifecycle.step(lifecycle.Book(), wet("leak-b"), settings).book
    book = lifecycle.adopted(mine, stored, {"leak-a"})
    assert {a.subject for a in book.active()} == {"leak-a", "leak-b"}
    assert book.by_alert_id(41) is not None
    again = lifecycle.step(book, wet("leak-a"), settings)
    assert not again.transitions  # the same leak heard again: nothing new
    ended = lifecycle.step(book, wet("leak-a", active=False), settings)
    assert [t.alert.id for t in ended.transitions] == [41]  # and it resolves the adopted alert


def test_a_batch_of_notifications_is_one_statement_in_their_order() -> None:
    assert notify_sql(1) == b"SELECT pg_notify($1, $2)"
    assert notify_sql(3) == b"SELECT pg_notify($1, $2), pg_notify($3, $4), pg_notify($5, $6)"
