"""The simulator: a deterministic source that replays a scenario file (the demo, tests, drills).

A scenario (YAML) gives each sensor a starting value and then steps at time offsets, each setting a
value at once or ramping linearly to a value over some seconds::

    name: Hujan di atas rak R1
    every: 10            # seconds between the reports of every sensor (scenario time)
    baseline: {temp-r1-top: 23.5, leak-r1-ceiling: 0}
    steps:
      - {at: 20, sensor: leak-r1-ceiling, value: 1}
      - {at: 45, sensor: temp-r1-top, ramp: {to: 31, over: 180}}

Every sensor of the scenario reports every ``every`` seconds, and a step reports its sensor at once.
``timeline`` computes the whole sequence of readings (pure, the same every time); the runner replays it
against the wall clock divided by ``speed``, and after the last step keeps reporting the last values (so
nothing goes stale) until it is stopped, or starts over with ``loop: true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from siaga.errors import SiagaError
from siaga.i18n import N_, _
from siaga.sources.reading import IngestSink, RawReading

if TYPE_CHECKING:
    from siaga.runtime.components import Component
    from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.sources.simulator")

# The notes of the embedded scenario (examples/bontang-scenario.yaml), for the catalogs: the demo tells its
# story in the site's language. A note of another scenario is shown as written.
SCENARIO_NOTES: tuple[str, ...] = (
    N_("rain over Bontang: the room's humidity starts to climb"),
    N_("water in the ceiling zone above rack R1"),
    N_("water reaches the top of rack R1"),
    N_("R1's inlet temperatures rise"),
    N_("water on the floor under R1"),
    N_("the heat spreads to R2"),
    N_("water reaches the floor under R2"),
)
SOURCE = "simulator"
DEFAULT_SCENARIO = "bontang-scenario.yaml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Ramp(_Strict):
    to: float = Field(description="The value reached at the end of the ramp.")
    over: float = Field(gt=0, description="Seconds the ramp takes.")


class Step(_Strict):
    at: float = Field(ge=0, description="Seconds from the start of the scenario.")
    sensor: str = Field(description="The sensor id.")
    value: float | None = Field(default=None, description="The value from now on.")
    ramp: Ramp | None = Field(default=None, description="Or a linear change from the current value.")
    note: str | None = Field(default=None, description="What happens in the story (logged).")

    @model_validator(mode="after")
    def _value_or_ramp(self) -> Step:
        if (self.value is None) == (self.ramp is None):
            raise ValueError("a step sets either value or ramp")
        return self


class Scenario(_Strict):
    name: str = Field(description="What the scenario shows.")
    description: str | None = None
    every: float = Field(default=10.0, gt=0, description="Seconds between reports of every sensor.")
    loop: bool = Field(default=False, description="Start over after the last step (else hold the last values).")
    tail: float = Field(default=60.0, ge=0, description="Seconds after the last step before looping.")
    baseline: dict[str, float] = Field(default_factory=dict, description="Starting value of every sensor.")
    steps: list[Step] = Field(default_factory=list)

    @property
    def sensors(self) -> list[str]:
        names = list(self.baseline)
        for s in self.steps:
            if s.sensor not in names:
                names.append(s.sensor)
        return names

    @property
    def length(self) -> float:
        """Seconds until the last step (and its ramp) is over, plus the tail."""
        ends = [s.at + (s.ramp.over if s.ramp else 0.0) for s in self.steps]
        return max(ends, default=0.0) + self.tail


class ScenarioError(SiagaError):
    """A scenario file that cannot be used: the message names the file and the problem."""


def load_scenario(path: str | Path | None = None) -> Scenario:
    """Read a scenario file (default: the packaged Bontang scenario)."""
    if path is None:
        text = resources.files("siaga.examples").joinpath(DEFAULT_SCENARIO).read_text(encoding="utf-8")
        where = f"siaga/examples/{DEFAULT_SCENARIO}"
    else:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ScenarioError(f"{where}: cannot read: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
        return Scenario.model_validate(data)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(f"{where}: {loc}: {first['msg']}") from None


@dataclass(frozen=True)
class Event:
    at: float  # seconds of scenario time
    sensor: str
    value: float


class _Signal:
    """A sensor's value over time: constant, or a linear ramp between two moments."""

    def __init__(self, value: float) -> None:
        self.start_t = 0.0
        self.start_v = value
        self.end_t = 0.0
        self.end_v = value

    def at(self, t: float) -> float:
        if t >= self.end_t or self.end_t == self.start_t:
            return self.end_v
        frac = (t - self.start_t) / (self.end_t - self.start_t)
        return round(self.start_v + (self.end_v - self.start_v) * frac, 3)

    def set(self, t: float, step: Step) -> None:
        now = self.at(t)
        if step.ramp is not None:
            self.start_t, self.start_v, self.end_t, self.end_v = t, now, t + step.ramp.over, step.ramp.to
        else:
            assert step.value is not None
            self.start_t = self.end_t = t
            self.start_v = self.end_v = step.value


def timeline(scenario: Scenario, until: float | None = None) -> Iterator[Event]:
    """Every reading of one pass of the scenario, in order (pure: the same every time)."""
    end = scenario.length if until is None else until
    signals = {name: _Signal(scenario.baseline.get(name, 0.0)) for name in scenario.sensors}
    ticks: set[float] = set()
    k = 0
    while k * scenario.every <= end:
        ticks.add(k * scenario.every)
        k += 1
    by_time: dict[float, list[Step]] = {}
    for step in scenario.steps:
        if step.at <= end:
            by_time.setdefault(step.at, []).append(step)
    for t in sorted(ticks | set(by_time)):
        due = by_time.get(t, [])
        for step in due:
            signals[step.sensor].set(t, step)
        if t in ticks:
            for name, sig in signals.items():
                yield Event(t, name, sig.at(t))
        else:
            for name in dict.fromkeys(step.sensor for step in due):
                yield Event(t, name, signals[name].at(t))


class Simulator:
    """Replays a scenario into the ingest path, ``speed`` times faster than real time."""

    def __init__(
        self,
        scenario: Scenario,
        sink: IngestSink,
        *,
        speed: float = 1.0,
        known_sensors: set[str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.scenario = scenario
        self.sink = sink
        self.speed = speed
        self.monotonic = monotonic
        self.sent = 0
        self.passes = 0
        unknown = sorted(set(scenario.sensors) - known_sensors) if known_sensors is not None else []
        if unknown:
            log.warning("scenario %r names sensors not in siaga.yaml (skipped): %s", scenario.name, ", ".join(unknown))
        self._skip = set(unknown)
        self._notes = {(s.at, s.sensor): s.note for s in scenario.steps if s.note}

    async def _replay(self, events: Iterator[Event], stop: asyncio.Event, t0: float, offset: float) -> bool:
        batch: list[RawReading] = []
        batch_at: float | None = None
        for ev in events:
            if ev.sensor in self._skip:
                continue
            if batch_at is not None and ev.at != batch_at:
                self._send(batch)
                batch = []
            if batch_at != ev.at:
                due = t0 + (ev.at - offset) / self.speed
                delay = due - self.monotonic()
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
                if stop.is_set():
                    return False
                batch_at = ev.at
            note = self._notes.get((ev.at, ev.sensor))
            if note:
                log.info("%s", _("scenario {at} s: {note}").format(at=f"{ev.at:.0f}", note=_(note)))
            batch.append(RawReading(ev.sensor, ev.value, None, SOURCE))
        self._send(batch)
        return True

    def _send(self, batch: list[RawReading]) -> None:
        if batch:
            self.sink.ingest(batch)
            self.sent += len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        sc = self.scenario
        log.info(
            "simulator: playing %r (%d sensors, %.0f s, speed %g)", sc.name, len(sc.sensors), sc.length, self.speed
        )
        while not stop.is_set():
            t0 = self.monotonic()
            done = await self._replay(timeline(sc), stop, t0, 0.0)
            self.passes += 1
            if not done or sc.loop:
                continue
            # hold: keep reporting the last values so nothing goes stale
            last = {ev.sensor: ev.value for ev in timeline(sc) if ev.sensor not in self._skip}
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), sc.every / self.speed)
                if not stop.is_set():
                    self._send([RawReading(s, v, None, SOURCE) for s, v in last.items()])
            return


def component(ctx: RuntimeContext) -> list[Component]:
    """``sources.simulator`` for ``siaga demo`` (DEMO_COMPONENTS): plays the Bontang scenario in real time."""
    from siaga.runtime.components import Component, ComponentError

    sink = ctx.services.ingest
    if sink is None:
        raise ComponentError("simulator: no ingest path to feed (ctx.services.ingest is not set)")
    try:
        scenario = load_scenario()
    except ScenarioError as exc:
        raise ComponentError(f"simulator: {exc}") from None
    sim = Simulator(scenario, sink, known_sensors={s.id for s in ctx.config.sensors})
    ctx.services.simulator = sim

    async def run(_ctx: Any, stop: asyncio.Event) -> None:
        await sim.run(stop)

    components = [Component("sources.simulator", run)]
    manager = ctx.services.alerts
    if manager is not None:
        site = ctx.config.site
        components.append(Component("demo.alerts", _narrator(manager, site.language.value, site.timezone)))
    return components


def _narrator(manager: Any, lang: str, timezone: str) -> Callable[[Any, asyncio.Event], Any]:
    """Log every alert transition in the demo's terminal in the site's language, with what is at stake."""
    from zoneinfo import ZoneInfo

    from siaga.i18n import labels, using_language
    from siaga.i18n.messages import render, rule_title
    from siaga.money import format_rupiah

    zone = ZoneInfo(timezone)

    async def run(_ctx: Any, stop: asyncio.Event) -> None:
        queue = manager.subscribe()
        try:
            while not stop.is_set():
                get = asyncio.ensure_future(queue.get())
                halt = asyncio.ensure_future(stop.wait())
                done, _pending = await asyncio.wait({get, halt}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    halt.cancel()
                    return
                halt.cancel()
                t = get.result()
                a = t.alert
                with using_language(lang):
                    at_stake = ""
                    if a.impact.value_at_risk:
                        at_stake = _("; at stake: {devices} devices, {services} services, {value}").format(
                            devices=len(a.impact.devices), services=len(a.impact.services),
                            value=format_rupiah(a.impact.value_at_risk, lang),
                        )
                    line = _("alert #{id} {event} [{severity}] {what}: {summary}").format(
                        id=a.id, event=labels.alert_event(t.event or a.state.value),
                        severity=labels.severity(a.severity),
                        what=rule_title(a.rule, lang), summary=render(a.summary, lang, zone),
                    )
                log.warning("%s", line + at_stake)
        finally:
            manager.unsubscribe(queue)

    return run
