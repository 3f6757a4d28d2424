"""Ingest through the worker process stores what the single-process path stores."""

from __future__ import annotations

import json

import pytest

from ingest import pipeline
from ingest.database import open_database
from ingest.loader import ingest


def entry(number: int, **changes) -> dict:
    value = {
        "transport_type": "http", "model": "claude-3-5-haiku-20241022",
        "model_latency": 0.5 + number / 7, "prompt": None, "prompt_length": 40,
        "prompt_token_count": 10 + number, "completion_length": 8, "completion_token_count": 2,
        "response": None, "tags": "{}", "error": "None",
        "request_start_time": f"2024-10-09 05:{number // 60:02d}:{number % 60:02d}.5+00:00",
        "request": '{"max_tokens":1,"model":"claude-3-5-haiku-20241022"}',
        "workspace_id": "default", "api_key_uuid": None,
    }
    value.update(changes)
    return value


def write_pages(folder, count: int) -> None:
    """Write count pages of 10 entries, each sharing 5 entries with the page before."""
    folder.mkdir()
    for page in range(count):
        entries = [entry(number, cache_read_tokens=number % 3)
                   for number in range(page * 5, page * 5 + 10)]
        (folder / f"page-{page:03d}.json").write_text(json.dumps(entries))


def table_rows(db, sql: str) -> list[tuple]:
    return [tuple(row) for row in db.execute(sql).fetchall()]


@pytest.fixture
def pages(tmp_path):
    folder = tmp_path / "pages"
    write_pages(folder, pipeline.WORKER_MIN_FILES + 4)
    return folder


def test_worker_matches_single_process(tmp_path, pages, monkeypatch):
    with_worker = open_database(tmp_path / "worker.db")
    summary_worker = ingest(with_worker, [str(pages)])
    monkeypatch.setattr(pipeline, "WORKER_MIN_FILES", 10_000)
    single = open_database(tmp_path / "single.db")
    summary_single = ingest(single, [str(pages)])

    logs = "SELECT * FROM logs ORDER BY content_hash"
    ledger = "SELECT path, sha256, status, entries_read, entries_new FROM files ORDER BY path"
    assert summary_worker.line() == summary_single.line()
    assert summary_worker.entries_new == 105
    assert summary_worker.entries_duplicate == 95
    assert table_rows(with_worker, logs) == table_rows(single, logs)
    assert table_rows(with_worker, ledger) == table_rows(single, ledger)


def test_repeat_of_failed_file_stored(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps([entry(1), entry(2, tags='{"poison":1}')]))
    (folder / "b.json").write_text(json.dumps([entry(1)]))
    db = open_database(tmp_path / "logs.db")
    # The trigger simulates any database error that makes one file fail to store.
    db.execute(
        "CREATE TRIGGER reject_poison BEFORE INSERT ON logs WHEN NEW.tags LIKE '%poison%' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END"
    )

    summary = ingest(db, [str(folder)])

    statuses = table_rows(db, "SELECT path, status, entries_new FROM files ORDER BY path")
    assert summary.files_failed == 1
    assert statuses == [(str(folder / "a.json"), "failed", None),
                        (str(folder / "b.json"), "ingested", 1)]
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 1


def test_recent_digests_window():
    recent = pipeline.RecentDigests(capacity=2)
    assert [recent.seen(digest) for digest in "abcab"] == [False, False, False, True, True]
    assert [recent.seen(digest) for digest in "de"] == [False, False]
    assert recent.seen("a") is False
