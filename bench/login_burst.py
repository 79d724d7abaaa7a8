"""A burst of parallel wrong logins against a real uvicorn server, with /healthz probed meanwhile.

Prints JSON: how many passwords argon2 checked (at its production cost), how many answers were 401 and
429, and the /healthz answer times during the burst (max, p50) next to the same probes without a burst.
Target: checked == the throttle's free attempts (3), plus one per wait the burst outlasts (the 1 s, 2 s...
waits run out while a slow machine is still sending); /healthz not held up by the password checks.
Before the fix (2 cores, busy machine): 40 checked, 0 x 429, /healthz stalled 8.7-13.4 s. After (counts
in the store, its own thread; passwords on two threads of their own), 8 runs on the same busy machine:
3-5 checked (5 when the burst took 6.5 s), /healthz at most 0.45-1.96 s (argon2's own 4 lanes per check
compete for the 2 cores while it works).

    PYTHONPATH=src .venv/bin/python bench/login_burst.py [--logins 40]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from argon2 import PasswordHasher  # noqa: E402

from siaga.config import load_config  # noqa: E402
from siaga.runtime import RuntimeContext  # noqa: E402
from siaga.store import create_engine_for, sqlite_url, upgrade  # noqa: E402
from siaga.store.types import utcnow  # noqa: E402
from siaga.web.app import create_app  # noqa: E402
from siaga.web.auth import accounts, passwords  # noqa: E402

EXAMPLE = ROOT / "src" / "siaga" / "examples" / "bontang.yaml"


class CountingHasher(PasswordHasher):
    """argon2id at the library's default cost (as in production), counting verifications."""

    verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        CountingHasher.verified += 1
        return super().verify(hash, password)


async def probe(client: httpx.AsyncClient, stop: asyncio.Event, times: list[float]) -> None:
    while not stop.is_set():
        t0 = time.perf_counter()
        assert (await client.get("/healthz")).status_code == 200
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)


async def burst(base: str, logins: int) -> dict[str, object]:
    async with httpx.AsyncClient(base_url=base, timeout=60) as c:
        quiet: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe(c, stop, quiet))
        await asyncio.sleep(1.0)
        stop.set()
        await task
        page = await c.get("/login")
        m = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert m is not None
        form = {"username": "admin", "password": "wrong-password!", "csrf_token": m.group(1), "next": "/"}
        during: list[float] = []
        stop = asyncio.Event()
        task = asyncio.create_task(probe(c, stop, during))
        t0 = time.perf_counter()
        answers = await asyncio.gather(*(c.post("/login", data=form) for _ in range(logins)))
        took = time.perf_counter() - t0
        stop.set()
        await task
    codes = [a.status_code for a in answers]
    return {
        "logins": logins, "checked": CountingHasher.verified, "answered_401": codes.count(401),
        "answered_429": codes.count(429), "burst_s": round(took, 3),
        "healthz_quiet_p50_ms": round(statistics.median(quiet) * 1000, 1),
        "healthz_during_p50_ms": round(statistics.median(during) * 1000, 1),
        "healthz_during_max_ms": round(max(during) * 1000, 1), "healthz_probes_during": len(during),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--logins", type=int, default=40)
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="siaga-login-burst-"))
    try:
        shutil.copy(EXAMPLE, folder / "siaga.yaml")
        loaded = load_config(folder / "siaga.yaml")
        engine = create_engine_for(sqlite_url(folder / "siaga.db"))
        upgrade(engine)
        passwords.set_hasher(CountingHasher())
        with engine.begin() as conn:
            accounts.add_user(conn, "admin", "correct-horse-battery", "admin", utcnow())
        ctx = RuntimeContext(loaded=loaded, engine=engine)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(ctx), log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        result = asyncio.run(burst(f"http://127.0.0.1:{port}", args.logins))
        server.should_exit = True
        thread.join(10)
        print(json.dumps(result))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
