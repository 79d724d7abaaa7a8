"""Builders shared by the notify unit tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind
from siaga.config import load_config
from siaga.config.models import SiteConfig
from siaga.config.notify import EscalationPolicy
from siaga.i18n.messages import Message

T0 = dt.datetime(2026, 7, 16, 6, 0, tzinfo=dt.UTC)  # 14:00 WITA, a Thursday
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bontang.yaml"


def bontang() -> SiteConfig:
    return load_config(EXAMPLE).config


def alert(id: int = 1, **kw: Any) -> Alert:
    base = Alert(
        id=id,
        rule="leak",
        subject="leak-r1-ceiling",
        subject_kind=SubjectKind.sensor,
        state=AlertState.firing,
        severity=Severity.critical,
        summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling", "rack": "R1", "zone": "ceiling-above"}),
        started_at=T0,
        fired_at=T0,
        last_value=1.0,
        incident_id=7,
        impact=Impact(
            room="ruang-server",
            rack="R1",
            zone="ceiling-above",
            devices=("srv-web-1", "srv-db-1"),
            services=("portal", "db-utama"),
            value_at_risk=2_050_000_000,
            worst_criticality="vital",
        ),
    )
    return dataclasses.replace(base, **kw)


def policy(**kw: Any) -> EscalationPolicy:
    data: dict[str, Any] = {
        "id": "p",
        "steps": [
            {"people": ["andi"], "channels": ["telegram", "whatsapp"], "fallback": ["email"]},
            {"after": "5m", "people": ["sari"]},
            {"after": "15m", "people": ["kadis"], "at_once_if_high_stake": True},
        ],
    }
    data.update(kw)
    return EscalationPolicy.model_validate(data)
