"""Rule evaluation in shards of sensors, each shard held by one process (several ``siaga serve`` on PostgreSQL).

With MQTT shared subscriptions the processes split the sensors' messages, so no process sees all the
readings of a sensor; a rule over a sensor's history (a hold time, hysteresis, a rate, the dew point of
a humidity and a temperature sensor) must still be evaluated in one place. The sensors are cut into
``runtime.rule_shards`` shards (a sensor falls in :func:`shard_of` its group key; a humidity sensor goes
with the temperature sensor its dew point is computed from); shard ``k`` is the lease role ``rules/<k>``
(:mod:`siaga.cluster.leases`), so exactly one live process evaluates it.

:class:`ShardedRules` stands where one :class:`~siaga.rules.engine.RulesEngine` stands in a single
process (``Ingest.rules``): a reading of a sensor whose shard this process holds is evaluated here at
once; any other is handed off (:mod:`siaga.cluster.handoff`: PostgreSQL ``NOTIFY``) to the holder, which
feeds it to its engine (:meth:`ShardedRules.observe_payload`). A shard taken over (its holder died, or
this process started) gets a fresh engine, loaded from the store: the sensors' last contact (stale
sensors) and their readings of the last :data:`REPLAY` (so hold times and hysteresis go on, and a
reading that arrived while nobody held the shard is evaluated now); readings handed off meanwhile wait
and follow. Only the final state of each rule is submitted after a replay, and the open alerts of the
shard's sensors are taken up from the store first, so nothing is raised or resolved twice.

Hand-over without a gap
-----------------------
The store is not enough for a shard taken over: a reading's receiver commits it in group (the readings
writer, every ``readings.flush_interval``), so a reading received just before the new holder reads the
store (:func:`load_shard`) is not there yet; if it was handed off while the shard had no engine here, the
new holder did not keep it either, and a leak reported once could never page. So every process keeps
:class:`Recent`: what it saw in the last :func:`recent_window` seconds (longer than a reading's time from
receipt to commit), every hand-off it heard and the readings it evaluated itself (never handed off). The
argument, for a reading ``r`` of shard ``k`` received by process A, and B taking ``k``:

- A receives ``r`` while nobody evaluates ``k`` here (its holder died and the lease has not been taken,
  or it is being handed over): A hands it off all the same (``observe`` keeps it whenever A has no
  engine for ``k`` and knows the sensor, ``handoff`` sends it at the end of its batch), and every process
  listens, A and B included.
- B's listener gets ``r`` before B marks ``k`` as loading (:meth:`ShardedRules.to_load`, under the ingest
  lock like every hand-off fed here): it goes to B's :class:`Recent`. The marking takes a snapshot of
  the shard's recent items, and the replay is the union of the store's rows and that snapshot,
  deduplicated by (sensor, ts), in timestamp order (:meth:`ShardedRules.build`). If ``r`` left the window
  before the marking, it was received more than the window before the store is read, so it is committed
  and the store has it.
- B's listener gets ``r`` after the marking: it waits in the shard and is fed after the replay
  (:meth:`ShardedRules.install`), as before. Both orders are therefore covered, and a reading in both
  the store and the recent items is replayed once (an engine ignores a reading not newer than its last).
- The old holder was alive and let ``k`` go (it was above its share, or its lease ran out): the readings
  it received itself and evaluated were never handed off, so when it lets a shard go it hands off its
  own recent ones of that shard (:meth:`ShardedRules._let_go`); they reach B before or after the marking
  as above. A holder killed cannot hand anything off; but an MQTT message is acknowledged to the broker
  only once its readings are safe (committed or spooled), so what it received and had not committed is
  delivered again to a live process, and goes the way of the first point.

What this does not cover: a listener that was away (its connection failed) loses the notifications sent
meanwhile and loads its shards again (``reload_all``); and a reading whose commit takes longer than the
window (the store in trouble). :class:`Recent` is bounded (:data:`RECENT_MAX` items; ``dropped`` counts the
ones pushed out early).

Pure apart from the callables it is given (``holds``, ``publish``, ``monotonic``); the loading from the
store is :func:`load_shard`.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from siaga.cluster.status import RULES_ROLE_PREFIX, SHARE_PREFIX
from siaga.config.models import SiteConfig
from siaga.readings.tables import readings, sensor_last
from siaga.rules.engine import RulesEngine
from siaga.rules.resolve import dew_point_pairs
from siaga.sources.ingest import to_ms
from siaga.vocab import Condition

if TYPE_CHECKING:
    from siaga.cluster.handoff import Publisher
    from siaga.cluster.rule_keeper import RuleShardKeeper

ROLE_PREFIX = RULES_ROLE_PREFIX
REPLAY = dt.timedelta(minutes=15)
"""How far back a shard taken over replays its sensors' readings: longer than the hold times, rate
windows and flapping windows siaga's presets use."""
REPLAY_MAX_ROWS = 200_000
RECENT_MIN_S = 5.0
RECENT_MAX = 100_000
"""At most this many recent items are kept (about 10 s of 10,000 readings a second)."""
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Handoff = tuple[str, float | None, int, int]
"""What goes to a shard's holder: (sensor, value or None for presence, ts in ms, received in ms); a
presence is value None with ts 1 (online) or 0 (offline)."""


def parse(body: str) -> list[Handoff]:
    """The handoffs of a notification's list (:mod:`siaga.cluster.handoff`); a list siaga did not write gives
    none, an item siaga did not write is left out."""
    try:
        raw: Any = json.loads(body)
    except ValueError:
        return []
    if type(raw) is not list:
        return []
    try:  # the one pass a list siaga wrote takes (values are floats, or null for a presence)
        out: list[Handoff] = [(s, v, t, r) for s, v, t, r in raw]
        if all(type(s) is str and (type(v) is float or v is None) and type(t) is int and type(r) is int
               for s, v, t, r in out):
            return out
    except (TypeError, ValueError):  # an item that is not four things
        pass
    out = []
    for item in raw:
        if (isinstance(item, list) and len(item) == 4 and isinstance(item[0], str)
                and (item[1] is None or (isinstance(item[1], int | float) and not isinstance(item[1], bool)))
                and type(item[2]) is int and type(item[3]) is int):
            out.append((item[0], None if item[1] is None else float(item[1]), item[2], item[3]))
    return out


def share_key(session_id: int) -> str:
    """The ``meta`` key under which a process writes its share of the work (``siaga cluster status``)."""
    return f"{SHARE_PREFIX}{session_id}"


def role(shard: int) -> str:
    return f"{ROLE_PREFIX}{shard}"


def group_keys(config: SiteConfig) -> dict[str, str]:
    """Sensor id -> the key its shard is hashed from: its own id, or for a humidity sensor the id of the
    temperature sensor of its dew point (so both are evaluated by one engine)."""
    pairs = dew_point_pairs(config)
    return {s.id: pairs.get(s.id, s.id) for s in config.sensors}


def shard_of(key: str, shards: int) -> int:
    """The shard of a group key: stable across processes, runs and Python versions (CRC-32)."""
    return zlib.crc32(key.encode()) % shards


def shard_map(config: SiteConfig, shards: int) -> dict[str, int]:
    """Sensor id -> its shard."""
    return {s: shard_of(k, shards) for s, k in group_keys(config).items()}


def recent_window(config: SiteConfig) -> float:
    """How long a process keeps recent hand-offs: longer than a reading takes from receipt to commit (the
    writer commits at least every ``readings.flush_interval``, plus the time a flush takes)."""
    return max(RECENT_MIN_S, 3 * config.readings.flush_interval)


class Recent:
    """The items of the last ``window_s`` seconds (by ``monotonic``), each with its shard and whether this
    process received it itself and evaluated it (never handed off); at most ``max_items``. What another
    process handed off is kept as its notification's text (a list of items, read only when asked for: most
    are of shards this process never takes)."""

    def __init__(self, window_s: float, max_items: int = RECENT_MAX,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self.max_items = max_items
        self.monotonic = monotonic
        self._items: deque[tuple[float, int, Handoff | str, bool, int]] = deque()  # ..., how many items
        self._count = 0
        self.dropped = 0  # pushed out by the bound before their window ended

    def add(self, shard: int, item: Handoff, own: bool) -> None:
        now = self.monotonic()
        self._items.append((now, shard, item, own, 1))
        self._count += 1
        self._prune(now)

    def add_text(self, shard: int, body: str) -> None:
        """A notification's list of items of ``shard`` (handed off by another process), as it came."""
        now = self.monotonic()
        n = body.count("],[") + 1
        self._items.append((now, shard, body, False, n))
        self._count += n
        self._prune(now)

    def _prune(self, now: float) -> None:
        old = now - self.window_s
        items = self._items
        while items and items[0][0] < old:
            self._count -= items.popleft()[4]
        while self._count > self.max_items and items:
            n = items.popleft()[4]
            self._count -= n
            self.dropped += n

    def of(self, shard: int, *, own: bool = False) -> list[Handoff]:
        """The shard's items still in the window, oldest first (``own``: only those evaluated here)."""
        self._prune(self.monotonic())
        out: list[Handoff] = []
        for _t, k, item, mine, _n in self._items:
            if k != shard or (own and not mine):
                continue
            if isinstance(item, str):
                out += parse(item)
            else:
                out.append(item)
        return out

    def __len__(self) -> int:
        return self._count


def _ms(ts: dt.datetime) -> int:
    # the store's ms of a time (a reading handed off and the same one read back from the store are one)
    return to_ms(ts)


_from_timestamp = dt.datetime.fromtimestamp


def _at(ms: int) -> dt.datetime:
    # exact for whole milliseconds (checked against EPOCH + timedelta over 1970-2100) and twice as fast: it
    # runs twice a reading handed off
    return _from_timestamp(ms / 1000, dt.UTC)


@dataclass
class ShardState:
    """What the store says of a shard's sensors when it is taken: last contact and recent readings."""

    last_seen: dict[str, dt.datetime] = field(default_factory=dict)
    rows: list[tuple[str, float, int]] = field(default_factory=list)  # sensor, value, ts ms (ts order)


def load_shard(conn: Connection, sensors: Sequence[str], now: dt.datetime) -> ShardState:
    """The sensors' last contact and their readings since ``now - REPLAY``, oldest first."""
    state = ShardState()
    if not sensors:
        return state
    for r in conn.execute(select(sensor_last.c.sensor, sensor_last.c.received_at)
                          .where(sensor_last.c.sensor.in_(sensors))):
        if r.received_at is not None:
            state.last_seen[r.sensor] = r.received_at
    q = (select(readings.c.sensor, readings.c.value, readings.c.ts)
         .where(readings.c.sensor.in_(sensors), readings.c.ts >= _ms(now - REPLAY))
         .order_by(readings.c.ts).limit(REPLAY_MAX_ROWS))
    state.rows = [(r.sensor, float(r.value), int(r.ts)) for r in conn.execute(q)]
    return state


class _Shard:
    __slots__ = ("engine", "recent", "waiting")

    def __init__(self, recent: list[Handoff]) -> None:
        self.engine: RulesEngine | None = None  # None while it is being loaded
        self.recent = recent  # the recent items when it was taken: replayed with the store's rows
        self.waiting: list[Handoff] = []  # handed off while loading: fed after the replay


class ShardedRules:
    """The rules of the shards this process holds; readings of the others handed to their holders.

    Not thread-safe by itself: :class:`~siaga.sources.ingest.Ingest` calls it under its lock.
    """

    def __init__(self, config: SiteConfig, shards: int, holds: Callable[[int], bool],
                 publish: Callable[[int, list[Handoff]], None], *, publisher: Publisher | None = None,
                 keeper: RuleShardKeeper | None = None, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.publisher = publisher  # what ``publish`` belongs to (started and stopped by the rules component)
        self.keeper = keeper  # what ``holds`` asks (run by the rules component)
        self.shards = shards
        self.holds = holds
        self.publish = publish
        self.shard = shard_map(config, shards)
        self.sensors_of: dict[int, list[str]] = {}
        for s, k in self.shard.items():
            self.sensors_of.setdefault(k, []).append(s)
        self._sub = {k: config.model_copy(update={"sensors": [s for s in config.sensors if self.shard[s.id] == k]})
                     for k in self.sensors_of}
        self._held: dict[int, _Shard] = {}
        self.recent = Recent(recent_window(config), monotonic=monotonic)
        self.handed_off = 0  # readings (and devices' presence words) sent to another process's shard
        self.received = 0  # readings handed to this process's shards by others
        self.evaluated = 0  # readings evaluated here
        self.lock = threading.Lock()  # taken by the loader only between the replay and the install
        self._last_received: tuple[dt.datetime, int] | None = None
        self._last_stamp: tuple[dt.datetime, int] | None = None
        self._outbox: dict[int, list[Handoff]] = {}  # to hand off at the end of the batch (see handoff)

    def _received_ms(self, at: dt.datetime) -> int:
        """``_ms(at)``, kept for the next reading: a message's readings share their time of receipt."""
        last = self._last_received
        if last is None or last[0] is not at:
            last = self._last_received = (at, _ms(at))
        return last[1]

    def _stamp_ms(self, ts: dt.datetime) -> int:
        """``_ms(ts)``, kept for the next reading: a gateway's readings often share their timestamp (an equal
        one, not the same object: compared, which costs a tenth of the conversion)."""
        last = self._last_stamp
        if last is None or last[0] != ts:
            last = self._last_stamp = (ts, _ms(ts))
        return last[1]

    def knows(self, sensor: str) -> bool:
        return sensor in self.shard

    def _engine(self, sensor: str) -> RulesEngine | _Shard | None:
        k = self.shard.get(sensor)
        if k is None:
            return None
        held = self._held.get(k)
        if held is None or not self.holds(k):
            return None
        return held.engine if held.engine is not None else held

    # the RulesEngine surface Ingest uses ------------------------------------------------------------
    def observe(self, sensor: str, value: float, ts: dt.datetime, received_at: dt.datetime | None = None
                ) -> list[Condition]:
        at = received_at or ts
        here = self._engine(sensor)
        item: Handoff = (sensor, value, self._stamp_ms(ts), self._received_ms(at))
        if isinstance(here, RulesEngine):
            self.evaluated += 1
            self.recent.add(self.shard[sensor], item, True)
            return here.observe(sensor, value, ts, received_at)
        if isinstance(here, _Shard):
            self.recent.add(self.shard[sensor], item, True)
            here.waiting.append(item)
            return []
        k = self.shard.get(sensor)
        if k is not None:  # its shard held elsewhere, or by nobody right now: every process listens
            out = self._outbox.get(k)
            if out is None:
                self._outbox[k] = [item]
            else:
                out.append(item)
        return []

    def presence(self, sensor: str, online: bool, at: dt.datetime) -> list[Condition]:
        here = self._engine(sensor)
        item: Handoff = (sensor, None, 1 if online else 0, self._received_ms(at))
        if isinstance(here, RulesEngine):
            self.recent.add(self.shard[sensor], item, True)
            return here.presence(sensor, online, at)
        if isinstance(here, _Shard):
            self.recent.add(self.shard[sensor], item, True)
            here.waiting.append(item)
        elif sensor in self.shard:
            self._outbox.setdefault(self.shard[sensor], []).append(item)
        return []

    def handoff(self) -> None:
        """Hand off what the readings observed since the last call left for other processes: one list per
        shard (Ingest calls this at the end of each batch it takes, so a message of 100 readings is a few
        hand-offs, not 100)."""
        if not self._outbox:
            return
        outbox, self._outbox = self._outbox, {}
        for k, items in outbox.items():
            self.handed_off += len(items)
            self.publish(k, items)

    def tick(self, now: dt.datetime) -> list[Condition]:
        out: list[Condition] = []
        for k, held in list(self._held.items()):
            if not self.holds(k):
                self._let_go(k)  # lost (taken over, or not renewed): its state goes with it
                continue
            if held.engine is not None:
                out += held.engine.tick(now)
        return out

    # handed off by other processes ----------------------------------------------------------------------
    def observe_payload(self, shard: int, body: str) -> list[Condition]:
        """A notification of readings another process handed off for ``shard`` (its list still text): read and
        evaluated when the shard is held (or waiting) here; else only kept, unread, in case this process
        takes the shard."""
        self.recent.add_text(shard, body)
        if shard not in self._held or not self.holds(shard):
            return []
        return self._feed_remote(shard, parse(body))

    def observe_parts(self, parts: Iterable[tuple[int, str]]) -> list[Condition]:
        """A notification's parts (:meth:`observe_payload` each, in order)."""
        out: list[Condition] = []
        for shard, body in parts:
            out += self.observe_payload(shard, body)
        return out

    def _feed_remote(self, shard: int, items: list[Handoff]) -> list[Condition]:
        """Readings handed off for ``shard``, held here: to its engine, or to wait while it loads. An item
        whose sensor this process puts in another shard (a process on another version of siaga.yaml, for
        the moment of a change) goes where this process puts it."""
        held = self._held[shard]
        engine = held.engine
        of = self.shard
        if engine is None:
            mine = [item for item in items if of.get(item[0]) == shard]
            held.waiting += mine
            return self._feed_elsewhere(shard, items) if len(mine) != len(items) else []
        out: list[Condition] = []
        # the items of one message share their time of receipt, and a gateway's often their timestamp
        received: tuple[int, dt.datetime] = (-1, EPOCH)
        stamped: tuple[int, dt.datetime] = (-1, EPOCH)
        elsewhere = False
        for item in items:
            sensor, value, ts, at = item
            if of.get(sensor) != shard:
                elsewhere = True
                continue
            self.received += 1
            self.evaluated += 1
            if at != received[0]:
                received = (at, _at(at))
            if value is None:
                out += engine.presence(sensor, ts == 1, received[1])
                continue
            if ts != stamped[0]:
                stamped = (ts, _at(ts))
            out += engine.observe(sensor, value, stamped[1], received[1])
        if elsewhere:
            out += self._feed_elsewhere(shard, items)
        return out

    def _feed_elsewhere(self, shard: int, items: list[Handoff]) -> list[Condition]:
        """The items of a list for ``shard`` whose sensor this process puts in another shard: evaluated there
        when that one is held here (or waiting), else dropped (its holder was handed nothing of it)."""
        out: list[Condition] = []
        for item in items:
            k = self.shard.get(item[0])
            if k is None or k == shard:
                continue
            here = self._engine(item[0])
            if isinstance(here, _Shard):
                here.waiting.append(item)
            elif isinstance(here, RulesEngine):
                self.received += 1
                self.evaluated += 1
                out += _feed(here, item)
        return out

    # shards taken and lost --------------------------------------------------------------------------------
    def to_load(self) -> list[Condition]:
        """Mark the shards held (by their lease) that have no engine yet as loading (see :meth:`loading`); the
        shards lost are let go. Conditions: none (the signature of ``Ingest.apply_rules``)."""
        for k in list(self._held):
            if not self.holds(k):
                self._let_go(k)
        for k in self.sensors_of:
            if k not in self._held and self.holds(k):
                self._held[k] = _Shard(self.recent.of(k))  # what came before now: replayed; after: waits
        return []

    def _let_go(self, shard: int) -> None:
        """``shard`` is no longer held here: forget its state, and hand off the readings this process
        evaluated of it in the last seconds (the next holder may read the store before they are committed)."""
        del self._held[shard]
        own = self.recent.of(shard, own=True)
        if own:
            self.handed_off += len(own)
            self.publish(shard, own)

    def build(self, shard: int, state: ShardState, now: dt.datetime) -> tuple[RulesEngine, list[Condition]]:
        """A fresh engine for ``shard`` from the store's state (outside the ingest lock): the replayed
        readings (the store's and the recent ones when it was taken, see the module's docstring), and the
        final condition of each rule that changed during the replay."""
        engine = RulesEngine(self._sub[shard], now=now, last_seen=state.last_seen)
        held = self._held.get(shard)
        last: dict[tuple[str, str], Condition] = {}
        for item in replay(state, held.recent if held is not None else []):
            for c in _feed(engine, item):
                last[(c.rule, c.subject)] = c
        return engine, list(last.values())

    def install(self, shard: int, engine: RulesEngine, now: dt.datetime) -> list[Condition]:
        """Put the loaded engine in place (under the ingest lock) and feed it what waited meanwhile."""
        held = self._held.get(shard)
        if held is None:
            return []
        if not self.holds(shard):
            self._let_go(shard)
            return []
        held.engine = engine
        out: list[Condition] = []
        for item in held.waiting:
            out += _feed(engine, item)
        held.waiting = []
        out += engine.tick(now)
        return out

    def loading(self) -> list[int]:
        """Shards taken whose engine is not in place yet."""
        return sorted(k for k, h in self._held.items() if h.engine is None)

    def unload(self, shard: int) -> list[Condition]:
        """Loading ``shard`` failed: forget it (taken again at the next poll while its lease is held)."""
        self._held.pop(shard, None)
        return []

    def reload_all(self) -> list[Condition]:
        """Handed-over readings may have been missed (the listener was away): load every shard again."""
        self._held.clear()
        return []

    def let_go_all(self) -> list[Condition]:
        """A clean stop (before the leases are released): every shard held here is let go, its recent own
        readings handed off (the next holder may read the store before this process's last flush)."""
        for k in list(self._held):
            self._let_go(k)
        return []

    def held_shards(self) -> list[int]:
        return sorted(k for k, h in self._held.items() if h.engine is not None)


def replay(state: ShardState, recent: Sequence[Handoff]) -> list[Handoff]:
    """The union of the store's rows and the recent items, deduplicated by (sensor, ts), in timestamp order
    (a store row received at the sensor's last contact); the recent presences follow, in their order."""
    seen = {(sensor, ts) for sensor, _v, ts in state.rows}
    out: list[Handoff] = []
    for sensor, value, ts in state.rows:
        last = state.last_seen.get(sensor)
        out.append((sensor, value, ts, _ms(last) if last is not None else ts))
    more: list[Handoff] = []
    for item in recent:
        if item[1] is not None and (item[0], item[2]) not in seen:
            seen.add((item[0], item[2]))
            more.append(item)
    if more:
        out = sorted([*out, *more], key=lambda item: item[2])  # stable: equal timestamps keep their order
    return out + [item for item in recent if item[1] is None]


def _feed(engine: RulesEngine, item: Handoff, received_at: dt.datetime | None = None) -> list[Condition]:
    sensor, value, ts, received = item
    at = received_at if received_at is not None else _at(received)
    if value is None:
        return engine.presence(sensor, ts == 1, at)
    return engine.observe(sensor, value, _at(ts), at)
