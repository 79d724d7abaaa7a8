"""A real mosquitto on a free loopback port, for the integration tests and the benchmarks.

It writes its own config (persistence on, the queue and inflight limits siaga needs) into a
scratch directory, and can be stopped and started again on the same port with the same state,
to show that a QoS 1 stream survives a broker restart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

# What siaga needs from the broker (docs/sensing-sources.md explains each).
SIAGA_BROKER_SETTINGS = {
    "max_queued_messages": "1000000",  # default 1000: a lagging or reconnecting subscriber loses the rest
    "max_queued_bytes": "0",
    "max_inflight_messages": "1000",  # default 20: QoS 1 throughput to one subscriber is bounded by it
    "persistent_client_expiration": "7d",
    "max_packet_size": "1048576",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Mosquitto:
    """A mosquitto process on ``127.0.0.1:port`` with persistence in ``workdir``."""

    def __init__(self, workdir: Path, port: int | None = None, *, binary: str = "mosquitto",
                 settings: dict[str, str] | None = None) -> None:
        self.workdir = Path(workdir)
        self.port = port or free_port()
        self.binary = shutil.which(binary) or binary
        self.settings = dict(SIAGA_BROKER_SETTINGS if settings is None else settings)
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "mosquitto.log"

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            "autosave_on_changes false",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "sys_interval 1",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to `mosquitto`, who cannot write our scratch dir
        lines += [f"{k} {v}" for k, v in self.settings.items()]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return conf

    def start(self, timeout: float = 10.0) -> None:
        conf = self.write_config()
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {err.strip()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"mosquitto did not listen on 127.0.0.1:{self.port} within {timeout}s")

    def stop(self) -> None:
        """Stop it the normal way (SIGTERM): mosquitto saves its persistence file on the way out."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
