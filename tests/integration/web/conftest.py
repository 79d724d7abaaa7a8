"""The dashboard in-process (FastAPI TestClient) on a fresh SQLite store with the Bontang site.

People: ``admin``, ``opera`` (operator) and ``viewer``, password ``correct-horse-battery``. Alerts come from the
real alert manager (``ctx.services.alerts``).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import EXAMPLE, NOW, PASSWORD, Ctx, login

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.config import load_config
from siaga.runtime import RuntimeContext
from siaga.sources.reading import IngestResult
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.app import create_app
from siaga.web.auth import accounts, passwords
from siaga.web.auth.attempts import StoreThrottle
from siaga.web.auth.throttle import LoginThrottle
from siaga.web.dashboard import Dashboard, install


@pytest.fixture(autouse=True)
def cheap_hashes() -> Iterator[None]:
    """argon2 at its lowest cost: the tests check behaviour, not the work factor."""
    previous = passwords.set_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    passwords.set_hasher(previous)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated store with the three people, made once and copied for every test (migrating is slow)."""
    path = tmp_path_factory.mktemp("web-template") / "siaga.db"
    previous = passwords.set_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    engine = create_engine_for(sqlite_url(path))
    try:
        upgrade(engine)
        with engine.begin() as conn:
            for name, role in (("admin", "admin"), ("opera", "operator"), ("viewer", "viewer")):
                accounts.add_user(conn, name, PASSWORD, role, NOW)
    finally:
        engine.dispose()
        passwords.set_hasher(previous)
    return path


@pytest.fixture
def site(tmp_path: Path, template_db: Path) -> Ctx:
    cfg = tmp_path / "siaga.yaml"
    shutil.copy(EXAMPLE, cfg)
    loaded = load_config(cfg)
    shutil.copy(template_db, tmp_path / "siaga.db")
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    ctx = Ctx(loaded, engine)
    manager = AlertManager(engine, impact_of=impact_resolver(loaded.config), clock=ctx.clock)
    manager.load(NOW)
    ctx.services.alerts = manager
    return ctx


@pytest.fixture(scope="session")
def shared_app() -> tuple[FastAPI, Dashboard]:
    """One app for the whole session (building FastAPI's routes takes seconds); each test gives it its site."""
    holder = Ctx(load_config(EXAMPLE), create_engine_for("sqlite://"))
    dash = Dashboard(holder)
    holder.services.dashboard = dash
    return install(FastAPI(), holder), dash


@pytest.fixture
def app(site: Ctx, shared_app: tuple[FastAPI, Dashboard]) -> FastAPI:
    app, dash = shared_app
    dash.ctx = site
    dash.throttle = StoreThrottle(lambda: dash.engine, LoginThrottle(free=3, base=1.0))  # as serve counts
    site.services.dashboard = dash
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", headers={"Accept": "text/html,*/*"}) as c:
        yield c


@pytest.fixture
def as_admin(client: TestClient) -> TestClient:
    assert login(client, "admin").status_code == 303
    return client


@pytest.fixture
def as_operator(client: TestClient) -> TestClient:
    assert login(client, "opera").status_code == 303
    return client


@pytest.fixture
def as_viewer(client: TestClient) -> TestClient:
    assert login(client, "viewer").status_code == 303
    return client


class _Sink:
    """An ingest path for the HTTP push router to be served (nothing reaches it without a token)."""

    def ingest(self, readings: Sequence[Any], *, received_at: Any = None) -> IngestResult:
        raise AssertionError("no reading may get in without a token")

    def reject(self, reason: str, detail: str = "", *, source: str = "") -> None:
        pass


WATCHED_ROOM = """
peers:
  site_id: colo
  sites:
    - {id: bontang, name: Ruang Server Diskominfo, role: watches, url: "http://127.0.0.1:9", secret_file: peer.secret,
       status_host: status.bontangkota.go.id}
"""


@pytest.fixture
def whole_app(site: Ctx) -> FastAPI:
    """The app of `siaga serve` with every router (status page, HTTP push, inventory, backups...), as a
    colocation watching a room too (the routes of the rooms' records and status pages)."""
    base = site.loaded.base_dir
    (base / "peer.secret").write_text("a" * 64 + "\n", encoding="utf-8")
    (base / "siaga-whole.yaml").write_text((base / "siaga.yaml").read_text(encoding="utf-8") + WATCHED_ROOM,
                                           encoding="utf-8")
    loaded = load_config(base / "siaga-whole.yaml")
    ctx = RuntimeContext(loaded=loaded, engine=site.engine, clock=site.clock, services=site.services)
    ctx.services.ingest = _Sink()  # type: ignore[assignment]
    app = create_app(ctx)
    return app
