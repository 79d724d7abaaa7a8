"""What the browser tests and their fixtures share (not in conftest.py: test modules import it)."""

from __future__ import annotations

import contextlib
import re
import socket
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "src" / "siaga" / "examples" / "bontang.yaml"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PASSWORD = "kata-sandi-uji-e2e"
ENV_REFS = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")



def free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Siaga:
    url: str
    config: Path
    broker_port: int | None
    push_token: str
