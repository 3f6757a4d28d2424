"""Time every canned query on a generated database of a million entries.

Usage: .venv/bin/python bench/queries_check.py [--entries N] [--folder DIR] [--compare-ingest]

Generates synthetic Console pages (seeded, so runs are comparable), ingests them with the real
ingest loop, then times each query with empty parameters, best of three, through sqlite3 and
through an in-process Datasette. With --compare-ingest it also ingests the same pages into a
database without the canned-query indexes, to show what keeping them costs the ingest.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.database import open_database  # noqa: E402
from ingest.loader import ingest  # noqa: E402
from ingest.queries import load_queries, run_query  # noqa: E402

MODELS = ["claude-3-5-sonnet-20240620", "claude-3-haiku-20240307", "claude-3-opus-20240229",
          "claude-3-5-haiku-20241022", "claude-sonnet-4-20250514"]
ERRORS = [
    '{"client_error":false,"code":500,"detail":"Internal server error"}',
    '{"client_error":false,"code":529,"detail":"Overloaded"}',
    '{"client_error":true,"code":429,"detail":"Rate limited"}',
    '{"client_error":true,"code":499,"detail":"Client disconnected"}',
]
QUERY_INDEXES = ["logs_model_latency", "logs_latency", "logs_day_usage", "logs_hour_model",
                 "logs_failed"]


def generate(folder: Path, entries: int, per_page: int = 100, seed: int = 1) -> None:
    """Write `entries` distinct synthetic entries over 90 days as pages of `per_page`."""
    rng = random.Random(seed)
    first = datetime(2024, 7, 1, tzinfo=timezone.utc)
    folder.mkdir(parents=True, exist_ok=True)
    page = []
    for number in range(entries):
        model = rng.choice(MODELS)
        start = first + timedelta(microseconds=rng.randrange(90 * 86_400 * 10**6))
        page.append({
            "transport_type": "http",
            "model": model,
            "model_latency": None if rng.random() < 0.01 else rng.lognormvariate(0.5, 0.8),
            "prompt": None,
            "prompt_length": rng.randint(4, 40_000),
            "prompt_token_count": rng.randint(1, 10_000) if rng.random() > 0.02
            else rng.randint(1, 9),
            "completion_length": rng.randint(0, 16_000),
            "completion_token_count": rng.randint(0, 4_000),
            "response": None,
            "tags": "{}",
            "error": rng.choice(ERRORS) if rng.random() < 0.03 else "None",
            "request_start_time": str(start),
            "request": json.dumps({"max_tokens": 1024, "model": model, "stream": False,
                                   "metadata": {"user_id": f"user-{number}"}}),
            "workspace_id": rng.choice(["default", "wrkspc_01", "wrkspc_02"]),
            "api_key_uuid": rng.choice([None, "5f0c8d1e-0000-4000-8000-000000000001",
                                        "5f0c8d1e-0000-4000-8000-000000000002"]),
        })
        if len(page) == per_page:
            (folder / f"page-{number // per_page:06d}.json").write_text(json.dumps(page))
            page = []
    if page:
        (folder / "page-last.json").write_text(json.dumps(page))


def timed_ingest(db_path: Path, pages: Path, drop_query_indexes: bool = False) -> float:
    db = open_database(db_path)
    if drop_query_indexes:
        for index in QUERY_INDEXES:
            db.execute(f"DROP INDEX {index}")
    start = time.perf_counter()
    summary = ingest(db, [str(pages)])
    elapsed = time.perf_counter() - start
    print(f"  {summary.line()}", file=sys.stderr)
    db.conn.close()
    return elapsed


def time_sqlite(db_path: Path) -> dict[str, float]:
    conn = sqlite3.connect(db_path)
    times = {}
    for name, query in load_queries().items():
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            run_query(conn, query)
            runs.append(time.perf_counter() - start)
        times[name] = min(runs)
    conn.close()
    return times


def time_datasette(db_path: Path) -> dict[str, float]:
    from datasette.app import Datasette

    async def measure():
        datasette = Datasette([str(db_path)])
        times = {}
        for name in load_queries():
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                response = await datasette.client.get(f"/{db_path.stem}/{name}.json?_shape=array")
                runs.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {response.status_code}: {response.text[:300]}")
            times[name] = min(runs)
        return times

    return asyncio.run(measure())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="entries to generate (default: 1,000,000)")
    parser.add_argument("--folder", type=Path,
                        help="work folder, kept afterwards and reused (default: a temporary one)")
    parser.add_argument("--compare-ingest", action="store_true",
                        help="also time an ingest into a database without the query indexes")
    args = parser.parse_args()

    folder = args.folder or Path(tempfile.mkdtemp(prefix="queries-check-"))
    pages, db_path = folder / "pages", folder / "bench.db"
    if not pages.exists():
        start = time.perf_counter()
        generate(pages, args.entries)
        print(f"generated {args.entries:,} entries in {time.perf_counter() - start:.1f} s")
    if not db_path.exists():
        print(f"ingest with the query indexes: {timed_ingest(db_path, pages):.1f} s")
    if args.compare_ingest:
        bare = folder / "bare.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{bare}{suffix}").unlink(missing_ok=True)
        print(f"ingest without them: {timed_ingest(bare, pages, drop_query_indexes=True):.1f} s")

    through_sqlite = time_sqlite(db_path)
    through_datasette = time_datasette(db_path)
    print(f"{'query':24} {'sqlite3 (s)':>12} {'Datasette (s)':>14}")
    for name in through_sqlite:
        print(f"{name:24} {through_sqlite[name]:12.3f} {through_datasette[name]:14.3f}")
    if not args.folder:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
