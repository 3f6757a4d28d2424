"""Measure what the dashboard's latency index adds to `claude-logs ingest`.

    .venv/bin/python bench/dashboard_ingest_cost.py [--entries 300000] [--rounds 2]

Writes synthetic pages of 100 entries under bench/data/ingest-cost-pages/ (git-ignored), then
runs the real `claude-logs ingest` alternating between a database without the
logs_model_day_latency index and one with it. The rollup refresh runs in both. Two cases: all
pages into a new database (where a large run drops the indexes and builds them at its end),
and the last tenth of the pages into a database that contains the rest (where the run keeps the
indexes and updates them row by row). The CPU time
(user + system) of the ingest process is reported besides the wall time, because other work on
a shared machine moves wall times far more than CPU times.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dashboard_queries import make_entry  # noqa: E402

from ingest.database import open_database  # noqa: E402

BIN = Path(sys.executable).parent


def write_pages(folder: Path, entries: int) -> None:
    if folder.exists() and len(list(folder.glob("*.json"))) == entries // 100:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    rng = random.Random(2)
    start = datetime(2024, 7, 1, tzinfo=timezone.utc)
    page = []
    for number in range(entries):
        page.append(make_entry(rng, start + timedelta(seconds=rng.uniform(0, 90 * 86400))))
        if len(page) == 100:
            (folder / f"page-{number // 100:06d}.json").write_text(json.dumps(page))
            page = []


def remove(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def ingest(db: Path, pages: list[Path], with_index: bool,
           prefill: list[Path] = ()) -> tuple[float, float]:
    """Return (CPU seconds, wall seconds) of one `claude-logs ingest` of pages into a new
    database that first receives the prefill pages, untimed."""
    remove(db)
    database = open_database(db)
    if not with_index:
        database.execute("DROP INDEX logs_model_day_latency")
    database.conn.close()
    if prefill:
        subprocess.run([str(BIN / "claude-logs"), "ingest", "--silent", str(db), *map(str, prefill)],
                       check=True, capture_output=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    subprocess.run([str(BIN / "claude-logs"), "ingest", "--silent", str(db), *map(str, pages)],
                   check=True, capture_output=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    remove(db)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    data = ROOT / "bench" / "data"
    pages = data / "ingest-cost-pages"
    write_pages(pages, args.entries)

    files = sorted(pages.glob("*.json"))
    split = len(files) * 9 // 10
    cases = [("all into a new database", files, []),
             (f"last {len(files) - split:,} pages into one containing the rest", files[split:],
              files[:split])]
    print(f"{args.entries:,} entries in {len(files):,} pages\n")
    print("| case | round | logs_model_day_latency | CPU (s) | wall (s) |")
    print("|---|---:|---|---:|---:|")
    for label, timed, prefill in cases:
        for round_number in range(1, args.rounds + 1):
            for with_index in (False, True):
                cpu, wall = ingest(data / "ingest-cost.db", timed, with_index, prefill)
                print(f"| {label} | {round_number} | {'with' if with_index else 'without'} "
                      f"| {cpu:.1f} | {wall:.1f} |")


if __name__ == "__main__":
    main()
