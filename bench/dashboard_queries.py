"""Time every query of the Datasette dashboard on a synthetic database of many entries.

    .venv/bin/python bench/dashboard_queries.py [--entries 1000000] [--days 90] [--plans]

The database is built once under bench/data/ (git-ignored) through the same INSERT OR IGNORE
as an ingest and a rollup refresh, then reused while its entry count matches. Each query runs as
datasette-dashboards sends it, with its [[ ... ]] filter blocks resolved, five times straight
through sqlite3 and five times through Datasette's in-process client, with Datasette's default
1 s time limit in force. The table shows the median and the slowest run of each five.

--compare-ingest first times the insert into a database without the rollup and the latency
index, then rebuilds the benchmark database with them, to show what they cost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasette_dashboards import replace_opts_in_query  # noqa: E402
from sqlite_utils import Database  # noqa: E402

from ingest import dashboard, report  # noqa: E402
from ingest.canonical import canonical_json, content_hash  # noqa: E402
from ingest.database import migrations, open_database  # noqa: E402
from ingest.rollup import refresh_rollup  # noqa: E402
from ingest.rows import BASE_COLUMNS, base_row  # noqa: E402

MODELS = {
    "claude-3-5-sonnet-20240620": 2.2,
    "claude-3-5-haiku-20241022": 0.9,
    "claude-3-opus-20240229": 5.5,
    "claude-sonnet-4-20250514": 3.1,
}
WORKSPACES = ["default", *(f"wrkspc_01BENCHWORKSPACE{n:08d}" for n in range(1, 6))]
ERRORS = [(400, True, "Invalid request"), (429, True, "Rate limited"),
          (500, False, "Internal server error"), (529, False, "Overloaded")]


def make_entry(rng: random.Random, moment: datetime) -> dict:
    model = rng.choice(list(MODELS))
    error = "None"
    if rng.random() < 0.05:
        code, client_error, detail = rng.choice(ERRORS)
        error = json.dumps({"client_error": client_error, "code": code, "detail": detail})
    prompt_tokens = rng.randint(1, 4000)
    completion_tokens = rng.randint(1, 1200)
    return {
        "transport_type": "http",
        "model": model,
        "model_latency": None if rng.random() < 0.01 else rng.lognormvariate(0, 0.6) * MODELS[model],
        "prompt": None,
        "prompt_length": prompt_tokens * 4,
        "prompt_token_count": prompt_tokens,
        "completion_length": completion_tokens * 4,
        "completion_token_count": completion_tokens,
        "response": None,
        "tags": "{}",
        "error": error,
        "request_start_time": str(moment),
        "request": json.dumps({"max_tokens": 1024, "model": model, "temperature": 0.7}),
        "workspace_id": rng.choice(WORKSPACES),
        "api_key_uuid": f"00000000-0000-4000-8000-{rng.randint(1, 20):012d}",
    }


def build(path: Path, entries: int, days: int, seed: int = 1,
          rollup: bool = True) -> tuple[float, float]:
    """Write `entries` synthetic entries spread over `days` days, then refresh the rollup as
    `claude-logs ingest` does; return the seconds of the insert and of the refresh.

    With rollup False the migration that adds the rollup and the latency index is left out,
    to measure what they cost.
    """
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    if rollup:
        db = open_database(path)
    else:
        db = Database(path)
        db.enable_wal()
        migrations.apply(db, stop_before=ROLLUP_MIGRATION)
    rng = random.Random(seed)
    start = datetime(2024, 7, 1, tzinfo=timezone.utc)
    sql = "INSERT OR IGNORE INTO logs ({}) VALUES ({})".format(
        ", ".join(BASE_COLUMNS), ", ".join("?" * len(BASE_COLUMNS)))
    began = time.perf_counter()
    batch = 50_000
    for offset in range(0, entries, batch):
        rows = []
        for _ in range(min(batch, entries - offset)):
            moment = start + timedelta(seconds=rng.uniform(0, days * 86400))
            entry = make_entry(rng, moment)
            canonical = canonical_json(entry)
            rows.append(base_row(entry, canonical, content_hash(canonical)))
        db.execute("BEGIN IMMEDIATE")
        db.conn.executemany(sql, rows)
        db.execute("COMMIT")
    inserted = time.perf_counter() - began
    began = time.perf_counter()
    if rollup:
        refresh_rollup(db.conn)
    refreshed = time.perf_counter() - began
    db.execute("ANALYZE")
    db.conn.close()
    return inserted, refreshed


ROLLUP_MIGRATION = next(migration.name for migration in migrations.pending(Database(memory=True))
                        if migration.name.endswith("_daily_rollup"))


def cases(database: sqlite3.Connection) -> list[tuple[str, dict]]:
    last_day = database.execute("SELECT max(day) FROM logs_daily").fetchone()[0]
    week_ago = (datetime.fromisoformat(last_day) - timedelta(days=6)).date().isoformat()
    return [
        ("no filter", {}),
        ("last 7 days", {"since": week_ago, "until": last_day}),
        ("one model", {"model": "claude-3-5-haiku-20241022"}),
        ("one workspace", {"workspace": WORKSPACES[1]}),
        ("all four filters", {"since": week_ago, "until": last_day,
                              "model": "claude-3-5-haiku-20241022", "workspace": WORKSPACES[1]}),
    ]


def queries() -> dict[str, str]:
    config = dashboard.dashboard_config("logs")
    named = {f"chart {slug}": chart["query"] for slug, chart in config["charts"].items()}
    for key, spec in config["filters"].items():
        if "query" in spec:
            named[f"filter {key} options"] = spec["query"]
    return named


RUNS = 5


def time_query(database: sqlite3.Connection, sql: str, options: dict) -> tuple[list[float], int]:
    """Return the seconds of each run and the number of rows."""
    resolved = replace_opts_in_query(sql, options)
    runs = []
    rows = 0
    for _ in range(RUNS):
        began = time.perf_counter()
        rows = len(database.execute(resolved, options).fetchall())
        runs.append(time.perf_counter() - began)
    return runs, rows


def time_in_datasette(path: Path, sql: str, options: dict) -> list[float]:
    """Return the seconds of each request for the chart's JSON, as dashboards.js sends it."""
    from urllib.parse import urlencode

    from datasette.app import Datasette

    datasette = Datasette([str(path)])
    query = urlencode({"sql": replace_opts_in_query(sql, options), **options,
                       "_shape": "objects"})

    async def fetch() -> list[float]:
        runs = []
        for _ in range(RUNS):
            began = time.perf_counter()
            response = await datasette.client.get(f"/{path.stem}.json?{query}")
            runs.append(time.perf_counter() - began)
            if response.status_code != 200:
                raise RuntimeError(f"Datasette returned {response.status_code}: {response.text}")
        return runs

    return asyncio.run(fetch())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--db", type=Path, default=ROOT / "bench" / "data" / "dashboard.db")
    parser.add_argument("--plans", action="store_true", help="Print EXPLAIN QUERY PLAN too.")
    parser.add_argument("--compare-ingest", action="store_true",
                        help="Also time the insert without the rollup and the latency index.")
    args = parser.parse_args()

    if args.compare_ingest:
        plain = args.db.with_name("dashboard-without-rollup.db")
        seconds, _ = build(plain, args.entries, args.days, rollup=False)
        print(f"Insert without the latency index: {seconds:.1f} s")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{plain}{suffix}").unlink(missing_ok=True)
        args.db.unlink(missing_ok=True)

    database = None
    if args.db.exists():
        database = sqlite3.connect(args.db)
        if database.execute("SELECT count(*) FROM logs").fetchone()[0] != args.entries:
            database.close()
            database = None
    if database is None:
        seconds, refreshed = build(args.db, args.entries, args.days)
        print(f"Insert with the latency index: {seconds:.1f} s; rollup refresh: {refreshed:.1f} s")
        database = sqlite3.connect(args.db)

    print(f"{args.entries:,} entries over {args.days} days; SQLite {sqlite3.sqlite_version}, "
          f"Python {platform.python_version()}, {platform.machine()}; "
          f"{datetime.now(timezone.utc):%Y-%m-%d}\n")
    print("| query | filters | rows | sqlite3 median (s) | sqlite3 max (s) "
          "| Datasette median (s) | Datasette max (s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    slowest = 0.0
    for name, sql in queries().items():
        for label, options in cases(database):
            direct, rows = time_query(database, sql, options)
            served = time_in_datasette(args.db, sql, options)
            slowest = max(slowest, *direct, *served)
            print(f"| {name} | {label} | {rows:,} | {statistics.median(direct):.3f} "
                  f"| {max(direct):.3f} | {statistics.median(served):.3f} | {max(served):.3f} |")
            if args.plans:
                resolved = replace_opts_in_query(sql, options)
                for row in database.execute("EXPLAIN QUERY PLAN " + resolved, options):
                    print(f"|   | plan: {row[3]} | | | | | |")
    print(f"\nSlowest: {slowest:.3f} s\n")

    print("| report | seconds |")
    print("|---|---:|")
    for label, since in (("last 7 days and the 7 before", None),
                         ("last 45 days and the 45 before", "2024-08-15")):
        began = time.perf_counter()
        report.render_html(report.build_report(database, "dashboard.db", since))
        print(f"| {label} | {time.perf_counter() - began:.2f} |")


if __name__ == "__main__":
    main()
