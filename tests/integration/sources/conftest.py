"""Real peers for the sources' tests: mosquitto on a free loopback port, started per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from siaga.sources.mqtt.testbroker import Mosquitto


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


UPS_SNMPREC = """\
1.3.6.1.2.1.33.1.2.3.0|2|42
1.3.6.1.2.1.33.1.2.4.0|2|87
1.3.6.1.2.1.33.1.2.7.0|2|31
1.3.6.1.2.1.33.1.3.3.1.3.1|2|221
1.3.6.1.2.1.33.1.4.1.0|2|5
1.3.6.1.2.1.33.1.4.4.1.2.1|2|220
1.3.6.1.2.1.33.1.4.4.1.5.1|2|37
1.3.6.1.4.1.99999.1.1.0|2|245
"""


class SnmpAgent:
    def __init__(self, port: int, v3_user: str, v3_auth: str, v3_priv: str) -> None:
        self.port = port
        self.v3_user, self.v3_auth, self.v3_priv = v3_user, v3_auth, v3_priv


@pytest.fixture(scope="module")
def snmp_agent(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SnmpAgent]:
    """snmpsim serving a UPS-MIB record: community `ups-card` (v2c) or context `ups-card` (v3)."""
    import os
    import socket
    import subprocess
    import sys
    import time

    exe = Path(sys.executable).with_name("snmpsim-command-responder")
    if not exe.exists():
        pytest.skip("snmpsim is not installed (pip install snmpsim)")
    root = tmp_path_factory.mktemp("snmpsim")
    (root / "data").mkdir()
    (root / "cache").mkdir()
    (root / "data" / "ups-card.snmprec").write_text(UPS_SNMPREC)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    agent = SnmpAgent(port, "siaga", "auth-pass-123", "priv-pass-456")
    proc = subprocess.Popen(
        [str(exe), f"--data-dir={root / 'data'}", f"--cache-dir={root / 'cache'}",
         f"--agent-udpv4-endpoint=127.0.0.1:{port}", f"--v3-user={agent.v3_user}",
         f"--v3-auth-key={agent.v3_auth}", "--v3-auth-proto=SHA", f"--v3-priv-key={agent.v3_priv}",
         "--v3-priv-proto=AES", f"--logging-method=file:{root / 'snmpsim.log'}"],
        env={**os.environ, "SNMPSIM_ALLOW_ROOT": "true"},  # it would drop to a user who cannot read our venv
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    log = root / "snmpsim.log"
    while "Listening at" not in (log.read_text() if log.exists() else ""):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"snmpsim did not start: {log.read_text() if log.exists() else ''}")
        time.sleep(0.05)
    try:
        yield agent
    finally:
        proc.terminate()
        proc.wait(10)
