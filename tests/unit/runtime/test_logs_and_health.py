"""Structured logs and the health endpoint."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import httpx
import pytest

from siaga import __version__
from siaga.config import LoadedConfig, parse_config
from siaga.runtime import RuntimeContext
from siaga.runtime.logs import configure_logging
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.app import create_app


@pytest.fixture
def restore_logging() -> object:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield None
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_logs_are_one_object_per_line_with_extras(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    logging.getLogger("siaga.test").info("leak detected", extra={"sensor": "leak-r1", "zone": "ceiling-above"})
    logging.getLogger("siaga.test").debug("not shown")
    [line] = out.getvalue().splitlines()
    record = json.loads(line)
    assert record["msg"] == "leak detected"
    assert record["level"] == "info"
    assert record["logger"] == "siaga.test"
    assert record["sensor"] == "leak-r1" and record["zone"] == "ceiling-above"
    assert record["ts"].endswith("+00:00")


def test_text_logs_carry_the_extras(restore_logging: object) -> None:
    out = io.StringIO()
    configure_logging("text", "debug", stream=out)
    logging.getLogger("siaga.test").debug("hello", extra={"n": 3})
    assert out.getvalue().rstrip().endswith("DEBUG   siaga.test: hello n=3")


def _ctx(tmp_path: Path, url: str) -> RuntimeContext:
    loaded = LoadedConfig(parse_config("site: {name: Test}\n", "t.yaml"), tmp_path / "siaga.yaml")
    return RuntimeContext(loaded=loaded, engine=create_engine_for(url))


def test_lines_to_the_journal_stream_carry_their_priority(
    restore_logging: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(write_fd, "w", encoding="utf-8") as stream, os.fdopen(read_fd, encoding="utf-8") as reader:
        st = os.fstat(write_fd)
        monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")  # as systemd sets it
        configure_logging("json", "debug", stream)
        log = logging.getLogger("siaga.test")
        log.debug("d")
        log.info("i", extra={"sensor": "temp-1"})
        log.warning("w")
        log.error("e")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("x")
        stream.flush()
        stream.close()
        lines = reader.read().splitlines()
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<4>", "<3>", "<3>"]
    objects = [json.loads(line[3:]) for line in lines]  # JSON after the prefix
    assert objects[1]["sensor"] == "temp-1" and "boom" in objects[4]["exc"]


def test_another_stream_or_no_journal_gets_plain_lines(
    restore_logging: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    read_fd, write_fd = os.pipe()
    other_read, other_write = os.pipe()
    st = os.fstat(other_write)
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")  # the journal is another pipe
    with os.fdopen(write_fd, "w", encoding="utf-8") as stream:
        configure_logging("json", "info", stream)
        logging.getLogger("siaga.test").warning("w")
    with os.fdopen(read_fd, encoding="utf-8") as reader:
        assert json.loads(reader.read())["level"] == "warning"
    for fd in (other_read, other_write):
        os.close(fd)
    out = io.StringIO()
    configure_logging("text", "info", out)  # not a file at all
    logging.getLogger("siaga.test").warning("w")
    assert not out.getvalue().startswith("<")


async def test_healthz_says_ok_with_version_and_db(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, sqlite_url(tmp_path / "t.db"))
    upgrade(ctx.engine)
    ctx.component_states["web"] = "running"
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://siaga") as client:
        resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "ok", "version": __version__, "site": "Test", "db": True, "session": None,
        "components": {"web": "running"}, "reasons": [],
    }


async def test_healthz_is_503_when_the_store_is_unreachable(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none")
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://siaga") as client:
        resp = await client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["status"] == "degraded" and resp.json()["db"] is False
    assert resp.json()["reasons"] == [{"reason": "store.unreachable"}]


async def test_errors_have_one_shape(tmp_path: Path) -> None:
    from fastapi import APIRouter

    probe = APIRouter()

    @probe.get("/probe/{n}")
    async def _probe(n: int) -> dict[str, int]:
        return {"n": n}

    import sys
    import types

    mod = types.ModuleType("siaga_test_router")
    mod.router = probe  # type: ignore[attr-defined]
    sys.modules["siaga_test_router"] = mod
    try:
        app = create_app(_ctx(tmp_path, sqlite_url(tmp_path / "t.db")), routers=["siaga_test_router:router"])
    finally:
        del sys.modules["siaga_test_router"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga") as client:
        missing = await client.get("/nowhere")
        invalid = await client.get("/probe/abc")
        good = await client.get("/probe/7")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"status": 404, "code": "not_found", "message": "Not Found", "details": None}}
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["loc"] == ["path", "n"]
    assert good.json() == {"n": 7}
