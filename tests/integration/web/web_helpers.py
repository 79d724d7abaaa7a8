"""Helpers of the dashboard tests: logging in, reading the CSRF token of a page."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siaga.alerts.manager import AlertManager
from siaga.config import LoadedConfig
from siaga.runtime.services import Services

PASSWORD = "correct-horse-battery"
EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
NOW = dt.datetime(2026, 7, 16, 1, 0, tzinfo=dt.UTC)


@dataclass
class Ctx:
    loaded: LoadedConfig
    engine: Engine
    services: Services = field(default_factory=Services)
    now: dt.datetime = NOW

    def clock(self) -> dt.datetime:
        return self.now

    @property
    def manager(self) -> AlertManager:
        found = self.services.alerts
        assert isinstance(found, AlertManager)
        return found


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1),
                                       "next": "/"}, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/") -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]*)"', client.get(path).text)
    assert m is not None and m.group(1)
    return m.group(1)
