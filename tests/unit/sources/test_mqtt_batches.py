"""The subscriber process's batches: a message goes to siaga at once when siaga has taken everything sent
before, and joins one batch with the others while siaga is still taking the previous one."""

from __future__ import annotations

import os
import pickle
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

import pytest

from siaga.sources.mqtt.subscriber import Forwarder, unread
from siaga.sources.reading import RawReading


@pytest.fixture
def pipe() -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """The subscriber's output to siaga: a real pipe (siaga's end read by the test)."""
    r, w = os.pipe()
    with os.fdopen(r, "rb") as siaga_end, os.fdopen(w, "wb") as out:
        yield siaga_end, out


def message(fwd: Forwarder, mid: int) -> None:
    fwd.message(mid, 1, [RawReading(f"t{mid}", 20.0 + mid)], [])


def test_a_message_goes_at_once_when_siaga_has_taken_what_came_before(pipe: tuple[IO[bytes], IO[bytes]]) -> None:
    siaga_end, out = pipe
    fwd = Forwarder(out)
    message(fwd, 1)
    assert pickle.load(siaga_end)[:2] == ("batch", 1)
    message(fwd, 2)  # siaga took batch 1: the next message does not wait for another
    assert pickle.load(siaga_end)[:2] == ("batch", 1)


def test_messages_join_one_batch_while_siaga_is_still_taking_the_previous(
        pipe: tuple[IO[bytes], IO[bytes]]) -> None:
    siaga_end, out = pipe
    fwd = Forwarder(out)
    message(fwd, 1)  # sent at once, and still in the pipe: siaga is busy with something before it
    message(fwd, 2)
    message(fwd, 3)
    first: Any = pickle.load(siaga_end)  # siaga takes batch 1
    assert first[:2] == ("batch", 1)
    assert unread(siaga_end) == 0, "messages 2 and 3 went to siaga one by one behind batch 1"
    flusher = threading.Thread(target=fwd.run, daemon=True)
    flusher.start()
    try:
        deadline = time.monotonic() + 5
        while unread(siaga_end) == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        second: Any = pickle.load(siaga_end)  # sent by the flusher once the pipe was empty, before any stop
        assert second[0] == "batch" and second[1] == 2
        assert [r[0] for r in second[2]] == ["t2", "t3"]
        assert [mid for mid, _qos in second[4]] == [2, 3]  # both acknowledged when siaga says so
    finally:
        fwd.stopping = fwd.parent_gone = True  # as when siaga is gone: no last batch, no wait for acks
        fwd._wake.set()
        flusher.join(5)


def test_a_batch_held_goes_when_siaga_says_it_took_the_one_before(
        pipe: tuple[IO[bytes], IO[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    """The flusher sleeps until siaga's ``took``, not on a clock: a batch held goes at the word."""
    monkeypatch.setattr("siaga.sources.mqtt.subscriber.TOOK_WAIT_S", 60.0)  # no look on a clock in this test
    siaga_end, out = pipe
    r, w = os.pipe()
    with os.fdopen(r, "rb") as commands, os.fdopen(w, "wb") as to_subscriber:
        fwd = Forwarder(out)
        threading.Thread(target=fwd.read_commands, args=(commands,), daemon=True).start()
        message(fwd, 1)
        message(fwd, 2)  # held: batch 1 is still in the pipe
        flusher = threading.Thread(target=fwd.run, daemon=True)
        flusher.start()
        try:
            time.sleep(0.1)  # the flusher is asleep, siaga behind
            assert pickle.load(siaga_end)[:2] == ("batch", 1)
            pickle.dump(("took",), to_subscriber)
            to_subscriber.flush()
            deadline = time.monotonic() + 5
            while unread(siaga_end) == 0 and time.monotonic() < deadline:
                time.sleep(0.001)
            assert unread(siaga_end) > 0, "the batch held did not go when siaga took the one before"
            second: Any = pickle.load(siaga_end)
            assert second[:2] == ("batch", 1) and [r[0] for r in second[2]] == ["t2"]
        finally:
            fwd.stopping = fwd.parent_gone = True
            fwd._wake.set()
            fwd._took.set()
            flusher.join(5)
