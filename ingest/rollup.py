"""The `logs_daily` rollup: requests, latencies counted and tokens per day, model, workspace and
status code, which the dashboard's counting charts read instead of a million rows.

The rollup is brought up to date in batches: `refresh_rollup` adds the entries whose rowid is
above the one it stopped at last time. `claude-logs ingest` calls it at the end of every run.
Row triggers kept it current too, but added about 55% to the CPU time of inserting entries with
the query indexes in place, while one GROUP BY over a million new rows took 2.2 s
(docs/benchmarks.md, "Dashboard queries on one million entries").

Entries are only ever inserted (INSERT OR IGNORE), and SQLite gives a new row the largest rowid
plus one (until that largest is 2**63 - 1), so the high-water mark adds each entry exactly once. A deleted or updated entry is not
taken back out of the rollup.
"""

from __future__ import annotations

import sqlite3

# error_code is 0 for a request without error and -1 for a failed one without a status code
# (error_detail only). A missing day, model or workspace is stored as '', because NULLs never
# conflict in a primary key and the upsert would add a row for each of them.
_KEY = (
    "coalesce(substr(started_at, 1, 10), ''), coalesce(model, ''), coalesce(workspace_id, ''), "
    "coalesce(error_code, CASE WHEN error_detail IS NULL THEN 0 ELSE -1 END)"
)

CREATE_SQL = [
    """
    CREATE TABLE logs_daily (
        day TEXT NOT NULL,
        model TEXT NOT NULL,
        workspace_id TEXT NOT NULL,
        error_code INTEGER NOT NULL,
        requests INTEGER NOT NULL,
        latency_n INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        PRIMARY KEY (day, model, workspace_id, error_code)
    )
    """,
    # One row: the largest logs rowid that the rollup contains.
    "CREATE TABLE logs_daily_position (last_rowid INTEGER NOT NULL)",
    "INSERT INTO logs_daily_position VALUES (0)",
]

# The WHERE clause also keeps the parser from taking ON CONFLICT for a join constraint.
_ADD_SQL = f"""
INSERT INTO logs_daily (day, model, workspace_id, error_code, requests, latency_n,
                        prompt_tokens, completion_tokens)
SELECT {_KEY}, count(*), count(model_latency), coalesce(sum(prompt_token_count), 0),
       coalesce(sum(completion_token_count), 0)
FROM logs
WHERE rowid > :last AND rowid <= :newest
GROUP BY 1, 2, 3, 4
ON CONFLICT DO UPDATE SET
    requests = requests + excluded.requests,
    latency_n = latency_n + excluded.latency_n,
    prompt_tokens = prompt_tokens + excluded.prompt_tokens,
    completion_tokens = completion_tokens + excluded.completion_tokens
"""


def pending_entries(conn: sqlite3.Connection) -> int | None:
    """Return how many entries the rollup does not contain yet, or None if it does not exist."""
    try:
        last = conn.execute("SELECT last_rowid FROM logs_daily_position").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    return conn.execute("SELECT count(*) FROM logs WHERE rowid > ?", (last,)).fetchone()[0]


def add_new_entries(conn: sqlite3.Connection) -> int:
    """Add the entries above the high-water mark to logs_daily and move the mark; return how
    many. Runs in the caller's transaction."""
    last = conn.execute("SELECT last_rowid FROM logs_daily_position").fetchone()[0]
    newest = conn.execute("SELECT max(rowid) FROM logs").fetchone()[0] or 0
    if newest <= last:
        return 0
    added = conn.execute("SELECT count(*) FROM logs WHERE rowid > ? AND rowid <= ?",
                         (last, newest)).fetchone()[0]
    conn.execute(_ADD_SQL, {"last": last, "newest": newest})
    conn.execute("UPDATE logs_daily_position SET last_rowid = ?", (newest,))
    return added


def refresh_rollup(conn: sqlite3.Connection) -> int:
    """Add the entries inserted since the last refresh to logs_daily; return how many.

    Takes the write lock first (BEGIN IMMEDIATE), so two refreshes cannot add the same entries.
    The connection must not be inside a transaction.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        added = add_new_entries(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return added
