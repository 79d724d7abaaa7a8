"""The MQTT ingest path under faults, with a real mosquitto and a real ``siaga serve``: every published
reading stored exactly once through kill -9 and a broker's redelivery; words on a temperature refused."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration


def test_kill_9_during_a_qos1_stream_loses_and_doubles_nothing(ingest_drills: ModuleType, tmp_path: Path) -> None:
    figures = ingest_drills.kill9(tmp_path, count=2000, rate=1000.0, kill_after_s=1.0)
    assert figures["kill9_publisher"]["acked"] == 2000  # the broker took every message
    assert figures["kill9_stored_at_kill"] < 2000  # the kill came in the middle of the stream
    assert (figures["kill9_lost"], figures["kill9_doubled"]) == (0, 0), figures


def test_a_broker_restart_that_delivers_again_makes_no_second_row(ingest_drills: ModuleType, tmp_path: Path) -> None:
    figures = ingest_drills.redelivery(tmp_path, count=150)
    assert figures["redelivery_redelivered"] > 0, figures  # the broker really did deliver them again
    assert (figures["redelivery_lost"], figures["redelivery_doubled"]) == (0, 0), figures


def test_words_and_booleans_on_a_temperature_are_refused_and_raise_no_temperature_alert(
    ingest_drills: ModuleType, tmp_path: Path
) -> None:
    figures = ingest_drills.words(tmp_path)
    assert figures["words_refused"] == figures["words_sent"] and figures["words_stored"] == 0, figures
    assert figures["words_alerts"] == ["sensor.faulty"], figures  # the broken probe is told, nothing else
