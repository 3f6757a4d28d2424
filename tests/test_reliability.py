"""Concurrent ingests, killed ingests, input files left untouched, and the errors a user can cause.

Every test here drives the real `claude-logs` command in a subprocess against SQLite files on
tmp_path, because locking, crashes and exit statuses only show up across processes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

CLAUDE_LOGS = Path(sys.executable).with_name("claude-logs")


def make_entry(number: int) -> dict:
    """Return a synthetic Console entry; each number gives a different entry."""
    return {
        "transport_type": "http",
        "model": ["claude-3-5-sonnet-20240620", "claude-3-5-haiku-20241022"][number % 2],
        "model_latency": 0.5 + number / 1000,
        "prompt": None,
        "prompt_length": 40 + number,
        "prompt_token_count": 10 + number,
        "completion_length": 20,
        "completion_token_count": 5,
        "response": None,
        "tags": "{}",
        "error": "None" if number % 7 else '{"client_error":false,"code":500,"detail":"Internal server error"}',
        "request_start_time": f"2024-10-09 05:{number // 60 % 60:02d}:{number % 60:02d}.250000+00:00",
        "request": '{"max_tokens":256,"model":"claude-3-5-haiku-20241022","temperature":0.5}',
        "workspace_id": "default",
        "api_key_uuid": None,
    }


def write_pages(folder: Path, files: int, per_file: int, overlap: int = 0) -> set[int]:
    """Write `files` pages of `per_file` entries; consecutive pages share `overlap` entries.

    Returns the numbers of the distinct entries written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    numbers: set[int] = set()
    step = per_file - overlap
    for index in range(files):
        page = [make_entry(index * step + offset) for offset in range(per_file)]
        numbers.update(index * step + offset for offset in range(per_file))
        (folder / f"page-{index:03d}.json").write_text(json.dumps(page, indent=1))
    return numbers


def run_cli(*args, **options) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLAUDE_LOGS), *map(str, args)], capture_output=True, text=True,
                          **options)


def query(db_path: Path, sql: str, params=()) -> list[tuple]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# Concurrency


def test_two_ingests_and_long_reader(tmp_path):
    db_path = tmp_path / "logs.db"
    # Three folders: the two ingests share the middle one, and every page overlaps its
    # neighbour, so both processes insert many of the same rows.
    numbers = write_pages(tmp_path / "a", files=30, per_file=2000, overlap=500)
    numbers |= write_pages(tmp_path / "shared", files=30, per_file=2000, overlap=500)
    (tmp_path / "b").mkdir()
    for page in (tmp_path / "a").iterdir():
        (tmp_path / "b" / page.name).write_bytes(page.read_bytes())
    created = run_cli("ingest", db_path, tmp_path / "a" / "page-000.json")
    assert created.returncode == 0, created.stderr

    reader_ready = threading.Event()
    reader_done = threading.Event()
    reader_rows: list[int] = []

    def hold_read_transaction() -> None:
        conn = sqlite3.connect(db_path, isolation_level=None)
        conn.execute("BEGIN")
        reader_rows.append(conn.execute("SELECT count(*) FROM logs").fetchone()[0])
        reader_ready.set()
        time.sleep(10)
        reader_rows.append(conn.execute("SELECT count(*) FROM logs").fetchone()[0])
        conn.execute("COMMIT")
        conn.close()
        reader_done.set()

    reader = threading.Thread(target=hold_read_transaction)
    reader.start()
    assert reader_ready.wait(30)
    first = subprocess.Popen(
        [CLAUDE_LOGS, "ingest", db_path, tmp_path / "a", tmp_path / "shared"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    second = subprocess.Popen(
        [CLAUDE_LOGS, "ingest", db_path, tmp_path / "shared", tmp_path / "b"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first_out, first_err = first.communicate(timeout=300)
    second_out, second_err = second.communicate(timeout=300)
    writers_done_during_read = not reader_done.is_set()
    reader.join()

    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "locked" not in first_err + second_err
    # The reader's snapshot did not move while it held its transaction.
    assert writers_done_during_read
    assert reader_rows == [2000, 2000]
    assert query(db_path, "SELECT count(*) FROM logs") == [(len(numbers),)]
    assert query(db_path, "SELECT count(*) FROM files WHERE status = 'ingested'") == [(90,)]
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    # Both ingests were running at the same time, or the test proved nothing.
    (first_start, first_end), (second_start, second_end) = query(
        db_path, "SELECT started_at, finished_at FROM runs WHERE id > 1 ORDER BY id"
    )
    assert first_start < second_end
    assert second_start < first_end


def test_ingests_create_same_database(tmp_path):
    db_path = tmp_path / "new.db"
    numbers = write_pages(tmp_path / "pages", files=4, per_file=50)
    processes = [
        subprocess.Popen([CLAUDE_LOGS, "ingest", db_path, tmp_path / "pages"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    results = [(process.wait(timeout=120), process.stderr.read()) for process in processes]

    assert [status for status, _ in results] == [0, 0, 0, 0], results
    assert query(db_path, "SELECT count(*) FROM logs") == [(len(numbers),)]
    assert query(db_path, "SELECT name FROM _sqlite_migrations") == [("m001_initial",)]
