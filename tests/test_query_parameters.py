"""Time bounds accept the Console's own spelling, with a space in place of the T."""

from conftest import make_entry, write_page
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths
from ingest.queries import load_queries, run_query


def test_time_bound_with_space(tmp_path):
    entries = [
        make_entry(1, request_start_time="2024-10-09 05:30:00.000000+00:00"),
        make_entry(2, request_start_time="2024-10-09 06:10:00.000000+00:00"),
    ]
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(write_page(tmp_path / "p.json", entries))])
    queries = load_queries()
    for name in ("token_totals", "error_rates", "latency_percentiles"):
        with_t = run_query(db.conn, queries[name], {"since": "2024-10-09T05:45"})
        with_space = run_query(db.conn, queries[name], {"since": "2024-10-09 05:45"})
        assert with_space == with_t, name
    columns, rows = run_query(db.conn, queries["latency_percentiles"], {"since": "2024-10-09 05:45"})
    assert [row[columns.index("n")] for row in rows] == [1]
