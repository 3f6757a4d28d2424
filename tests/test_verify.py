"""`claude-logs verify`: a sound database passes, and each kind of damage is reported."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from test_reliability import make_entry, write_pages

ALL_IS_WELL = "all is well"


def run(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)


@pytest.fixture
def db_path(tmp_path) -> Path:
    """Return a database of 5 ingested pages of 40 entries (10 shared with the next page)."""
    write_pages(tmp_path / "pages", files=5, per_file=40, overlap=10)
    path = tmp_path / "logs.db"
    result = run("ingest", path, tmp_path / "pages")
    assert result.exit_code == 0, result.stderr
    return path


def execute(db_path: Path, sql: str, params=()) -> None:
    conn = sqlite3.connect(db_path)
    with conn:
        conn.execute(sql, params)
    conn.close()


def first_hash(db_path: Path) -> str:
    conn = sqlite3.connect(db_path)
    (value,) = conn.execute("SELECT min(content_hash) FROM logs").fetchone()
    conn.close()
    return value


def test_sound_database_passes(db_path):
    result = run("verify", db_path)

    assert result.exit_code == 0
    assert result.stdout == (
        f"{db_path}: all is well: 160 entries re-hashed, 5 input files compared with the "
        "ledger, integrity_check ok\n"
    )
    assert result.stderr == ""


def test_verify_leaves_database_unchanged(db_path):
    execute(db_path, "PRAGMA wal_checkpoint(TRUNCATE)")
    before = db_path.read_bytes()

    result = run("verify", db_path)

    assert result.exit_code == 0
    assert db_path.read_bytes() == before


def test_edited_raw_reported(db_path):
    digest = first_hash(db_path)
    execute(db_path, "UPDATE logs SET raw = replace(raw, '\"http\"', '\"grpc\"') "
                     "WHERE content_hash = ?", (digest,))

    result = run("verify", db_path)

    assert result.exit_code == 1
    assert f"logs: logs row {digest}: raw hashes to " in result.stdout
    assert result.stderr == f"Error: {db_path} has 1 problem; see the lines above\n"


def test_edited_column_reported(db_path):
    digest = first_hash(db_path)
    execute(db_path, "UPDATE logs SET model_latency = 9.5 WHERE content_hash = ?", (digest,))

    result = run("verify", db_path)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"logs: logs row {digest}: model_latency is 9.5, but raw gives 0.")


def test_edited_derived_column_reported(db_path):
    digest = first_hash(db_path)
    execute(db_path, "UPDATE logs SET error_code = 404 WHERE content_hash = ?", (digest,))

    result = run("verify", db_path)

    assert result.exit_code == 1
    assert f"logs: logs row {digest}: error_code is 404, but raw gives " in result.stdout


def test_non_canonical_raw_reported(db_path):
    # Rewrite raw with spaces and give it the matching hash, so only canonical form is off.
    digest = first_hash(db_path)
    conn = sqlite3.connect(db_path)
    (raw,) = conn.execute("SELECT raw FROM logs WHERE content_hash = ?", (digest,)).fetchone()
    spaced = json.dumps(json.loads(raw), sort_keys=True)
    spaced_hash = hashlib.sha256(spaced.encode()).hexdigest()
    with conn:
        conn.execute("UPDATE logs SET raw = ?, content_hash = ? WHERE content_hash = ?",
                     (spaced, spaced_hash, digest))
    conn.close()

    result = run("verify", db_path)

    assert result.exit_code == 1
    assert f"logs: logs row {spaced_hash}: raw is not canonical JSON" in result.stdout


def test_deleted_row_reported(db_path, tmp_path):
    digest = first_hash(db_path)
    execute(db_path, "DELETE FROM logs WHERE content_hash = ?", (digest,))

    result = run("verify", db_path)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    missing = [line for line in lines if "missing from logs" in line]
    assert len(missing) >= 1
    assert missing[0].startswith(f"ledger: ledger file {tmp_path / 'pages'}/page-00")
    assert "1 of its 40 distinct entries are missing from logs" in missing[0]
    assert "runs: the runs added 160 entries in all, but logs holds 159" in lines


def test_ledger_entries_read_reported(db_path, tmp_path):
    page = tmp_path / "pages" / "page-002.json"
    execute(db_path, "UPDATE files SET entries_read = 41 WHERE path = ?", (str(page),))

    result = run("verify", db_path)

    assert result.exit_code == 1
    assert result.stdout == (
        f"ledger: ledger file {page}: entries_read is 41, but the file holds 40\n"
    )


def test_ledger_entries_new_reported(db_path, tmp_path):
    page = tmp_path / "pages" / "page-003.json"
    execute(db_path, "UPDATE files SET entries_new = 50 WHERE path = ?", (str(page),))

    result = run("verify", db_path)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"ledger: ledger file {page}: 50 new entries out of 40 read and 0 rejected " \
           "is impossible" in lines
    assert "ledger: the files list 180 new entries, but logs holds 160" in lines


def test_ledger_entries_rejected_reported(db_path, tmp_path):
    page = tmp_path / "pages" / "page-000.json"
    execute(db_path, "UPDATE files SET entries_rejected = 2, entries_new = 30 WHERE path = ?",
            (str(page),))

    result = run("verify", db_path)

    assert result.exit_code == 1
    assert f"ledger: ledger file {page}: entries_rejected is 2, but the file has 0 entries " \
           "that cannot be stored" in result.stdout


def test_changed_input_file_not_compared(db_path, tmp_path):
    # A file edited since its ingest is new input, not damage: the next ingest reads it.
    page = tmp_path / "pages" / "page-001.json"
    page.write_text(json.dumps([make_entry(9999)]))

    result = run("verify", db_path)

    assert result.exit_code == 0
    assert "4 input files compared" in result.stdout


def damage_index_page(db_path: Path) -> None:
    """Overwrite the root page of an index of logs with zeros, as a bad disk block would."""
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA journal_mode = DELETE")
    (root,) = conn.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = 'logs_started_at'"
    ).fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(db_path, "r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\x00" * page_size)


def test_damaged_file_reported(db_path):
    damage_index_page(db_path)

    result = run("verify", db_path)

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("integrity_check: "), result.stdout
    assert ALL_IS_WELL not in result.stdout


def test_file_not_sqlite_rejected(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("shopping list\n")

    result = run("verify", path)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path} is not an SQLite database; give a new path or a database that "
        "claude-logs created\n"
    )


def test_missing_database_rejected(tmp_path):
    result = run("verify", tmp_path / "absent.db")

    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'absent.db'}: no such database file\n"
    assert not (tmp_path / "absent.db").exists()


def test_other_tool_database_rejected(tmp_path):
    path = tmp_path / "other.db"
    execute(path, "CREATE TABLE logs (id INTEGER PRIMARY KEY, line TEXT)")

    result = run("verify", path)

    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path} has no logs table of claude-logs, so there is nothing to verify; give "
        "the path of a database that claude-logs made\n"
    )


def test_verify_accepts_renamed_key_columns(tmp_path, run_cli):
    page = tmp_path / "page.json"
    page.write_text(json.dumps([{"model": "m", "Model": "upper", "user_id": "top-level"}]))
    db_path = tmp_path / "logs.db"
    assert run_cli("ingest", db_path, page).exit_code == 0
    result = run_cli("verify", db_path)
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{db_path}: all is well: 1 entry re-hashed")


def test_verify_reads_other_formats(tmp_path, run_cli):
    import gzip

    entries = [make_entry(number) for number in range(3)]
    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "lines.jsonl").write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    (folder / "page.json.gz").write_bytes(gzip.compress(json.dumps(entries[1:]).encode()))
    har = {"log": {"version": "1.2", "entries": [{
        "request": {"method": "GET", "url": "http://127.0.0.1/api/logs/org?page_index=0"},
        "response": {"status": 200, "content": {"mimeType": "application/json",
                                                "text": json.dumps(entries[:2])}},
    }]}}
    (folder / "capture.har").write_text(json.dumps(har))
    db_path = tmp_path / "logs.db"
    assert run_cli("ingest", db_path, folder).exit_code == 0
    result = run_cli("verify", db_path)
    assert result.stderr == ""
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{db_path}: all is well: 3 entries re-hashed, 3 input files")
