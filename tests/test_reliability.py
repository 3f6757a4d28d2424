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


# Crash safety

# Runs the real CLI with two changes that spread one ingest over about two seconds: a batch
# commits every few files (as it would every few thousand files of real size), and each file
# starts after a short pause. A kill can then land in every phase: start-up, an open batch,
# a commit, the final update of the run row.
SLOW_INGEST = """
import sys, time
import ingest.loader as loader
from ingest.cli import cli

loader.BATCH_ENTRIES = 100
ingest_source = loader._Ingest.ingest_source

def slow_ingest_source(self, source):
    time.sleep(0.03)
    ingest_source(self, source)

loader._Ingest.ingest_source = slow_ingest_source
cli(["ingest", "--silent", *sys.argv[1:]])
"""

KILL_MOMENTS = 20
LEDGER_COLUMNS = "path, size, mtime_ns, sha256, status, error, entries_read, entries_new, " \
                 "entries_rejected"
RUN_TOTALS = "sum(files_read), sum(files_failed), sum(entries_read), sum(entries_new), " \
             "sum(entries_duplicate), sum(entries_rejected)"


def snapshot(db_path: Path) -> dict:
    return {
        "logs": query(db_path, "SELECT content_hash, raw FROM logs ORDER BY content_hash"),
        "ledger": query(db_path, f"SELECT {LEDGER_COLUMNS} FROM files ORDER BY path"),
        "run_totals": query(db_path, f"SELECT {RUN_TOTALS} FROM runs"),
        "integrity": query(db_path, "PRAGMA integrity_check"),
    }


def stored_hashes_of_ledger(db_path: Path) -> tuple[set[str], set[str]]:
    """Return (hashes in logs, hashes of every entry of the files the ledger marks ingested)."""
    from ingest.canonical import content_hash
    from ingest.pages import parse_page

    expected = set()
    for (path,) in query(db_path, "SELECT path FROM files WHERE status = 'ingested'"):
        page = parse_page(Path(path).read_bytes())
        expected.update(content_hash(entry.canonical) for entry in page.entries)
    stored = {hash_ for (hash_,) in query(db_path, "SELECT content_hash FROM logs")}
    return stored, expected


def test_killed_ingest_resumes(tmp_path):
    pages = tmp_path / "pages"
    numbers = write_pages(pages, files=50, per_file=40, overlap=10)
    slow = [sys.executable, "-c", SLOW_INGEST]

    reference_db = tmp_path / "reference.db"
    started = time.monotonic()
    reference_run = subprocess.run([*slow, reference_db, pages], capture_output=True, text=True)
    duration = time.monotonic() - started
    assert reference_run.returncode == 0, reference_run.stderr
    reference = snapshot(reference_db)
    assert len(reference["logs"]) == len(numbers)
    assert len(reference["ledger"]) == 50
    assert reference["run_totals"] == [(50, 0, 2000, len(numbers), 2000 - len(numbers), 0)]

    files_committed_at_kill = []
    for moment in range(KILL_MOMENTS):
        db_path = tmp_path / f"killed-{moment:02d}.db"
        process = subprocess.Popen([*slow, db_path, pages], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        time.sleep(duration * (moment + 0.5) / KILL_MOMENTS)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL, f"the run ended before kill {moment}"

        if db_path.exists():
            # What the killed run left is consistent: a file is in the ledger exactly when
            # all its entries are stored, and the run row counts exactly what was committed.
            assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
            stored, expected = stored_hashes_of_ledger(db_path)
            assert stored == expected, f"kill {moment}"
            files_in_ledger = query(db_path, "SELECT count(*) FROM files")[0][0]
            runs = query(db_path, "SELECT finished_at, files_read, entries_new FROM runs")
            assert len(runs) <= 1
            if runs:
                finished_at, files_read, entries_new = runs[0]
                # A run row without finished_at is one that was interrupted (or still running).
                assert (finished_at is not None) == (files_in_ledger == 50), f"kill {moment}"
                assert files_read == files_in_ledger
                assert entries_new == len(stored)
            files_committed_at_kill.append(files_in_ledger)
        else:
            files_committed_at_kill.append(0)

        rerun = run_cli("ingest", db_path, pages)
        assert rerun.returncode == 0, rerun.stderr
        result = snapshot(db_path)
        assert result["logs"] == reference["logs"], f"kill {moment}"
        assert result["ledger"] == reference["ledger"], f"kill {moment}"
        assert result["run_totals"] == reference["run_totals"], f"kill {moment}"
        assert result["integrity"] == [("ok",)]
        # The re-run finished; the killed run, if it recorded itself, is the only other row.
        finished = query(db_path, "SELECT finished_at IS NOT NULL FROM runs ORDER BY id")
        assert finished[-1:] == [(1,)], f"kill {moment}"
        assert len(finished) <= 2, f"kill {moment}"
        last_run = query(db_path, "SELECT files_read + files_skipped FROM runs ORDER BY id DESC")
        assert last_run[0] == (50,)

    # The kills landed all over the run: before anything was stored, and part way through.
    assert 0 in files_committed_at_kill
    assert any(0 < count < 50 for count in files_committed_at_kill), files_committed_at_kill
