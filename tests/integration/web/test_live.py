"""Live updates: a change in the store reaches every listening page as a Server-Sent Event."""

from __future__ import annotations

import asyncio
import datetime as dt

from web_helpers import NOW, Ctx
from web_standins import fire_alert, put_reading

from siaga.web.dashboard import Dashboard
from siaga.web.live import Broker, sse_message


async def test_a_new_alert_and_a_new_reading_are_announced(site: Ctx) -> None:
    dash = Dashboard(site, poll_interval=0.05)
    async with dash.broker.subscribe() as queue:
        dash.start_poller()
        for _ in range(200):  # until the poller has seen the store as it was (slow on a busy machine)
            if dash.polls:
                break
            await asyncio.sleep(0.05)
        await asyncio.to_thread(fire_alert, site.manager, "leak", "leak-r1-floor", NOW)
        topic, _ = await asyncio.wait_for(queue.get(), timeout=5)
        assert topic == "alerts"
        await asyncio.to_thread(put_reading, site.engine, "temp-r1-top", 25.0, NOW + dt.timedelta(seconds=1))
        topic, _ = await asyncio.wait_for(queue.get(), timeout=5)
        assert topic == "readings"
    await asyncio.sleep(0.2)
    assert dash._poller is not None and dash._poller.done()  # nobody listens: the poller stops


async def test_a_slow_page_loses_old_notices_not_the_publisher() -> None:
    broker = Broker(queue_size=2)
    async with broker.subscribe() as queue:
        for i in range(5):
            broker.publish("readings", {"n": i})
        assert queue.qsize() == 2
        assert [queue.get_nowait()[1]["n"] for _ in range(2)] == [3, 4]


def test_sse_message_format() -> None:
    assert sse_message("alerts", {"id": 3}) == 'event: alerts\ndata: {"id":3}\n\n'
