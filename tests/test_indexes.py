"""A large ingest drops the query indexes while it writes and builds them again at its end."""

import pytest

import ingest.indexes
from conftest import make_entry, write_page
from ingest.database import open_database
from ingest.indexes import NAMED_INDEXES, defer_indexes
from ingest.loader import ingest as ingest_paths
from ingest.queries import load_queries, run_query


def index_sql(db):
    return sorted(db.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs' "
        "AND sql IS NOT NULL"
    ).fetchall())


@pytest.fixture
def fresh_indexes(tmp_path):
    db = open_database(tmp_path / "fresh.db")
    indexes = index_sql(db)
    db.close()
    assert len(indexes) >= 3
    return indexes


def write_pages(folder, count):
    for number in range(count):
        write_page(folder / f"p{number}.json", [make_entry(number * 10 + i) for i in range(10)])


def kept_indexes(db):
    """The indexes that a deferral leaves in place: partial ones and those SQL names."""
    partial = {row[1] for row in db.execute("PRAGMA index_list(logs)") if row[4]}
    return sorted(partial | (NAMED_INDEXES & {name for name, _ in index_sql(db)}))


def indexes_during_run(db, folder):
    seen = []
    ingest_paths(db, [str(folder)], on_progress=lambda size: seen.append(len(index_sql(db))))
    return seen


def test_large_run_defers_indexes(tmp_path, monkeypatch, fresh_indexes):
    monkeypatch.setattr(ingest.indexes, "MIN_DEFERRED_ENTRIES", 5)
    monkeypatch.setattr(ingest.indexes, "BYTES_PER_ENTRY", 100)
    write_pages(tmp_path / "logs", 3)
    db = open_database(tmp_path / "logs.db")

    kept = len(kept_indexes(db))
    assert kept == 2
    assert indexes_during_run(db, tmp_path / "logs") == [kept, kept, kept]
    assert index_sql(db) == fresh_indexes
    assert db.execute("SELECT count(*) FROM deferred_indexes").fetchall() == [(0,)]
    assert db.execute("SELECT count(*) FROM logs").fetchall() == [(30,)]
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]


def test_small_run_keeps_indexes(tmp_path, fresh_indexes):
    write_pages(tmp_path / "logs", 3)
    db = open_database(tmp_path / "logs.db")
    assert indexes_during_run(db, tmp_path / "logs") == [len(fresh_indexes)] * 3
    assert index_sql(db) == fresh_indexes


def test_run_into_larger_table_keeps_indexes(tmp_path, monkeypatch, fresh_indexes):
    monkeypatch.setattr(ingest.indexes, "MIN_DEFERRED_ENTRIES", 5)
    monkeypatch.setattr(ingest.indexes, "BYTES_PER_ENTRY", 100)
    write_pages(tmp_path / "first", 30)
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(tmp_path / "first")])
    write_pages(tmp_path / "second", 1)
    assert indexes_during_run(db, tmp_path / "second") == [len(fresh_indexes)]


def test_next_run_restores_deferred_indexes(tmp_path, fresh_indexes):
    db = open_database(tmp_path / "logs.db")
    db.execute("BEGIN IMMEDIATE")
    # As a run killed after deferring them leaves the database.
    kept = kept_indexes(db)
    assert defer_indexes(db.conn) == len(fresh_indexes) - len(kept)
    db.execute("COMMIT")
    assert [name for name, _ in index_sql(db)] == kept

    ingest_paths(db, [str(write_page(tmp_path / "p.json", [make_entry(1)]))])
    assert index_sql(db) == fresh_indexes
    assert db.execute("SELECT count(*) FROM deferred_indexes").fetchall() == [(0,)]


def test_queries_run_while_deferred(tmp_path):
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(write_page(tmp_path / "p.json", [
        make_entry(1), make_entry(2, error='{"client_error":false,"code":529,"detail":"Overloaded"}'),
    ]))])
    db.execute("BEGIN IMMEDIATE")
    defer_indexes(db.conn)
    db.execute("COMMIT")
    for query in load_queries().values():
        columns, rows = run_query(db.conn, query, {})
        assert columns, query.name
    columns, rows = run_query(db.conn, load_queries()["errors_by_code"], {})
    assert [row[columns.index("count")] for row in rows] == [1]


def test_indexes_named_in_sql_never_deferred(tmp_path):
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent
    sql_texts = [path.read_text() for path in (root / "queries").glob("*.sql")]
    sql_texts += [path.read_text() for path in (root / "ingest").glob("*.py")]
    named = {
        name for text in sql_texts
        for name in re.findall(r"indexed\s+by\s+(logs_\w+)", text, re.IGNORECASE)
    }
    db = open_database(tmp_path / "logs.db")
    db.execute("BEGIN IMMEDIATE")
    defer_indexes(db.conn)
    db.execute("COMMIT")
    remaining = {name for name, _ in index_sql(db)}
    assert named
    assert named - remaining == set()
