"""The query migration adds its indexes and views to new databases and to ones made before it."""

from __future__ import annotations

import sqlite3

from ingest.database import open_database
from query_helpers import QUERY_NAMES, ingest, make_entry, write_pages

QUERY_INDEXES = ["logs_day_usage", "logs_failed", "logs_hour_model", "logs_latency",
                 "logs_model_latency"]
# Indexes on logs from other migrations: m001's two and the dashboard's (m004).
OTHER_INDEXES = ["logs_model_day_latency", "logs_model_started_at", "logs_started_at"]


def schema_names(path, kind):
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "select name from sqlite_master where type = ? and tbl_name = 'logs' "
            "and name not like 'sqlite_%' order by name", (kind,)
        ).fetchall()
    return [name for (name,) in rows]


def test_new_database_has_indexes_and_views(tmp_path):
    path = tmp_path / "new.db"
    open_database(path).conn.close()
    assert schema_names(path, "index") == sorted([*OTHER_INDEXES, *QUERY_INDEXES])
    with sqlite3.connect(path) as conn:
        views = [name for (name,) in conn.execute(
            "select name from sqlite_master where type = 'view' order by name")]
    assert views == QUERY_NAMES


def test_older_database_is_upgraded(tmp_path):
    write_pages(tmp_path / "pages", [
        make_entry("claude-3-haiku-20240307", 3.75, "2024-10-09 05:45:00.125000+00:00",
                   error={"client_error": True, "code": 429, "detail": "Rate limited"}),
        make_entry("claude-3-haiku-20240307", 0.5, "2024-10-09 05:30:00.750000+00:00"),
    ])
    path = tmp_path / "old.db"
    ingest(path, tmp_path / "pages")
    # Turn it back into the schema before the query migration.
    with sqlite3.connect(path) as conn:
        for name in QUERY_NAMES:
            conn.execute(f"drop view [{name}]")
        for name in QUERY_INDEXES:
            conn.execute(f"drop index {name}")
        conn.execute("create index logs_error_code on logs (error_code, started_at) "
                     "where error_code is not null")
        conn.execute("delete from _sqlite_migrations where name = 'm002_query_indexes_and_views'")

    open_database(path).conn.close()

    assert schema_names(path, "index") == sorted([*OTHER_INDEXES, *QUERY_INDEXES])
    with sqlite3.connect(path) as conn:
        errors = conn.execute("select model, error_code from errors").fetchall()
        percentiles = conn.execute("select model, n, p50, p99 from latency_percentiles").fetchall()
    assert errors == [("claude-3-haiku-20240307", 429)]
    assert percentiles == [("claude-3-haiku-20240307", 2, 0.5, 3.75)]
