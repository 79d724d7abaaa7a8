"""The alert manager over random sequences of conditions and acknowledgements (hypothesis, fake clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import AlertState, Condition, Severity, SubjectKind, Transition
from siaga.store import create_engine_for, sqlite_url, upgrade

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)
ALLOWED = {
    None: {AlertState.pending, AlertState.firing},
    AlertState.pending: {AlertState.pending, AlertState.firing, AlertState.acknowledged, AlertState.resolved},
    AlertState.firing: {AlertState.firing, AlertState.acknowledged, AlertState.resolved},
    AlertState.acknowledged: {AlertState.acknowledged, AlertState.resolved},
}
_subjects = itertools.count()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    e = create_engine_for(sqlite_url(Path(tmp_path_factory.mktemp("am")) / "am.db"))
    upgrade(e)
    yield e
    e.dispose()


step = st.one_of(
    st.tuples(st.just("cond"), st.booleans(), st.sampled_from(list(Severity)), st.booleans(),
              st.sampled_from([0, 30, 120])),
    st.tuples(st.just("ack"), st.just(False), st.just(Severity.info), st.just(False), st.just(0)),
    st.tuples(st.just("tick"), st.just(False), st.just(Severity.info), st.just(False), st.just(0)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.integers(1, 90), step), min_size=1, max_size=15))
def test_transitions_follow_the_state_machine(engine: Engine, steps: list[tuple[int, tuple]]) -> None:  # type: ignore[type-arg]
    async def run() -> list[Transition]:
        subject = f"svc-{next(_subjects)}"
        m = AlertManager(engine, clock=lambda: T0)
        q = m.subscribe()
        now = T0
        for gap, (kind, active, severity, at_once, hold) in steps:
            now += dt.timedelta(seconds=gap)
            if kind == "cond":
                m.submit(Condition("service.down", subject, SubjectKind.service, active, severity, now,
                                   fire_at_once=at_once, params={"for_s": hold}))
            elif kind == "ack":
                current = m.get("service.down", subject)
                if current is not None and current.state is not AlertState.acknowledged:
                    m.ack(current.id, "andi", at=now)
            else:
                m.tick(now)
            open_now = [a for a in m.active() if a.subject == subject]
            assert len(open_now) <= 1  # one episode at a time
        out = []
        while not q.empty():
            out.append(q.get_nowait())
        return out

    transitions = asyncio.run(run())
    last: dict[int, AlertState | None] = {}
    for t in transitions:
        prev = last.get(t.alert.id)
        assert t.alert.id not in last or prev is not AlertState.resolved, "a resolved alert never changes again"
        assert t.alert.state in ALLOWED[prev], (prev, t.alert.state, t.event)
        last[t.alert.id] = t.alert.state
    with engine.connect() as conn:
        for alert_id, state in last.items():
            stored = store.get_alert(conn, alert_id)
            assert stored is not None and stored.state is state  # the store says what subscribers heard
