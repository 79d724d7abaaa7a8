"""A step's output keeps siaga's own words as message keys: worded for each reader when read, kept whole when
a long program output beside them is cut."""

from __future__ import annotations

import asyncio
import socket

from siaga.i18n.messages import NOTE_MARK
from siaga.runbooks.steps.base import Outcome, said, trim
from siaga.runbooks.steps.wait import wait_port


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_wait_that_times_out_is_worded_for_each_reader() -> None:
    out = asyncio.run(wait_port("127.0.0.1", _free_port(), "open", timeout_s=0.2, poll_s=0.05))
    assert not out.ok and out.output.startswith(NOTE_MARK)  # stored as a key, not as a sentence
    assert "still does not answer after" in out.text("en")
    assert "masih belum menjawab setelah" in out.text("id")


def test_lines_of_several_steps_are_worded_line_by_line_and_kept_whole_by_trim() -> None:
    sent = said("runbook.step.ipmi.sent", address="10.0.0.9", port=623, state="on")
    off = said("runbook.step.power.done", device="srv-db", check=said("runbook.check.power.off"), seconds=4.2)
    printed = "x" * 5000
    kept = trim("\n".join([sent, off, printed]), 100)
    assert kept.split("\n")[:2] == [sent, off] and len(kept.split("\n")[2]) == 100
    text = Outcome(True, kept).text("id")
    assert "perintah soft power off dikirim" in text and "srv-db: daya padam (BMC) setelah 4,2 detik" in text
