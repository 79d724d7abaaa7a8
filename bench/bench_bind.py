"""BIND 9 for the benchmarks: the authoritative server of a test zone on a loopback port, taking RFC 2136 updates
signed with a TSIG key (hmac-sha256), as the runbook tests start it (tests/integration/runbooks/conftest.py).
A context manager; the server is stopped on exit."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NAMED = shutil.which("named") or "/usr/sbin/named"
KEY_NAME = "siaga-failover"


@dataclass(frozen=True)
class Bind:
    port: int
    zone: str
    key_name: str
    secret_file: str


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def authoritative(root: Path, zone: str, records: str) -> Iterator[Bind]:
    """Start ``named`` serving ``zone`` (``records``: zone-file lines after the SOA and NS, e.g.
    ``"portal 300 IN A 10.0.0.10\\n"``) from ``root`` (created); updates allowed with the key in the Bind's
    secret_file."""
    if not os.path.exists(NAMED):
        raise SystemExit("no BIND 9 (apt-get install bind9)")
    root.mkdir(parents=True)
    secret = base64.b64encode(os.urandom(32)).decode()
    (root / "tsig.key").write_text(secret + "\n")
    port = _port()
    (root / "zone.db").write_text(
        f"$TTL 300\n@ IN SOA ns.{zone} admin.{zone} 1 3600 600 86400 60\n@ IN NS ns.{zone}\n"
        f"ns IN A 127.0.0.1\n{records}"
    )
    (root / "named.conf").write_text(
        f'options {{ directory "{root}"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n'
        f'  pid-file "{root}/named.pid"; recursion no; dnssec-validation no; }};\n'
        "controls { };\n"
        f'key "{KEY_NAME}" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
        f'zone "{zone}" {{ type primary; file "{root}/zone.db"; allow-update {{ key "{KEY_NAME}"; }}; }};\n'
    )
    log = (root / "named.log").open("wb")
    proc = subprocess.Popen([NAMED, "-g", "-4", "-c", str(root / "named.conf"), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"named did not start: see {root / 'named.log'}") from None
                time.sleep(0.05)
        yield Bind(port, zone, KEY_NAME, str(root / "tsig.key"))
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
