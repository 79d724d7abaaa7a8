"""The off-site record written by several processes at once, on a real PostgreSQL: a line numbered before
another but committed after it must not be passed over by the peer's cursor. The outbox lines are numbered
at commit, in commit order, so a transaction that wrote first and commits last is sent after the other,
not skipped; a store recording with the older triggers gets them remade."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, insert, text

from siaga.checks.tables import check_changes
from siaga.peers import outbox
from siaga.store import create_engine_for, upgrade
from siaga.store.events import set_meta

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

T0 = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    e = create_engine_for(postgres_url)
    upgrade(e)
    with e.begin() as conn:
        outbox.set_recording(conn, True)
    try:
        yield e
    finally:
        e.dispose()


def change(conn: Connection, check_id: str) -> None:
    conn.execute(insert(check_changes).values(check_id=check_id, service="portal", at=T0, confirmed_at=T0,
                                              previous="unknown", status="up", message=""))


def subjects(engine: Engine, after: int) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        return [(e["seq"], e["subject"]) for e in outbox.batch(conn, "room", after)]


def test_a_line_written_first_and_committed_last_is_sent_after_the_other_not_skipped(engine: Engine) -> None:
    with engine.connect() as slow:
        slow.begin()
        change(slow, "first-written")  # a process's transaction, still open
        with engine.begin() as quick:  # another process's, committed meanwhile
            change(quick, "first-committed")
        sent = subjects(engine, 0)
        assert [s for _, s in sent] == ["check:first-committed"]
        cursor = max(seq for seq, _ in sent)  # the peer acknowledged it: the cursor moves past it
        slow.commit()
    assert [s for _, s in subjects(engine, cursor)] == ["check:first-written"]


def test_a_store_recording_with_the_older_triggers_gets_them_remade(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER peer_outbox_check_changes ON check_changes")
        conn.exec_driver_sql("CREATE TRIGGER peer_outbox_check_changes AFTER INSERT OR UPDATE ON check_changes "
                             "FOR EACH ROW EXECUTE FUNCTION peer_outbox_tap('check:', 'check_id')")
        set_meta(conn, outbox.TRIGGERS_KEY, "1")
    with engine.begin() as conn:
        outbox.set_recording(conn, True)  # a process starts with the new code
    with engine.connect() as conn:
        deferred = conn.execute(text("SELECT tgdeferrable AND tginitdeferred FROM pg_trigger "
                                     "WHERE tgname = 'peer_outbox_check_changes'")).scalar_one()
    assert deferred
