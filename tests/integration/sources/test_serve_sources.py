"""The sources wired into a real ``siaga serve``: mosquitto_pub and HTTP push in, alerts and readings stored."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import func, select

from siaga.alerts import store as alert_store
from siaga.readings.tables import readings
from siaga.sources.mqtt.testbroker import Mosquitto, free_port
from siaga.store import create_engine_for, sqlite_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "src" / "siaga" / "examples" / "bontang.yaml"


def test_serve_feeds_mqtt_and_http_push_readings_to_alerts(tmp_path: Path, mosquitto: Mosquitto) -> None:
    if shutil.which("mosquitto_pub") is None:
        pytest.skip("mosquitto_pub is not installed")
    data = yaml.safe_load(EXAMPLE.read_text())
    data["store"] = {"data_dir": "state"}
    data["mqtt"] = {"host": "127.0.0.1", "port": mosquitto.port, "client_id": "siaga-serve-test"}
    data["snmp"]["devices"][0].update(host="127.0.0.1", port=free_port(), timeout_s=0.2, retries=0,
                                      community_file="community")
    data["http_push"]["gateways"][0]["token_file"] = "gw.token"
    (tmp_path / "gw.token").write_text("rack-gateway-token\n")
    (tmp_path / "community").write_text("public\n")
    cfg = tmp_path / "siaga.yaml"
    text = yaml.safe_dump(data, allow_unicode=True)
    for path in set(re.findall(r"/etc/siaga/[\w./-]+", text)):  # serve starts only with its secrets at hand
        secret = tmp_path / "secrets" / path.removeprefix("/etc/siaga/")
        secret.parent.mkdir(parents=True, exist_ok=True)
        secret.write_text("uji-rahasia\n")
        text = text.replace(path, str(secret))
    cfg.write_text(text)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    for name in re.findall(r"\$\{(\w+)\}", text):
        env.setdefault(name, "postgresql://u:p@127.0.0.1:1/x" if name.endswith("_URL") else "uji-rahasia")
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "serve", "--config", str(cfg), "--port", str(port), "--log-format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 30
        health: dict[str, object] = {}
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            with contextlib.suppress(httpx.TransportError):
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                comps = health.get("components", {})
                if isinstance(comps, dict) and comps.get("sources.mqtt") == "running":
                    break
            time.sleep(0.1)
        comps = health.get("components", {})
        assert isinstance(comps, dict)
        assert comps.get("sources.mqtt") == "running" and comps.get("sources.snmp") == "running", health
        time.sleep(0.5)  # the subscription
        subprocess.run(
            ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto.port), "-q", "1",
             "-t", "zigbee2mqtt/leak-r1-ceiling", "-m", '{"water_leak": true, "battery": 97}'],
            check=True, timeout=10,
        )
        r = httpx.post(f"http://127.0.0.1:{port}/api/v1/readings",
                       headers={"Authorization": "Bearer rack-gateway-token"},
                       json={"readings": [{"sensor": "temp-r3-top", "value": 24.1}]}, timeout=5)
        assert r.status_code == 200, r.text
        engine = create_engine_for(sqlite_url(tmp_path / "state" / "siaga.db"))
        try:
            deadline = time.monotonic() + 10
            leak = []
            while time.monotonic() < deadline and not leak:
                with engine.connect() as conn:
                    leak = [a for a in alert_store.active_alerts(conn) if a.subject == "leak-r1-ceiling"]
                time.sleep(0.1)
            assert leak and leak[0].rule == "leak" and leak[0].impact.rack == "R1"
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=20)
            with engine.connect() as conn:
                stored = dict(conn.execute(
                    select(readings.c.sensor, func.count()).group_by(readings.c.sensor)
                ).all())
        finally:
            engine.dispose()
        assert stored.get("leak-r1-ceiling") == 1 and stored.get("temp-r3-top") == 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
