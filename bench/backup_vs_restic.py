"""siaga-run backup against bare restic with the same flags, on a generated dataset of at least 1 GB.

Run by hand (never as a test):  python bench/backup_vs_restic.py [--dir /var/tmp/siaga-bench] [--gb 1.1]

The dataset: many small files, a few large ones and a database dump (plain SQL text). Both repositories are
local, on the same disk, with the same password; the dataset is read once beforehand so both runs see a warm
page cache. Measured (who goes first alternates; medians reported): the initial backup into fresh
repositories (2 rounds), then (5 rounds) the backup after 1 %
of the files changed, then (3 rounds) the same through the command line (``siaga backup run`` as a process, as cron
runs it: Python's start and imports included), then a restore drill of the siaga snapshot (its measured RTO) and
a bare ``restic restore`` of the same data. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from siaga.backup.manager import BackupManager
from siaga.backup.restic.binary import find_restic
from siaga.backup.restic.commands import backup_paths_command, job_tag
from siaga.backup.restic.execute import restic_env
from siaga.backup.restic.repository import Repository
from siaga.config import parse_config
from siaga.store import create_engine_for, sqlite_url, upgrade

SMALL_FILES = 20_000
LARGE_FILES = 4


def generate(root: Path, gb: float, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    data = root / "data"
    if (data / ".complete").exists():
        files = sum(1 for _ in data.rglob("*") if _.is_file()) - 1
        return {"files": files, "bytes": sum(p.stat().st_size for p in data.rglob("*") if p.is_file())}
    shutil.rmtree(data, ignore_errors=True)
    total = int(gb * 1e9)
    small_budget = int(total * 0.30)
    large_budget = int(total * 0.47)
    dump_budget = total - small_budget - large_budget
    written = 0
    avg = small_budget // SMALL_FILES
    for i in range(SMALL_FILES):
        folder = data / "www" / f"d{i // 500:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(avg // 4, avg * 7 // 4)
        (folder / f"f{i:05d}.bin").write_bytes(rng.randbytes(size))
        written += size
    (data / "big").mkdir(parents=True, exist_ok=True)
    for i in range(LARGE_FILES):
        with open(data / "big" / f"arsip{i}.bin", "wb") as fh:
            left = large_budget // LARGE_FILES
            while left > 0:
                chunk = min(left, 8 << 20)
                fh.write(rng.randbytes(chunk))
                left -= chunk
        written += large_budget // LARGE_FILES
    (data / "db").mkdir(parents=True, exist_ok=True)
    with open(data / "db" / "db-utama.sql", "w") as fh:
        fh.write("--\n-- PostgreSQL database dump\n--\n\nCOPY public.pegawai (id, nama, catatan) FROM stdin;\n")
        size, row = 0, 0
        while size < dump_budget:
            row += 1
            line = f"{row}\tPegawai {row}\t{rng.getrandbits(128):032x}{rng.getrandbits(128):032x}\n"
            fh.write(line)
            size += len(line)
        fh.write("\\.\n")
    written += dump_budget
    (data / ".complete").write_text("ok")
    return {"files": SMALL_FILES + LARGE_FILES + 1, "bytes": written}


def change_one_percent(root: Path, round_no: int) -> int:
    rng = random.Random(1000 + round_no)
    files = sorted((root / "data" / "www").rglob("*.bin"))
    chosen = rng.sample(files, max(1, len(files) // 100))
    for path in chosen:
        path.write_bytes(rng.randbytes(path.stat().st_size))
    return len(chosen)


def warm(root: Path) -> None:
    for path in (root / "data").rglob("*"):
        if path.is_file():
            with open(path, "rb") as fh:
                while fh.read(8 << 20):
                    pass


def bare_backup(restic_path: str, repo: Repository, data: Path, password_file: str) -> dict[str, float]:
    restic = find_restic(restic_path)
    args = backup_paths_command(restic, repo, [str(data)], tags=[job_tag("bench"), "siaga-run=bare"])
    # The environment siaga gives restic (execute.restic_env), so both runs are alike.
    env = restic_env(password_file)
    begin = time.monotonic()
    done = subprocess.run(args, env=env, capture_output=True, check=True)
    took = time.monotonic() - begin
    summary = [json.loads(line) for line in done.stdout.splitlines() if b'"summary"' in line][-1]
    return {"seconds": took, "bytes_added": summary["data_added"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", default="/var/tmp/siaga-bench")
    parser.add_argument("--gb", type=float, default=1.1)
    parser.add_argument("--rounds", type=int, default=5, help="rounds after a 1 %% change")
    parser.add_argument("--initial-rounds", type=int, default=2, help="initial backups (fresh repositories)")
    parser.add_argument("--cli-rounds", type=int, default=3, help="rounds of `siaga backup run` as a process")
    parser.add_argument("--keep", action="store_true", help="keep the dataset for another run")
    opts = parser.parse_args()
    root = Path(opts.dir)
    root.mkdir(parents=True, exist_ok=True)
    restic = find_restic()
    gen_begin = time.monotonic()
    dataset = generate(root, opts.gb)
    gen_s = time.monotonic() - gen_begin
    shutil.rmtree(root / "drill", ignore_errors=True)
    shutil.rmtree(root / "bare-restore", ignore_errors=True)
    (root / "pw").write_text("bench password\n")
    password = str(root / "pw")
    env = {**os.environ, "RESTIC_PASSWORD_FILE": password}
    bare_repo = Repository(id="bare", location=str(root / "repo-restic"), password_file=password)
    doc = {
        "site": {"name": "bench"},
        "targets": [
            {
                "id": "colo",
                "type": "local",
                "path": str(root / "repo-siaga"),
                "password_file": password,
                "offsite": True,
            }
        ],
        "backups": [
            {
                "id": "bench",
                "target": "colo",
                "paths": [str(root / "data")],
                "drill": {"scratch_dir": str(root / "drill")},
            }
        ],
    }
    config = parse_config(yaml.safe_dump(doc))
    cli_config = root / "siaga.yaml"
    cli_config.write_text(yaml.safe_dump({**doc, "store": {"database_url": sqlite_url(root / "siaga.db")}}))
    src = str(Path(__file__).resolve().parents[1] / "src")
    cli_env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}

    def fresh() -> BackupManager:
        for name in ("repo-restic", "repo-siaga"):
            shutil.rmtree(root / name, ignore_errors=True)
            subprocess.run([restic.path, "-r", str(root / name), "init"], env=env, capture_output=True, check=True)
        db = root / "siaga.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        engine = create_engine_for(sqlite_url(db))
        upgrade(engine)
        return BackupManager(config, engine=engine, base_dir=root, restic=restic)

    def siaga_backup(mgr: BackupManager) -> dict[str, float]:
        begin = time.monotonic()
        result = asyncio.run(mgr.run_job("bench"))
        took = time.monotonic() - begin
        if not result.ok:
            raise SystemExit(f"siaga backup failed: {result.error}")
        return {"seconds": took, "bytes_added": float(result.bytes_added or 0)}

    warm(root)
    initial = []
    for i in range(opts.initial_rounds):  # fresh repositories each round; who goes first alternates
        mgr = fresh()
        if i % 2 == 0:
            r = bare_backup(restic.path, bare_repo, root / "data", password)
            s = siaga_backup(mgr)
        else:
            s = siaga_backup(mgr)
            r = bare_backup(restic.path, bare_repo, root / "data", password)
        initial.append(
            {
                "restic_s": round(r["seconds"], 2),
                "siaga_s": round(s["seconds"], 2),
                "ratio": round(s["seconds"] / r["seconds"], 3),
            }
        )
    rounds = []
    for i in range(opts.rounds):
        changed = change_one_percent(root, i)
        if i % 2 == 0:
            r = bare_backup(restic.path, bare_repo, root / "data", password)
            s = siaga_backup(mgr)
        else:
            s = siaga_backup(mgr)
            r = bare_backup(restic.path, bare_repo, root / "data", password)
        rounds.append(
            {
                "changed_files": changed,
                "restic_s": round(r["seconds"], 3),
                "siaga_s": round(s["seconds"], 3),
                "ratio": round(s["seconds"] / r["seconds"], 3),
            }
        )

    def siaga_cli() -> dict[str, float]:
        begin = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "siaga", "backup", "run", "bench", "-c", str(cli_config)],
            env=cli_env,
            capture_output=True,
            check=True,
        )
        return {"seconds": time.monotonic() - begin}

    cli_rounds = []
    for i in range(opts.cli_rounds):
        changed = change_one_percent(root, opts.rounds + i)
        if i % 2 == 0:
            r = bare_backup(restic.path, bare_repo, root / "data", password)
            c = siaga_cli()
        else:
            c = siaga_cli()
            r = bare_backup(restic.path, bare_repo, root / "data", password)
        cli_rounds.append(
            {
                "changed_files": changed,
                "restic_s": round(r["seconds"], 3),
                "siaga_cli_s": round(c["seconds"], 3),
                "ratio": round(c["seconds"] / r["seconds"], 3),
            }
        )

    drill = asyncio.run(mgr.drill("bench"))
    begin = time.monotonic()
    subprocess.run(
        [restic.path, "-r", str(root / "repo-restic"), "restore", "latest", "--target", str(root / "bare-restore")],
        env=env,
        capture_output=True,
        check=True,
    )
    bare_restore_s = time.monotonic() - begin
    shutil.rmtree(root / "bare-restore", ignore_errors=True)

    inc_restic = statistics.median(r["restic_s"] for r in rounds)
    inc_siaga = statistics.median(r["siaga_s"] for r in rounds)
    init_restic = statistics.median(r["restic_s"] for r in initial)
    init_siaga = statistics.median(r["siaga_s"] for r in initial)
    out = {
        "restic_version": restic.version_text,
        "dataset": {**dataset, "gb": round(dataset["bytes"] / 1e9, 3), "generate_s": round(gen_s, 1)},
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0],
        "initial": {
            "rounds": initial,
            "restic_median_s": init_restic,
            "siaga_median_s": init_siaga,
            "median_ratio": round(statistics.median(r["ratio"] for r in initial), 3),
            "restic_mb_s": round(dataset["bytes"] / 1e6 / init_restic, 1),
            "siaga_mb_s": round(dataset["bytes"] / 1e6 / init_siaga, 1),
        },
        "after_1pct_change": {
            "rounds": rounds,
            "restic_median_s": inc_restic,
            "siaga_median_s": inc_siaga,
            "median_ratio": round(statistics.median(r["ratio"] for r in rounds), 3),
        },
        "cli_after_1pct_change": {
            "rounds": cli_rounds,
            "median_ratio": round(statistics.median(r["ratio"] for r in cli_rounds), 3) if cli_rounds else None,
        },
        "target_ratio": 1.05,
        "drill": {
            "ok": drill.ok,
            "files_verified": drill.checked,
            "rto_s": round(drill.rto_s or 0, 2),
            "restore_s": round(drill.restore_s or 0, 2),
            "verify_s": round(drill.verify_s or 0, 2),
            "restore_mb_s": round(drill.bytes_restored / 1e6 / (drill.restore_s or 1), 1),
            "bare_restic_restore_s": round(bare_restore_s, 2),
            "problems": drill.problems[:5],
        },
    }
    for name in ("repo-restic", "repo-siaga", "drill"):
        shutil.rmtree(root / name, ignore_errors=True)
    if not opts.keep:
        shutil.rmtree(root / "data", ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
