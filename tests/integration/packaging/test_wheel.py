"""The wheel carries everything: built as a release is, installed into a new virtual environment outside the
checkout, `siaga demo` runs from it and serves its own CSS and the front-end packages (no npm, no source tree).

The new environment takes siaga from the wheel only; its dependencies come from the test venv's site-packages
(added as a plain path, so the checkout's editable install is not seen), which keeps the test off the
network. ``SIAGA_TEST_WHEEL_FULL=1`` installs the dependencies from the package index instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "node_modules").is_dir():
        pytest.skip("node_modules missing: run scripts/setup.sh")
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "-o", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (found,) = out.glob("siaga-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "v"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    if os.environ.get("SIAGA_TEST_WHEEL_FULL") == "1":
        subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], check=True, timeout=900)
    else:
        site = Path(
            subprocess.run(
                [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        (site / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed", str(wheel)],
            check=True,
            timeout=300,
        )
    return venv


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SIAGA_NODE_MODULES", "VIRTUAL_ENV")}
    env["SIAGA_LOOPBACK_ONLY"] = "1"
    return env


def test_the_wheel_carries_templates_catalogs_and_front_end_packages(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for wanted in (
        "siaga/web/templates/base.html",
        "siaga/web/static/siaga.css",
        "siaga/i18n/locale/id/LC_MESSAGES/siaga.po",
        "siaga/store/migrations/env.py",
        "siaga/examples/bontang.yaml",
        "siaga/web/vendor/htmx/htmx.min.js",
        "siaga/web/vendor/uplot/uPlot.iife.min.js",
        "siaga/web/vendor/swagger-ui/swagger-ui-bundle.js",
        "siaga/deploy/systemd/siaga.service",
        "siaga/deploy/systemd/siaga.env.example",
    ):
        assert wanted in names, wanted


def test_the_installed_wheel_meets_its_own_requirements_and_knows_its_version(installed: Path) -> None:
    py = str(installed / "bin" / "python")
    script = (
        "import importlib.metadata as m\n"
        "from packaging.requirements import Requirement\n"
        "bad = []\n"
        "for text in m.requires('siaga') or []:\n"
        "    r = Requirement(text)\n"
        "    if r.marker is not None and not r.marker.evaluate({'extra': ''}):\n"
        "        continue\n"
        "    try:\n"
        "        v = m.version(r.name)\n"
        "    except m.PackageNotFoundError:\n"
        "        bad.append(r.name); continue\n"
        "    if not r.specifier.contains(v, prereleases=True):\n"
        "        bad.append(f'{r.name} {v}')\n"
        "print(bad)\n"
    )
    done = subprocess.run([py, "-c", script], capture_output=True, text=True, env=_clean_env(), timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
    version = subprocess.run(
        [str(installed / "bin" / "siaga"), "--version"], capture_output=True, text=True, env=_clean_env(), timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("siaga ")
    assert "0.0.0+unknown" not in version.stdout


def test_the_installed_wheel_writes_a_unit_that_runs_its_own_siaga(installed: Path, tmp_path: Path) -> None:
    done = subprocess.run([str(installed / "bin" / "siaga"), "--lang", "en", "install-service", "--root",
                           str(tmp_path)], capture_output=True, text=True, env=_clean_env(), timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    unit = (tmp_path / "etc/systemd/system/siaga.service").read_text(encoding="utf-8")
    assert f"ExecStart={installed / 'bin' / 'siaga'} serve --config /etc/siaga/siaga.yaml" in unit


def test_the_demo_runs_from_the_wheel_outside_the_checkout(installed: Path, tmp_path: Path, free_port: int) -> None:
    port = free_port
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import siaga; print(siaga.__file__)"],
        capture_output=True,
        text=True,
        env=_clean_env(),
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(installed) in where and str(ROOT) not in where  # siaga from the wheel, not the checkout
    proc = subprocess.Popen(
        [
            str(installed / "bin" / "siaga"),
            "demo",
            "--dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            "--duration",
            "20",
        ],
        cwd=tmp_path,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        assert health is not None and health.status_code == 200, proc.stdout.read() if proc.stdout else ""
        css = httpx.get(f"{base}/static/siaga/siaga.css", timeout=5)
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        htmx = httpx.get(f"{base}/static/vendor/htmx/htmx.min.js", timeout=5)
        assert htmx.status_code == 200 and len(htmx.content) > 10_000
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out[-3000:]
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
