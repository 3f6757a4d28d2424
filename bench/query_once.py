"""Run one SQL query against a database and print how long it took, in seconds.

Used by bench/run.py in a fresh process per run, so that the process's peak RSS belongs to
this query alone. `sqlite3` times execute and fetchall through the standard library.
`datasette` times a GET of the query's JSON through Datasette's in-process client. That
request takes Datasette's own query path and time limit, without opening a socket.

Usage: python bench/query_once.py sqlite3|datasette DB SQL_FILE PARAMS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlencode


def time_sqlite3(db_path: str, sql: str, params: dict) -> tuple[float, int]:
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    start = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - start, len(rows)


def time_datasette(db_path: str, sql: str, params: dict) -> tuple[float, int]:
    from datasette.app import Datasette

    datasette = Datasette([db_path], immutables=[])
    name = Path(db_path).stem
    query = urlencode({"sql": sql, "_shape": "array", "_size": "max", **params})

    async def fetch():
        await datasette.invoke_startup()
        # A first request warms Datasette's own start-up work, which is not the query's cost.
        await datasette.client.get(f"/{name}.json?sql=select+1")
        start = time.perf_counter()
        response = await datasette.client.get(f"/{name}.json?{query}")
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            raise SystemExit(f"Datasette returned {response.status_code}: {response.text[:300]}")
        return elapsed, len(response.json())

    return asyncio.run(fetch())


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] not in ("sqlite3", "datasette"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    client, db_path, sql_file, params_json = argv
    sql = Path(sql_file).read_text(encoding="utf-8")
    params = json.loads(params_json)
    timer = time_sqlite3 if client == "sqlite3" else time_datasette
    elapsed, rows = timer(db_path, sql, params)
    print(json.dumps({"seconds": elapsed, "rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
