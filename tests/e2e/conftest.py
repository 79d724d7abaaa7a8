"""A real siaga (``siaga serve`` in its own process) on a free port, a real broker, a real browser.

The browser is Debian's chromium (``/usr/bin/chromium``) driven by Playwright for Python; Playwright's
own browser download is never used. A failing test leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from e2e_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, ENV_REFS, EXAMPLE, PASSWORD, ROOT, Siaga, free_port

from siaga.web.assets import node_modules


def _site_config(folder: Path, broker_port: int, push_token: str) -> Path:
    """The Bontang example, its secrets in scratch files, its broker on our port."""
    text = EXAMPLE.read_text(encoding="utf-8")
    secrets = folder / "secrets"

    def scratch(m: re.Match[str]) -> str:
        path = secrets / m.group(1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(push_token if "token" in m.group(1) else "uji-rahasia", encoding="utf-8")
        path.chmod(0o600)
        return str(path)

    text = re.sub(r"/etc/siaga/([\w./-]+)", scratch, text)
    text = re.sub(r"(\nmqtt:\n  host: 127\.0\.0\.1\n  port: )1883", rf"\g<1>{broker_port}", text)
    text = re.sub(r"\n  username: siaga\n  password_file: [^\n]+", "", text, count=1)
    cfg = folder / "siaga.yaml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def _siaga(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "siaga", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int | None]:
    if shutil.which("mosquitto") is None:
        yield None
        return
    from siaga.sources.mqtt.testbroker import Mosquitto

    b = Mosquitto(tmp_path_factory.mktemp("broker"))
    b.start()
    try:
        yield b.port
    finally:
        b.stop()


@pytest.fixture(scope="session")
def siaga(tmp_path_factory: pytest.TempPathFactory, broker: int | None) -> Iterator[Siaga]:
    """``siaga serve`` on the Bontang site, with an admin, an operator and a viewer."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    modules = node_modules()
    if modules is None or not (modules / "htmx.org" / "dist").is_dir():
        pytest.skip("the front-end packages are not installed (scripts/setup.sh runs npm install)")
    folder = tmp_path_factory.mktemp("siaga-e2e")
    push_token = "uji-token-gerbang-0123456789"
    cfg = _site_config(folder, broker or free_port(), push_token)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), SIAGA_NODE_MODULES=str(modules))
    for name in set(ENV_REFS.findall(cfg.read_text())):
        env.setdefault(name, "postgresql://u:p@127.0.0.1:1/x" if name.endswith("_URL") else "uji-rahasia-env")
    (folder / "pw").write_text(PASSWORD)
    for name, role in (("admin", "admin"), ("andi", "operator"), ("kadis", "viewer")):
        done = _siaga("user", "add", name, "--role", role, "--password-file", str(folder / "pw"), "-c", str(cfg),
                      env=env)
        assert done.returncode == 0, done.stderr
    port = free_port()
    log = (folder / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "siaga", "serve", "-c", str(cfg), "--port", str(port),
                             "--log-format", "text"], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"siaga serve exited {proc.returncode}: {(folder / 'serve.log').read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"siaga serve did not answer: {(folder / 'serve.log').read_text()[-3000:]}")
        time.sleep(0.2)
    try:
        yield Siaga(url, cfg, broker, push_token)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.copy(folder / "serve.log", ARTIFACTS / "serve.log") if ARTIFACTS.exists() else None


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Module scope: Playwright's sync API holds an event loop in this thread until it stops, and the
    tests after these (asyncio.run, pytest-asyncio) need the thread without one."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.stash[FAILED] = report.failed


FAILED = pytest.StashKey[bool]()


def page_fixture(request: pytest.FixtureRequest, browser: object, **context: object) -> Iterator[object]:
    ctx = browser.new_context(**context)  # type: ignore[attr-defined]
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    # Whatever the Content-Security-Policy blocks is said on the console: every test fails on it.
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: blocked.append(f"page error: {e}"))
    try:
        yield page
        assert blocked == [], blocked
    finally:
        if request.node.stash.get(FAILED, False):
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
        ctx.close()


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: object) -> Iterator[object]:
    yield from page_fixture(request, browser, viewport={"width": 1280, "height": 900}, locale="id-ID")


@pytest.fixture
def phone(request: pytest.FixtureRequest, browser: object) -> Iterator[object]:
    yield from page_fixture(request, browser, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                            is_mobile=True, has_touch=True, locale="id-ID")
