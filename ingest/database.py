"""Open the logs database and bring its schema up to date with migrations."""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils
from sqlite_utils.migrations import Migrations

from . import rollup
from .queries import create_views
from .rows import BASE_COLUMNS, DERIVED_COLUMNS, IDENTITY_COLUMNS, SOURCE_COLUMNS

# Long enough to wait out another ingest's batch commit or a Datasette query.
BUSY_TIMEOUT_MS = 60_000
# Page size of a new database, in bytes.
PAGE_SIZE = 16_384

migrations = Migrations("claude-logs")


class DatabaseError(Exception):
    """The database cannot be opened or used; the message names the path and the remedy."""


LONG_TEXT_COLUMNS = ("request", "prompt", "response", "raw")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    columns = {**IDENTITY_COLUMNS, **SOURCE_COLUMNS, **DERIVED_COLUMNS}
    # Long text goes last: SQLite stores what does not fit in a page in overflow pages, and a
    # query that reads only the short columns before it never has to load them.
    for name in LONG_TEXT_COLUMNS:
        columns[name] = columns.pop(name)
    definitions = ",\n    ".join(
        f"[{name}] {kind}" + (" PRIMARY KEY" if name == "content_hash" else "")
        for name, kind in columns.items()
    )
    db.execute(f"CREATE TABLE logs (\n    {definitions}\n)")
    db.execute("CREATE INDEX logs_started_at ON logs (started_at)")
    db.execute("CREATE INDEX logs_model_started_at ON logs (model, started_at)")
    # Errors are a few percent of requests, so a partial index stays small and cheap to keep.
    db.execute(
        "CREATE INDEX logs_error_code ON logs (error_code, started_at) "
        "WHERE error_code IS NOT NULL"
    )
    db.execute(
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            files_read INTEGER NOT NULL DEFAULT 0,
            files_skipped INTEGER NOT NULL DEFAULT 0,
            files_failed INTEGER NOT NULL DEFAULT 0,
            entries_read INTEGER NOT NULL DEFAULT 0,
            entries_new INTEGER NOT NULL DEFAULT 0,
            entries_duplicate INTEGER NOT NULL DEFAULT 0,
            entries_rejected INTEGER NOT NULL DEFAULT 0
        )
        """
    )
    db.execute(
        """
        CREATE TABLE files (
            path TEXT PRIMARY KEY,
            size INTEGER,
            mtime_ns INTEGER,
            sha256 TEXT,
            status TEXT NOT NULL CHECK (status IN ('ingested', 'failed')),
            error TEXT,
            entries_read INTEGER,
            entries_new INTEGER,
            entries_rejected INTEGER,
            run_id INTEGER REFERENCES runs (id),
            ingested_at TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX files_sha256 ON files (sha256)")


@migrations()
def m002_query_indexes_and_views(db: sqlite_utils.Database) -> None:
    # Without these, the canned queries read the whole table, which takes over a second per
    # million entries. The percentile
    # query walks (model, model_latency, started_at). The two latency rankings read
    # model_latency in order and filter on model and prompt size inside the index.
    # token_totals and error_rates group by day or hour in index order instead of sorting.
    db.execute(
        "CREATE INDEX logs_model_latency ON logs (model, model_latency, started_at)"
    )
    db.execute(
        "CREATE INDEX logs_latency ON logs (model_latency, model, prompt_token_count)"
    )
    db.execute(
        "CREATE INDEX logs_day_usage ON logs (substr(started_at, 1, 10), model, workspace_id, "
        "api_key_uuid, prompt_token_count, completion_token_count, started_at)"
    )
    db.execute(
        "CREATE INDEX logs_hour_model ON logs (substr(started_at, 1, 13), model, started_at)"
    )
    # Failed requests, with everything the error queries read. The WHERE clause must match the
    # queries' own text for SQLite to use this partial index. It replaces logs_error_code,
    # which covered only the requests that have a status code.
    db.execute(
        "CREATE INDEX logs_failed ON logs (started_at, model, error_code, error_detail) "
        "WHERE error_code IS NOT NULL OR error_detail IS NOT NULL"
    )
    db.execute("DROP INDEX IF EXISTS logs_error_code")
    # A view per canned query, with every parameter empty, for the sqlite3 shell. A later
    # change to a query's SQL needs a new migration that calls create_views again.
    create_views(db)


@migrations()
def m003_deferred_indexes(db: sqlite_utils.Database) -> None:
    # Indexes that a large ingest dropped and builds again at its end (see indexes.py).
    db.execute("CREATE TABLE deferred_indexes (name TEXT PRIMARY KEY, sql TEXT NOT NULL)")


@contextmanager
def immediate_transaction(db: sqlite_utils.Database):
    """Run a block in a transaction that takes the write lock up front.

    A deferred transaction that reads first and writes later can fail with "database is
    locked" without waiting for the busy timeout, when another writer got in between.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _is_ours(db: sqlite_utils.Database) -> bool:
    return is_claude_logs_database(db.conn)


def is_claude_logs_database(conn: sqlite3.Connection) -> bool:
    """Return whether conn's database has a `logs` table with every column claude-logs makes."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(logs)")}
    return set(BASE_COLUMNS) <= columns


def _not_read_write(path: Path) -> bool:
    return path.exists() and not os.access(path, os.R_OK | os.W_OK)


def _read_only_file_error(path: Path) -> DatabaseError:
    return DatabaseError(f"{path}: cannot read and write the database file (permission "
                         "denied); fix its permissions")


def explain_open_error(path: Path, error: sqlite3.DatabaseError) -> DatabaseError:
    """Explain an error from opening or setting up the database in terms of the path."""
    folder = path.parent
    if not folder.is_dir():
        return DatabaseError(f"{path}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK | os.X_OK):
        # SQLite keeps its -wal and -shm files next to the database, so even an existing
        # database needs a writable folder.
        return DatabaseError(
            f"{path}: cannot write in the folder {folder} (permission denied); "
            "choose a writable folder or fix its permissions"
        )
    if _not_read_write(path):
        return _read_only_file_error(path)
    if str(error) == "file is not a database":
        return DatabaseError(f"{path} is not an SQLite database; give a new path or a "
                             "database that claude-logs created")
    return DatabaseError(f"{path}: {error}")


def open_database(path: str | Path) -> sqlite_utils.Database:
    """Open (creating if needed) a logs database, in WAL mode, with every migration applied.

    Raises DatabaseError for a path that is a folder, a file that is not SQLite, or a
    database that another tool made (it has tables but not ours).
    """
    path = Path(path)
    if path.is_dir():
        raise DatabaseError(f"{path} is a folder; give the path of a database file, such as logs.db")
    if _not_read_write(path):
        # SQLite would open it read-only and fail only at the first write.
        raise _read_only_file_error(path)
    try:
        conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        db = sqlite_utils.Database(conn)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        tables = db.table_names()
        if tables and not _is_ours(db) and not migrations.applied(db):
            raise DatabaseError(
                f"{path} is a database of another tool (tables: {', '.join(tables[:5])}); "
                "give a new path or one that claude-logs created"
            )
        if not tables:
            # Only possible before the first write, because WAL mode fixes it. A row is about
            # 1 KB, and with 16 KiB pages the ingest reads and writes fewer pages: in one
            # measurement of a million entries the writer used about 12% less CPU.
            db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        if db.journal_mode != "wal":
            db.enable_wal()
        if migrations.pending(db):
            # Two processes opening a new database at once must not both apply a migration, so
            # the write lock comes first. Migrations.apply checks what is pending again under it.
            with immediate_transaction(db):
                migrations.apply(db)
    except sqlite3.DatabaseError as error:
        # sqlite3.OperationalError ("unable to open") and "file is not a database" both land here.
        raise explain_open_error(path, error) from None
    return db


@migrations()
def m004_daily_rollup(db: sqlite_utils.Database) -> None:
    # The rollup that the dashboard's counting charts read; ingest/rollup.py keeps it current.
    for statement in rollup.CREATE_SQL:
        db.execute(statement)
    rollup.add_new_entries(db.conn)
    # The dashboard's per-day percentiles read each (model, day) group in latency order from
    # this index. workspace_id and started_at make it covering, so neither the workspace filter
    # nor the day expression reads the table row of every entry (docs/benchmarks.md, "Dashboard queries on one million entries").
    db.execute(
        "CREATE INDEX logs_model_day_latency ON logs "
        "(model, substr(started_at, 1, 10), model_latency, workspace_id, started_at) "
        "WHERE model_latency IS NOT NULL"
    )
