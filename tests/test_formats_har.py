import gzip
import json
import sqlite3

import pytest

import ingest.reader
from formats_samples import (
    LOGS_URL, OTHER_URL, har, har_entry, json_content, page_text, run_cli, stored, write_pages,
)
from ingest.database import open_database
from ingest.loader import ingest as ingest_paths

PAGES = [page_text(0, 12), page_text(12, 12), page_text(6, 12)]  # the third overlaps both


def capture(browser: str) -> dict:
    """A capture with three log pages (plain and base64), a preflight, another API response,
    a log response with an error status and a page loaded twice."""
    return har(browser, [
        har_entry(browser, LOGS_URL.format(0), 204, {"size": 0, "mimeType": "x-unknown"},
                  method="OPTIONS"),
        har_entry(browser, LOGS_URL.format(0), 200, json_content(PAGES[0])),
        har_entry(browser, OTHER_URL, 200, json_content('[{"id": "wrkspc_1"}]')),
        har_entry(browser, LOGS_URL.format(1), 200, json_content(PAGES[1], base64_encoded=True)),
        har_entry(browser, LOGS_URL.format(2), 500,
                  json_content('{"error": {"type": "api_error", "message": "Internal"}}')),
        har_entry(browser, LOGS_URL.format(2), 200, json_content(PAGES[2])),
        har_entry(browser, LOGS_URL.format(0), 200, json_content(PAGES[0], base64_encoded=True)),
    ])


@pytest.fixture
def page_rows(tmp_path):
    """The rows that the capture's pages give when saved and ingested as page files."""
    paths = write_pages(tmp_path / "pages", PAGES)
    result = run_cli("ingest", str(tmp_path / "pages.db"), *map(str, paths))
    assert result.returncode == 0, result.stderr
    return stored(tmp_path / "pages.db")


@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_har_same_rows_as_pages(tmp_path, page_rows, browser):
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(capture(browser), indent=2))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    assert result.returncode == 0, result.stderr
    assert len(page_rows) == 24
    assert stored(tmp_path / "har.db") == page_rows
    assert "4 log pages in 1 HAR capture" in result.stdout.decode()
    assert "entries: 48 read, 24 new, 24 duplicate, 0 rejected" in result.stdout.decode()


@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_har_error_status_noted(tmp_path, browser):
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(capture(browser)))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    notes = [line for line in result.stderr.decode().splitlines() if line.startswith("Note:")]
    assert result.returncode == 0
    assert len(notes) == 1
    assert "HAR entry 4" in notes[0]
    assert "HTTP status 500" in notes[0]
    assert "page_index=2" in notes[0]


def test_har_ledger_counts(tmp_path):
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(capture("chromium")))

    run_cli("ingest", str(tmp_path / "har.db"), str(path))

    with sqlite3.connect(tmp_path / "har.db") as conn:
        row = conn.execute(
            "SELECT status, entries_read, entries_new, entries_rejected FROM files"
        ).fetchone()
    assert row == ("ingested", 48, 24, 0)


def test_har_streamed_same_rows(tmp_path, page_rows, monkeypatch):
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(capture("firefox"), indent=2))
    monkeypatch.setattr(ingest.reader, "STREAM_THRESHOLD", 1024)
    db = open_database(tmp_path / "har.db")

    summary = ingest_paths(db, [str(path)])

    assert summary.har_log_pages == 4
    assert summary.entries_new == 24
    assert stored(tmp_path / "har.db") == page_rows


def test_har_gzip_same_rows(tmp_path, page_rows):
    path = tmp_path / "capture.har.gz"
    path.write_bytes(gzip.compress(json.dumps(capture("chromium")).encode()))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "har.db") == page_rows


@pytest.mark.parametrize("browser", ["chromium", "firefox"])
def test_har_without_content_explained(tmp_path, browser):
    path = tmp_path / "capture.har"
    entries = [
        har_entry(browser, LOGS_URL.format(index), 200,
                  json_content(PAGES[index], with_body=False, browser=browser))
        for index in range(2)
    ]
    path.write_text(json.dumps(har(browser, entries)))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    errors = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert len(errors) == 1
    assert errors[-1].startswith(
        f"Error: {path}: is a HAR capture saved without response content (2 log responses, "
    )
    assert "Save all as HAR with content" in errors[-1]
    assert "Network panel" in errors[-1]
    assert stored(tmp_path / "har.db") == set()


def test_har_without_log_responses(tmp_path):
    path = tmp_path / "capture.har"
    path.write_text(json.dumps(har("chromium", [
        har_entry("chromium", OTHER_URL, 200, json_content("[]")),
        har_entry("chromium", "https://console.example.com/logs?page=1", 200,
                  json_content("<html></html>")),
    ])))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    error = result.stderr.decode().strip()
    assert result.returncode == 1
    assert error.startswith(f"Error: {path}: is a HAR capture with no responses")
    assert "/api/logs/" in error
    assert "(2 requests in all)" in error


def test_har_bad_page_others_land(tmp_path):
    path = tmp_path / "capture.har"
    bot_check = "<!DOCTYPE html><html><body>Checking your browser</body></html>"
    path.write_text(json.dumps(har("firefox", [
        har_entry("firefox", LOGS_URL.format(0), 200, json_content(PAGES[0])),
        har_entry("firefox", LOGS_URL.format(1), 200, json_content(bot_check)),
        har_entry("firefox", LOGS_URL.format(2), 200, {"size": 10, "mimeType": "application/json"}),
    ])))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    errors = result.stderr.decode().splitlines()
    assert result.returncode == 1
    assert len(errors) == 2
    assert errors[0].startswith(f"Error: {path}: HAR entry 1 (GET {LOGS_URL.format(1)}): "
                                "the response is an HTML page")
    assert errors[1] == (f"Error: {path}: HAR entry 2 (GET {LOGS_URL.format(2)}) has no "
                         "response content, so its page was not read")
    assert len(stored(tmp_path / "har.db")) == 12
    assert "1 log page in 1 HAR capture" in result.stdout.decode()


def test_har_rejected_entry_names_page(tmp_path):
    path = tmp_path / "capture.har"
    bad_page = '[{"model": "a", "model": "b"}, {"model": "c"}]'
    path.write_text(json.dumps(har("chromium", [
        har_entry("chromium", LOGS_URL.format(0), 200, json_content(PAGES[0])),
        har_entry("chromium", LOGS_URL.format(1), 200, json_content(bad_page)),
    ])))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(path))

    assert result.returncode == 1
    assert result.stderr.decode().strip() == (
        f'Error: {path}: log page 2 ({LOGS_URL.format(1)}): entry 0 has the key "model" twice; '
        "it was not stored"
    )
    assert len(stored(tmp_path / "har.db")) == 13


def test_har_truncated_fails_whole(tmp_path, monkeypatch):
    text = json.dumps(capture("chromium"), indent=2)
    path = tmp_path / "capture.har"
    path.write_text(text[: len(text) * 3 // 4])
    monkeypatch.setattr(ingest.reader, "STREAM_THRESHOLD", 1024)
    db = open_database(tmp_path / "har.db")
    problems = []

    summary = ingest_paths(db, [str(path)], on_problem=problems.append)

    assert summary.files_failed == 1
    assert summary.entries_new == 0
    assert stored(tmp_path / "har.db") == set()
    assert problems[-1].startswith(f"{path}: is not valid JSON")
    assert db.execute("SELECT status FROM files").fetchall() == [("failed",)]


def test_har_found_in_folder(tmp_path, page_rows):
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "capture.har").write_text(json.dumps(capture("firefox")))

    result = run_cli("ingest", str(tmp_path / "har.db"), str(folder))

    assert result.returncode == 0, result.stderr
    assert stored(tmp_path / "har.db") == page_rows
