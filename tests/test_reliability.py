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

from ingest.database import open_database

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
    numbers = write_pages(tmp_path / "a", files=30, per_file=500, overlap=125)
    numbers |= write_pages(tmp_path / "shared", files=30, per_file=500, overlap=125)
    (tmp_path / "b").mkdir()
    for page in (tmp_path / "a").iterdir():
        (tmp_path / "b" / page.name).write_bytes(page.read_bytes())
    created = run_cli("ingest", db_path, tmp_path / "a" / "page-000.json")
    assert created.returncode == 0, created.stderr

    reader_ready = threading.Event()
    writers_done = threading.Event()
    reader_rows: list[int] = []

    def hold_read_transaction() -> None:
        # Holds one read transaction for 10 s, and on until both ingests have ended.
        conn = sqlite3.connect(db_path, isolation_level=None)
        conn.execute("BEGIN")
        reader_rows.append(conn.execute("SELECT count(*) FROM logs").fetchone()[0])
        reader_ready.set()
        time.sleep(10)
        writers_done.wait(300)
        reader_rows.append(conn.execute("SELECT count(*) FROM logs").fetchone()[0])
        conn.execute("COMMIT")
        conn.close()

    reader = threading.Thread(target=hold_read_transaction)
    reader.start()
    assert reader_ready.wait(30)
    # The slowed-down CLI, so that each run lasts seconds and the two surely overlap.
    first = subprocess.Popen(
        [sys.executable, "-c", SLOW_INGEST, db_path, tmp_path / "a", tmp_path / "shared"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert first.stdout.readline() == "start 0\n"
    second = subprocess.Popen(
        [sys.executable, "-c", SLOW_INGEST, db_path, tmp_path / "shared", tmp_path / "b"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert second.stdout.readline() == "start 0\n"
    first_running_when_second_began = first.poll() is None
    _, first_err = first.communicate(timeout=300)
    _, second_err = second.communicate(timeout=300)
    writers_done.set()
    reader.join()

    assert first.returncode == 0, first_err
    assert second.returncode == 0, second_err
    assert "locked" not in first_err + second_err
    assert first_running_when_second_began
    # The reader's snapshot did not move while it held its transaction.
    assert reader_rows == [500, 500]
    assert query(db_path, "SELECT count(*) FROM logs") == [(len(numbers),)]
    assert query(db_path, "SELECT count(*) FROM files WHERE status = 'ingested'") == [(90,)]
    assert query(db_path, "PRAGMA integrity_check") == [("ok",)]
    # The two runs counted each new row once between them.
    assert query(db_path, "SELECT sum(entries_new) FROM runs") == [(len(numbers),)]


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
    # Each migration applied once, as on a database that one process created alone.
    open_database(tmp_path / "alone.db").close()
    assert query(db_path, "SELECT name FROM _sqlite_migrations ORDER BY id") == query(
        tmp_path / "alone.db", "SELECT name FROM _sqlite_migrations ORDER BY id"
    )


# Crash safety

# Runs the real CLI with three changes: a batch commits every few files (as it would every
# few thousand files of real size), each file starts after a short pause, and the run writes
# "start N" and "end N" lines around file N. The lines let a test kill the run at a chosen
# point, whatever the machine's load, and the pauses give the kill room to land in every
# phase: start-up, an open batch, a commit, the final update of the run row.
SLOW_INGEST = """
import sys, time
import ingest.loader as loader
from ingest.cli import cli

loader.BATCH_ENTRIES = 100
ingest_source = loader._Ingest.ingest_source
files_started = 0

def slow_ingest_source(self, source):
    global files_started
    index = files_started
    files_started += 1
    print("start", index, flush=True)
    time.sleep(0.03)
    ingest_source(self, source)
    print("end", index, flush=True)

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


def wait_for_kill_moment(process: subprocess.Popen, moment: int) -> None:
    """Return at the point of a SLOW_INGEST run where kill number `moment` of 20 lands.

    Kill 0 lands during start-up (imports, creating the database), kill 1 just before the
    first file, and kills 2 to 19 spread over the 50 files: alternately in the pause before
    a file (a batch may be open) and right after a file was stored. The last lands after the
    last file, before the final commit.
    """
    if moment == 0:
        return
    if moment == 1:
        wanted = "start 0"
    else:
        index = round((moment - 1) * 49 / (KILL_MOMENTS - 2))
        wanted = f"end {index}" if moment % 2 else f"start {index}"
    for line in process.stdout:
        if line.strip() == wanted:
            break
    if wanted.startswith("start") and moment > 1:
        time.sleep(0.015)  # Half the pause before the file.


def test_killed_ingest_resumes(tmp_path):
    pages = tmp_path / "pages"
    numbers = write_pages(pages, files=50, per_file=40, overlap=10)
    slow = [sys.executable, "-c", SLOW_INGEST]

    reference_db = tmp_path / "reference.db"
    reference_run = subprocess.run([*slow, reference_db, pages], capture_output=True, text=True)
    assert reference_run.returncode == 0, reference_run.stderr
    reference = snapshot(reference_db)
    assert len(reference["logs"]) == len(numbers)
    assert len(reference["ledger"]) == 50
    assert reference["run_totals"] == [(50, 0, 2000, len(numbers), 2000 - len(numbers), 0)]

    files_committed_at_kill = []
    for moment in range(KILL_MOMENTS):
        db_path = tmp_path / f"killed-{moment:02d}.db"
        process = subprocess.Popen([*slow, db_path, pages], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        wait_for_kill_moment(process, moment)
        process.send_signal(signal.SIGKILL)
        process.stdout.close()
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
            checked = run_cli("verify", db_path)
            assert checked.returncode == 0, checked.stdout
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
    assert len(set(files_committed_at_kill)) >= 10, files_committed_at_kill


def test_interrupted_ingest_exits_cleanly(tmp_path):
    # Ctrl-C rolls back the open batch and exits with status 1, without a traceback.
    pages = tmp_path / "pages"
    numbers = write_pages(pages, files=50, per_file=40, overlap=10)
    db_path = tmp_path / "logs.db"
    # A shell starts background jobs with SIGINT ignored, and children inherit that, so
    # restore the default that a terminal's foreground process has.
    process = subprocess.Popen([sys.executable, "-c", SLOW_INGEST, db_path, pages],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Files 0 to 8 are committed by the end of file 10, so the interrupt lands part way.
    for line in process.stdout:
        if line.strip() == "end 10":
            break
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 1
    assert stderr.strip() == "Aborted!"
    stored, expected = stored_hashes_of_ledger(db_path)
    assert stored == expected
    assert 0 < len(stored) < len(numbers)
    assert query(db_path, "SELECT finished_at FROM runs") == [(None,)]
    rerun = run_cli("ingest", db_path, pages)
    assert rerun.returncode == 0, rerun.stderr
    assert query(db_path, "SELECT count(*) FROM logs") == [(len(numbers),)]


def test_verify_during_ingest(tmp_path):
    # verify reads one snapshot, so batches that commit while it runs cannot make the
    # ledger, the runs and logs disagree.
    pages = tmp_path / "pages"
    write_pages(pages, files=200, per_file=40, overlap=10)
    db_path = tmp_path / "logs.db"
    process = subprocess.Popen([sys.executable, "-c", SLOW_INGEST, db_path, pages],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.strip() == "end 5":
            break

    results = [run_cli("verify", db_path) for _ in range(3)]
    still_running = process.poll() is None
    process.communicate(timeout=120)

    assert still_running
    assert process.returncode == 0
    for result in results:
        assert result.returncode == 0, result.stdout


def test_ingest_waits_for_writer(tmp_path):
    # Another writer holds the write lock for 5 s; the ingest waits for it, within the busy
    # timeout, instead of failing with "database is locked".
    db_path = tmp_path / "logs.db"
    numbers = write_pages(tmp_path / "pages", files=3, per_file=20)
    assert run_cli("ingest", db_path, tmp_path / "pages" / "page-000.json").returncode == 0
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE runs SET files_read = files_read WHERE id = 1")

    process = subprocess.Popen([CLAUDE_LOGS, "ingest", db_path, tmp_path / "pages"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(5)
    still_waiting = process.poll() is None
    conn.execute("COMMIT")
    conn.close()
    _, stderr = process.communicate(timeout=120)

    assert still_waiting
    assert process.returncode == 0, stderr
    assert query(db_path, "SELECT count(*) FROM logs") == [(len(numbers),)]


# Errors a user can cause

PR_CAPBSET_DROP = 24
# CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH let root ignore permission bits.
PERMISSION_CAPABILITIES = (1, 2)


def _drop_permission_capabilities() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in PERMISSION_CAPABILITIES:
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def run_cli_unprivileged(*args) -> subprocess.CompletedProcess:
    """Run the CLI so that file permission bits apply to it, even when the tests run as root.

    As root the child drops the two capabilities that bypass permission checks from its
    bounding set before exec, so the exec'd CLI has them in neither its permitted nor its
    effective set. It stays uid 0, so it can still run the interpreter installed under /root.
    If the drop fails, starting the child raises and the test fails: it is never skipped.
    """
    preexec = _drop_permission_capabilities if os.geteuid() == 0 else None
    return subprocess.run([str(CLAUDE_LOGS), *map(str, args)], capture_output=True, text=True,
                          preexec_fn=preexec)


@pytest.fixture
def page(tmp_path) -> Path:
    path = tmp_path / "page.json"
    path.write_text(json.dumps([make_entry(1), make_entry(2)]))
    return path


def test_permission_bits_apply_to_cli(tmp_path):
    # Guards the tests below: without this, they could pass for the wrong reason as root.
    secret = tmp_path / "secret.json"
    secret.write_text("[]")
    secret.chmod(0)

    result = run_cli_unprivileged("ingest", tmp_path / "logs.db", secret)

    assert "Permission denied" in result.stderr


def test_database_in_read_only_folder(tmp_path, page):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)

    result = run_cli_unprivileged("ingest", folder / "logs.db", page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {folder / 'logs.db'}: cannot write in the folder {folder} (permission denied); "
        "choose a writable folder or fix its permissions\n"
    )
    assert list(folder.iterdir()) == []


def test_existing_database_in_read_only_folder(tmp_path, page):
    folder = tmp_path / "read-only"
    folder.mkdir()
    assert run_cli("ingest", folder / "logs.db", page).returncode == 0
    folder.chmod(0o555)

    result = run_cli_unprivileged("ingest", folder / "logs.db", page)

    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: {folder / 'logs.db'}: cannot write in the folder")
    assert "Traceback" not in result.stderr


def test_read_only_database_file(tmp_path, page):
    db_path = tmp_path / "logs.db"
    assert run_cli("ingest", db_path, page).returncode == 0
    db_path.chmod(0o444)

    result = run_cli_unprivileged("ingest", db_path, page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {db_path}: cannot read and write the database file (permission denied); "
        "fix its permissions\n"
    )


def test_database_in_missing_folder(tmp_path, page):
    result = run_cli("ingest", tmp_path / "absent" / "logs.db", page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {tmp_path / 'absent' / 'logs.db'}: the folder {tmp_path / 'absent'} does not "
        "exist; create it first\n"
    )


def test_database_path_is_folder(tmp_path, page):
    result = run_cli("ingest", tmp_path, page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {tmp_path} is a folder; give the path of a database file, such as logs.db\n"
    )


def test_database_not_sqlite(tmp_path, page):
    path = tmp_path / "logs.db"
    path.write_text("id,model\n1,claude\n")

    result = run_cli("ingest", path, page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {path} is not an SQLite database; give a new path or a database that "
        "claude-logs created\n"
    )
    assert path.read_text() == "id,model\n1,claude\n"


def test_database_of_other_tool(tmp_path, page):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE logs (id INTEGER PRIMARY KEY, line TEXT)")
    conn.close()
    before = path.read_bytes()

    result = run_cli("ingest", path, page)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {path} is a database of another tool (tables: logs); give a new path or one "
        "that claude-logs created\n"
    )
    assert path.read_bytes() == before


@pytest.mark.parametrize("kind", ["zero bytes", "sqlite without tables"])
def test_empty_database_accepted(tmp_path, page, kind):
    path = tmp_path / "empty.db"
    if kind == "zero bytes":
        path.touch()
    else:
        sqlite3.connect(path).execute("PRAGMA user_version = 0").connection.close()

    result = run_cli("ingest", path, page)

    assert result.returncode == 0, result.stderr
    assert query(path, "SELECT count(*) FROM logs") == [(2,)]


def test_unreadable_input_file(tmp_path, page):
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps([make_entry(3)]))
    secret.chmod(0)
    db_path = tmp_path / "logs.db"

    result = run_cli_unprivileged("ingest", db_path, secret, page)

    assert result.returncode == 1
    assert result.stderr == f"Error: {secret}: cannot be read: Permission denied\n"
    assert "1 failed" in result.stdout
    assert query(db_path, "SELECT count(*) FROM logs") == [(2,)]
    assert query(db_path, "SELECT status FROM files WHERE path = ?", (str(secret),)) == \
        [("failed",)]


def test_unreadable_folder(tmp_path, page):
    folder = tmp_path / "pages"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "page.json").write_text(json.dumps([make_entry(3)]))
    (folder / "locked").chmod(0)
    (folder / "open.json").write_bytes(page.read_bytes())
    db_path = tmp_path / "logs.db"

    result = run_cli_unprivileged("ingest", db_path, folder)

    assert result.returncode == 1
    assert result.stderr == (
        f"Error: {folder / 'locked'}: cannot read the folder (Permission denied)\n"
    )
    assert query(db_path, "SELECT count(*) FROM logs") == [(2,)]


def test_folder_with_symlink_loop(tmp_path, page):
    folder = tmp_path / "pages"
    (folder / "a" / "b").mkdir(parents=True)
    (folder / "a" / "b" / "up").symlink_to("../..")
    (folder / "self.json").symlink_to("self.json")
    (folder / "a" / "page.json").write_bytes(page.read_bytes())
    (folder / "z.json").write_text(json.dumps([make_entry(3)]))
    db_path = tmp_path / "logs.db"

    result = run_cli("ingest", db_path, folder)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {folder / 'a' / 'b' / 'up'}: is a symlink loop (it leads back to {folder}); "
        "not followed",
        f"Error: {folder / 'self.json'}: is a symlink loop (it leads back to itself); "
        "fix or remove the link",
    ]
    assert "Traceback" not in result.stderr
    # Everything else in the folder, before and after the loops, is stored.
    assert query(db_path, "SELECT count(*) FROM logs") == [(3,)]


def test_named_symlink_loop_and_dangling_link(tmp_path, page):
    loop = tmp_path / "loop.json"
    loop.symlink_to("loop.json")
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("gone.json")

    result = run_cli("ingest", tmp_path / "logs.db", loop, dangling, page)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {loop}: is a symlink loop (it leads back to itself); fix or remove the link",
        f"Error: {dangling}: is a symlink to gone.json, which does not exist",
    ]
    assert query(tmp_path / "logs.db", "SELECT count(*) FROM logs") == [(2,)]


# Input files


def test_input_files_never_modified(tmp_path):
    folder = tmp_path / "pages"
    write_pages(folder, files=6, per_file=30, overlap=10)
    (folder / "bad.json").write_text('[{"model": "a"')
    (folder / "html.json").write_text("<!doctype html><title>Just a moment</title>")
    (folder / "copy.json").write_bytes((folder / "page-001.json").read_bytes())
    read_only = folder / "read-only.json"
    read_only.write_text(json.dumps([make_entry(500)]))
    read_only.chmod(0o444)
    # Old mtimes, so a touch during the ingest could not go unseen within a clock tick.
    for path in folder.iterdir():
        os.utime(path, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
              for path in folder.iterdir()}
    db_path = tmp_path / "logs.db"

    first = run_cli("ingest", db_path, folder)
    second = run_cli("ingest", db_path, folder)
    forced = run_cli("ingest", "--force", db_path, folder)
    verified = run_cli("verify", db_path)

    assert [first.returncode, second.returncode, forced.returncode] == [1, 1, 1]
    assert verified.returncode == 0, verified.stdout
    after = {path.name: (path.read_bytes(), path.stat().st_mtime_ns, path.stat().st_mode)
             for path in folder.iterdir()}
    assert after.keys() == before.keys()
    for name in before:
        assert after[name] == before[name], name


# Hostile input files

DEEP = "nests arrays or objects too deeply (hundreds of levels) to be read"
HOSTILE_FILES = {
    "deep-arrays.json": ("[" * 100_000 + "]" * 100_000, DEEP),
    "deep-objects.json": ("[" + '{"a":' * 5_000 + "1" + "}" * 5_000 + "]", DEEP),
    # Deeper than orjson serialises (254 levels) but within what it parses.
    "deep-value.json": ('[{"a":' + "[" * 300 + "]" * 300 + "}]", DEEP),
    "deep-value-600.json": ('[{"a":' + "[" * 600 + "]" * 600 + "}]", DEEP),
    "huge-integer.json": ('[{"a":1' + "0" * 5_000 + "}]",
                          "cannot be read: Exceeds the limit (4300 digits) for integer string "
                          "conversion: value has 5001 digits"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE_FILES))
def test_hostile_file_reported(tmp_path, page, name):
    text, reason = HOSTILE_FILES[name]
    hostile = tmp_path / name
    hostile.write_text(text)
    db_path = tmp_path / "logs.db"

    result = run_cli("ingest", db_path, hostile, page)

    assert result.returncode == 1
    assert result.stderr == f"Error: {hostile}: {reason}\n"
    assert query(db_path, "SELECT count(*) FROM logs") == [(2,)]
    assert query(db_path, "SELECT status, error FROM files WHERE path = ?", (str(hostile),)) == \
        [("failed", reason)]
