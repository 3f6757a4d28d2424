"""Ingest end to end through the CLI: stored values, deduplication, incremental runs."""

import json
import os
import sqlite3

import pytest

import ingest.loader
import ingest.reader
from conftest import make_entry, write_page
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths


def rows(db_path, sql, params=()):
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def row_dicts(db_path, sql):
    conn = sqlite3.connect(db_path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(sql)]
    finally:
        conn.close()


BLOG_ERROR_ROW = {
    "content_hash": "b5bd7a10e9fd85fd8156c91b994bfaad46bd8fe5caf725d47bdb64a09ba23d4f",
    "transport_type": "http",
    "model": "claude-3-5-sonnet-20240620",
    "model_latency": 2.0138745307922363,
    "prompt": None,
    "prompt_length": 0,
    "prompt_token_count": 0,
    "completion_length": 0,
    "completion_token_count": 0,
    "response": None,
    "tags": "{}",
    "error": '{"client_error":false,"code":500,"detail":"Internal server error"}',
    "request_start_time": "2024-10-09 05:09:38.284508+00:00",
    "request": '{"max_tokens":8192,"metadata":{"user_id":"example-user-00000000000000000000000000'
    '00000000000000000000000000000000000001"},"model":"claude-3-5-sonnet-20240620",'
    '"temperature":0}',
    "workspace_id": "wrkspc_01EXAMPLEWORKSPACE0000",
    "api_key_uuid": None,
    "started_at": "2024-10-09T05:09:38.284508Z",
    "error_code": 500,
    "error_detail": "Internal server error",
    "client_error": 0,
    "max_tokens": 8192,
    "temperature": 0.0,
    "stream": None,
    "user_id": "example-user-0000000000000000000000000000000000000000000000000000000000000001",
}

BLOG_SLOW_ROW = {
    "content_hash": "e5359635c6dcb879d6e36ddf19dbef5461910d535be152d63e90ebadaa571565",
    "transport_type": "http",
    "model": "claude-3-5-sonnet-20240620",
    "model_latency": 3.061051845550537,
    "prompt": None,
    "prompt_length": 23,
    "prompt_token_count": 8,
    "completion_length": 6,
    "completion_token_count": 1,
    "response": None,
    "tags": "{}",
    "error": "None",
    "request_start_time": "2024-10-08 15:54:35.842454+00:00",
    "request": '{"max_tokens":1,"model":"claude-3-5-sonnet-20240620",'
    '"temperature":0.47343091617109434}',
    "workspace_id": "default",
    "api_key_uuid": None,
    "started_at": "2024-10-08T15:54:35.842454Z",
    "error_code": None,
    "error_detail": None,
    "client_error": None,
    "max_tokens": 1,
    "temperature": 0.47343091617109434,
    "stream": None,
    "user_id": None,
}


def test_blog_entries_every_column(tmp_path, run_cli, blog_entries):
    page = write_page(tmp_path / "page.json", blog_entries, indent=2)
    db_path = tmp_path / "logs.db"
    result = run_cli("ingest", db_path, page)
    assert result.exit_code == 0
    stored = row_dicts(db_path, "SELECT * FROM logs ORDER BY started_at DESC")
    raws = [row.pop("raw") for row in stored]
    assert stored == [BLOG_ERROR_ROW, BLOG_SLOW_ROW]
    assert [json.loads(raw) for raw in raws] == blog_entries


def test_blog_entries_column_types(tmp_path, run_cli, blog_entries):
    db_path = tmp_path / "logs.db"
    run_cli("ingest", db_path, write_page(tmp_path / "page.json", blog_entries))
    types = rows(
        db_path,
        "SELECT typeof(model_latency), typeof(prompt_token_count), typeof(error_code), "
        "typeof(temperature), typeof(max_tokens) FROM logs ORDER BY started_at DESC",
    )
    assert types == [
        ("real", "integer", "integer", "real", "integer"),
        ("real", "integer", "null", "real", "integer"),
    ]


def test_overlap_over_three_runs(tmp_path, run_cli):
    entries = [make_entry(number) for number in range(6)]
    folder = tmp_path / "logs"
    # 12 copies of 6 entries: entry 0 twice in the first page.
    write_page(folder / "a.json", [entries[0], entries[1], entries[0], entries[2]])
    db_path = tmp_path / "logs.db"

    first = run_cli("ingest", db_path, folder)
    assert first.stdout.strip() == (
        "files: 1 read, 0 skipped, 0 failed; entries: 4 read, 3 new, 1 duplicate, 0 rejected"
    )
    assert rows(db_path, "SELECT count(*) FROM logs") == [(3,)]

    write_page(folder / "b.json", [entries[2], entries[3], entries[4]])
    write_page(folder / "c.json", [entries[3], entries[4], entries[5], entries[1], entries[5]])
    second = run_cli("ingest", db_path, folder)
    assert second.stdout.strip() == (
        "files: 2 read, 1 skipped, 0 failed; entries: 8 read, 3 new, 5 duplicate, 0 rejected"
    )
    assert rows(db_path, "SELECT count(*) FROM logs") == [(6,)]

    third = run_cli("ingest", db_path, "--force", folder)
    assert third.stdout.strip() == (
        "files: 3 read, 0 skipped, 0 failed; entries: 12 read, 0 new, 12 duplicate, 0 rejected"
    )
    assert rows(db_path, "SELECT count(*) FROM logs") == [(6,)]
    assert rows(db_path, "SELECT count(*) FROM runs WHERE finished_at IS NOT NULL") == [(3,)]
    assert rows(
        db_path, "SELECT entries_read, entries_new, entries_duplicate FROM runs ORDER BY id"
    ) == [(4, 3, 1), (8, 3, 5), (12, 0, 12)]


def test_unchanged_files_not_read(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    for number in range(3):
        write_page(folder / f"p{number}.json", [make_entry(number), make_entry(number + 10)])
    db = open_database(tmp_path / "logs.db")
    assert ingest_paths(db, [str(folder)]).entries_new == 6

    parsed, opened = [], []
    real_parse, real_open = ingest.reader.load_document, open
    monkeypatch.setattr(ingest.reader, "load_document", lambda data: parsed.append(1) or real_parse(data))
    monkeypatch.setattr("builtins.open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    summary = ingest_paths(db, [str(folder)])

    assert parsed == []
    assert [path for path in opened if str(path).endswith(".json")] == []
    assert summary.files_skipped == 3
    assert summary.files_read == 0
    assert summary.entries_new == 0


def test_touched_unchanged_file_skipped_by_hash(tmp_path, monkeypatch):
    page = write_page(tmp_path / "p.json", [make_entry(1)])
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(page)])
    os.utime(page, ns=(1_000_000_000, 1_000_000_000))

    parsed = []
    real_parse = ingest.reader.load_document
    monkeypatch.setattr(ingest.reader, "load_document", lambda data: parsed.append(1) or real_parse(data))
    summary = ingest_paths(db, [str(page)])

    assert parsed == []
    assert summary.files_skipped == 1
    assert db.execute("SELECT mtime_ns FROM files").fetchall() == [(1_000_000_000,)]


def test_copy_of_ingested_file_skipped(tmp_path):
    first = write_page(tmp_path / "a" / "page.json", [make_entry(1), make_entry(2)])
    copy = tmp_path / "b" / "page.json"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    db = open_database(tmp_path / "logs.db")
    ingest_paths(db, [str(first)])
    summary = ingest_paths(db, [str(copy)])
    assert summary.files_skipped == 1
    assert db.execute(
        "SELECT entries_read, entries_new, status FROM files WHERE path = ?", [str(copy)]
    ).fetchall() == [(2, 0, "ingested")]


def test_grown_file_adds_new_entries_only(tmp_path, run_cli):
    page = write_page(tmp_path / "p.json", [make_entry(1), make_entry(2)])
    db_path = tmp_path / "logs.db"
    run_cli("ingest", db_path, page)
    write_page(page, [make_entry(1), make_entry(2), make_entry(3), make_entry(4)])
    result = run_cli("ingest", db_path, page)
    assert result.stdout.strip() == (
        "files: 1 read, 0 skipped, 0 failed; entries: 4 read, 2 new, 2 duplicate, 0 rejected"
    )
    assert rows(db_path, "SELECT count(*) FROM logs") == [(4,)]
    assert rows(db_path, "SELECT entries_read, entries_new FROM files") == [(4, 2)]


def test_null_first_batch_keeps_numbers_real(tmp_path, run_cli):
    db_path = tmp_path / "logs.db"
    nulls = [make_entry(number, model_latency=None, cache_read_tokens=None) for number in range(3)]
    run_cli("ingest", db_path, write_page(tmp_path / "a.json", nulls))
    later = [make_entry(10, model_latency=1.5, cache_read_tokens=120),
             make_entry(11, model_latency=2, cache_read_tokens=0.5)]
    run_cli("ingest", db_path, write_page(tmp_path / "b.json", later))
    assert rows(
        db_path,
        "SELECT typeof(model_latency), model_latency, typeof(cache_read_tokens) FROM logs "
        "WHERE model_latency IS NOT NULL ORDER BY model_latency",
    ) == [("real", 1.5, "real"), ("real", 2.0, "real")]


def test_new_keys_become_columns(tmp_path, run_cli):
    db_path = tmp_path / "logs.db"
    entry = make_entry(1, request_id="req_01", service_tier="standard",
                       cache_creation_input_tokens=12, user_id="top-level")
    run_cli("ingest", db_path, write_page(tmp_path / "a.json", [entry]))
    assert rows(
        db_path,
        "SELECT request_id, service_tier, cache_creation_input_tokens, source_user_id, user_id "
        "FROM logs",
    ) == [("req_01", "standard", 12, "top-level", None)]


def test_started_at_sorts_by_time(tmp_path, run_cli):
    times = [
        "2024-10-09 05:09:38+00:00",
        "2024-10-09 05:09:38.5+00:00",
        "2024-10-09T07:09:38.250000+02:00",
        "2024-10-09 01:09:39.123456789-04:00",
        "2024-10-09T05:09:40Z",
        "2024-10-09 05:09:37.999999+00:00",
        "2024-10-09 10:39:41.1+05:30",
    ]
    entries = [make_entry(number, request_start_time=text) for number, text in enumerate(times)]
    db_path = tmp_path / "logs.db"
    run_cli("ingest", db_path, write_page(tmp_path / "a.json", entries))
    assert rows(db_path, "SELECT started_at FROM logs ORDER BY started_at") == [
        ("2024-10-09T05:09:37.999999Z",),
        ("2024-10-09T05:09:38.000000Z",),
        ("2024-10-09T05:09:38.250000Z",),
        ("2024-10-09T05:09:38.500000Z",),
        ("2024-10-09T05:09:39.123456Z",),
        ("2024-10-09T05:09:40.000000Z",),
        ("2024-10-09T05:09:41.100000Z",),
    ]


def test_stdin_input(tmp_path, run_cli, blog_entries):
    db_path = tmp_path / "logs.db"
    result = run_cli("ingest", db_path, "-", input=json.dumps(blog_entries))
    assert result.exit_code == 0
    assert rows(db_path, "SELECT count(*) FROM logs") == [(2,)]
    again = run_cli("ingest", db_path, "-", input=json.dumps(blog_entries))
    assert again.stdout.strip() == (
        "files: 0 read, 1 skipped, 0 failed; entries: 0 read, 0 new, 0 duplicate, 0 rejected"
    )


@pytest.mark.parametrize("missing", ["nowhere", "nowhere.json"])
def test_missing_path_reported(tmp_path, run_cli, missing):
    good = write_page(tmp_path / "good.json", [make_entry(1)])
    result = run_cli("ingest", tmp_path / "logs.db", tmp_path / missing, good)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / missing}: no such file or folder\n"
    assert rows(tmp_path / "logs.db", "SELECT count(*) FROM logs") == [(1,)]


@pytest.mark.parametrize(
    "error, expected",
    [
        ("None", (None, None, None)),
        ('{"client_error":true,"code":499,"detail":"Client disconnected"}',
         (499, "Client disconnected", 1)),
        ('{"type":"overloaded_error"}', (529, '{"type":"overloaded_error"}', None)),
        ('{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}',
         (429, "Slow down", None)),
        ('{"code":"503","detail":{"reason":"upstream"}}', (503, '{"reason":"upstream"}', None)),
        ("Internal error", (None, "Internal error", None)),
    ],
)
def test_error_columns_derived(tmp_path, run_cli, error, expected):
    db_path = tmp_path / "logs.db"
    run_cli("ingest", db_path, write_page(tmp_path / "a.json", [make_entry(1, error=error)]))
    assert rows(db_path, "SELECT error_code, error_detail, client_error FROM logs") == [expected]


def test_ledger_finds_files_from_other_folder(tmp_path, monkeypatch):
    folder = tmp_path / "work" / "logs"
    write_page(folder / "p.json", [make_entry(1)])
    db = open_database(tmp_path / "logs.db")
    monkeypatch.chdir(tmp_path / "work")
    assert ingest_paths(db, ["logs"]).files_read == 1
    monkeypatch.chdir(folder)
    summary = ingest_paths(db, ["."])
    assert summary.files_skipped == 1
    assert summary.files_read == 0
    assert db.execute("SELECT path FROM files").fetchall() == [(str(folder / "p.json"),)]


def test_keys_differing_in_case(tmp_path, run_cli):
    db_path = tmp_path / "logs.db"
    entry = make_entry(1, Model="upper", Request_ID="a", request_id="b")
    result = run_cli("ingest", db_path, write_page(tmp_path / "a.json", [entry]))
    assert result.exit_code == 0
    assert rows(db_path, 'SELECT model, "source_Model", "Request_ID", source_request_id FROM logs') == [
        ("claude-3-5-haiku-20241022", "upper", "a", "b")
    ]
