"""Ingest through the worker process stores and reports what the single-process path does."""

from __future__ import annotations

import gzip
import json
import os

import pytest

import ingest.reader
from formats_samples import LOGS_URL, har, har_entry, json_content, page_text
from ingest import pipeline
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths

ODD_PAGE = '[{"model": "a", "n": 2.0}, 7, {"model": "a", "model": "b"}, {"n": NaN}, {"n": 2}]'


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


def write_other_formats(folder) -> None:
    """Add one input of every other format and shape, good and bad, to folder."""
    (folder / "a-odd.json").write_text(ODD_PAGE)
    (folder / "b-html.json").write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    (folder / "c-empty.json").write_text("")
    (folder / "d-page.json.gz").write_bytes(gzip.compress(page_text(200, 12).encode()))
    lines = [json.dumps(entry(number)) for number in range(300, 306)]
    lines.insert(2, "{not json")
    (folder / "e-lines.jsonl").write_text("\n".join(lines) + "\n")
    capture = har("chromium", [
        har_entry("chromium", LOGS_URL.format(0), 200, json_content(page_text(400, 8))),
        har_entry("chromium", LOGS_URL.format(1), 500,
                  json_content('{"error": {"type": "api_error", "message": "Internal"}}')),
        har_entry("chromium", LOGS_URL.format(2), 200, json_content("{truncated")),
    ])
    (folder / "f-capture.har").write_text(json.dumps(capture))
    # Larger than the streaming threshold that the tests set, so it is read in pieces.
    (folder / "g-streamed.json").write_text(page_text(500, 30))
    streamed_bad = json.loads(page_text(600, 10))
    (folder / "h-streamed-bad.json").write_text(json.dumps(streamed_bad)[:-40])
    # The same bytes as a page above, under another name.
    (folder / "page-copy.json").write_bytes((folder / "page-003.json").read_bytes())


def table_rows(db, sql: str) -> list[tuple]:
    return [tuple(row) for row in db.execute(sql).fetchall()]


LOGS = "SELECT * FROM logs ORDER BY content_hash"
LEDGER = ("SELECT path, size, sha256, status, error, entries_read, entries_new, "
          "entries_rejected FROM files ORDER BY path")
RUNS = ("SELECT files_read, files_skipped, files_failed, entries_read, entries_new, "
        "entries_duplicate, entries_rejected FROM runs ORDER BY id")


def run_ingest(db_path, paths, force: bool = False) -> tuple:
    db = open_database(db_path)
    problems, notes = [], []
    summary = ingest_paths(db, [str(path) for path in paths], force=force,
                     on_problem=problems.append, on_note=notes.append)
    return db, summary, problems, notes


@pytest.fixture
def pages(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest.reader, "STREAM_THRESHOLD", 2_000)
    monkeypatch.setattr(ingest.reader, "ENTRIES_PER_PAGE", 7)
    folder = tmp_path / "pages"
    write_pages(folder, pipeline.WORKER_MIN_FILES + 4)
    write_other_formats(folder)
    return folder


@pytest.fixture
def single_process(monkeypatch):
    """Turn the worker off, for the run that the worker's run is compared with."""
    def turn_off():
        monkeypatch.setattr(pipeline, "WORKER_MIN_FILES", 10_000)
    return turn_off


def test_worker_matches_single_process(tmp_path, pages, single_process):
    db_worker, summary_worker, problems_worker, notes_worker = run_ingest(
        tmp_path / "worker.db", [pages])
    single_process()
    db_single, summary_single, problems_single, notes_single = run_ingest(
        tmp_path / "single.db", [pages])

    assert summary_worker.line() == summary_single.line()
    assert summary_worker.files_read == 25
    assert summary_worker.files_failed == 3
    assert summary_worker.files_skipped == 1
    # 20 overlapping pages, then the odd page, gzip, JSON Lines, HAR and the streamed page.
    assert summary_worker.entries_new == 105 + 2 + 12 + 6 + 8 + 30
    assert problems_worker == problems_single
    assert len(problems_worker) == 8
    assert notes_worker == notes_single
    assert len(notes_worker) == 1
    assert table_rows(db_worker, LOGS) == table_rows(db_single, LOGS)
    assert table_rows(db_worker, LEDGER) == table_rows(db_single, LEDGER)
    assert table_rows(db_worker, RUNS) == table_rows(db_single, RUNS)


def test_worker_matches_on_rerun(tmp_path, pages, single_process):
    """A second run after every file was touched hashes them all and parses none."""
    def touch_all(mtime_ns: int) -> None:
        for path in pages.iterdir():
            os.utime(path, ns=(mtime_ns, mtime_ns))

    run_ingest(tmp_path / "worker.db", [pages])[0].conn.close()
    touch_all(10**18)
    db_worker, summary_worker, problems_worker, _ = run_ingest(tmp_path / "worker.db", [pages])
    single_process()
    run_ingest(tmp_path / "single.db", [pages])[0].conn.close()
    touch_all(2 * 10**18)
    db_single, summary_single, problems_single, _ = run_ingest(tmp_path / "single.db", [pages])

    assert summary_worker.line() == summary_single.line()
    # Every file but the three that failed, which are read again.
    assert summary_worker.files_skipped == 26
    assert summary_worker.entries_read == 0
    assert problems_worker == problems_single
    assert table_rows(db_worker, LEDGER) == table_rows(db_single, LEDGER)
    assert table_rows(db_worker, RUNS) == table_rows(db_single, RUNS)


def test_worker_forced_matches_single_process(tmp_path, pages, single_process):
    run_ingest(tmp_path / "worker.db", [pages])[0].conn.close()
    db_worker, summary_worker, _, _ = run_ingest(tmp_path / "worker.db", [pages], force=True)
    single_process()
    run_ingest(tmp_path / "single.db", [pages])[0].conn.close()
    db_single, summary_single, _, _ = run_ingest(tmp_path / "single.db", [pages], force=True)

    assert summary_worker.line() == summary_single.line()
    assert summary_worker.files_read == 26
    assert summary_worker.entries_new == 0
    assert table_rows(db_worker, LEDGER) == table_rows(db_single, LEDGER)


def test_known_content_not_parsed(tmp_path, monkeypatch):
    folder = tmp_path / "pages"
    write_pages(folder, pipeline.WORKER_MIN_FILES)
    run_ingest(tmp_path / "logs.db", [folder])[0].conn.close()
    copies = tmp_path / "copies"
    copies.mkdir()
    for path in folder.iterdir():
        (copies / path.name).write_bytes(path.read_bytes())

    def no_parse(*args, **kwargs):
        raise AssertionError("a file with known content was parsed")

    # The worker is forked, so it inherits the replacement too.
    monkeypatch.setattr(pipeline, "Document", no_parse)
    db, summary, problems, _ = run_ingest(tmp_path / "logs.db", [copies])

    assert problems == []
    assert summary.files_skipped == pipeline.WORKER_MIN_FILES
    assert summary.files_read == 0
    ledger = table_rows(db, "SELECT count(*) FROM files WHERE status = 'ingested'")
    assert ledger == [(2 * pipeline.WORKER_MIN_FILES,)]


@pytest.mark.parametrize("min_files", [1, 10_000], ids=["worker", "single"])
def test_repeat_of_failed_file_stored(tmp_path, monkeypatch, min_files):
    monkeypatch.setattr(pipeline, "WORKER_MIN_FILES", min_files)
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

    summary = ingest_paths(db, [str(folder)])

    statuses = table_rows(db, "SELECT path, status, entries_new FROM files ORDER BY path")
    assert summary.files_failed == 1
    assert statuses == [(str(folder / "a.json"), "failed", None),
                        (str(folder / "b.json"), "ingested", 1)]
    assert db.execute("SELECT count(*) FROM logs").fetchone()[0] == 1


def test_same_bytes_as_failed_file_parsed(tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "WORKER_MIN_FILES", 1)
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps([entry(1, tags='{"poison":1}'), entry(2)]))
    (folder / "b.json").write_bytes((folder / "a.json").read_bytes())
    db = open_database(tmp_path / "logs.db")
    db.execute(
        "CREATE TRIGGER reject_poison BEFORE INSERT ON logs WHEN NEW.tags LIKE '%poison%' "
        "AND (SELECT count(*) FROM files) = 0 BEGIN SELECT RAISE(ABORT, 'poisoned entry'); END"
    )

    summary = ingest_paths(db, [str(folder)])

    statuses = table_rows(db, "SELECT path, status, entries_new FROM files ORDER BY path")
    assert summary.files_failed == 1
    assert statuses == [(str(folder / "a.json"), "failed", None),
                        (str(folder / "b.json"), "ingested", 2)]


def test_recent_digests_window():
    recent = pipeline.RecentDigests(capacity=2)
    assert [recent.seen(digest) for digest in "abcab"] == [False, False, False, True, True]
    assert [recent.seen(digest) for digest in "de"] == [False, False]
    assert recent.seen("a") is False
